// What Errand keeps per repository, by the repository's name (URL-encoded in the path):
// GET /repos/{repo}/secrets, the secrets its tasks get, by name and scope only (where each may
// go: `setup`, `mcp:<server>`), never a value; GET and DELETE /repos/{repo}/environment, its
// environments kept after setup (age, size, what they were made from, hits and misses), and
// removing them so the next task runs its setup and keeps a new one.
import { Controller, Delete, Get, HttpCode, Inject, Param } from '@nestjs/common';
import { z } from 'zod';
import type { Config } from '../../config.js';
import type { Forge } from '../../../lib/forge/forge.js';
import { secretListing } from '../../../lib/secrets/secrets.js';
import { EnvironmentStore } from '../../../lib/environments/environment-store.js';
import { repoFolder } from '../../../lib/environments/environment-key.js';
import type { Storage } from '../../../lib/storage/storage.js';
import { Answers } from '../openapi/document.js';
import { badRequest, ZodPipe } from '../tasks/task-request.js';
import { Caller } from '../auth/api-token.guard.js';
import { CONFIG, FORGE, STORAGE } from '../tokens.js';

const RepoParam = z.string().trim().min(1, 'the repository, URL-encoded (acme%2Fapi)').max(500);

const RepoSecrets = z
  .object({
    repo: z.string(),
    secrets: z.array(z.object({ name: z.string(), scopes: z.array(z.string()), repos: z.array(z.string()).optional() })),
  })
  .meta({ id: 'RepoSecrets' });

const Snapshot = z.object({
  key: z.string(),
  baseBranch: z.string(),
  baseSha: z.string(),
  inputs: z.object({ setup: z.string(), files: z.array(z.object({ path: z.string(), blob: z.string() })), patterns: z.array(z.string()), image: z.string(), setupNetwork: z.boolean(), format: z.number() }),
  bytes: z.number(),
  sha256: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  lastUsedAt: z.string(),
});
const RepoEnvironment = z
  .object({
    repo: z.string(),
    enabled: z.boolean(),
    snapshots: z.array(Snapshot),
    hits: z.number(),
    misses: z.number(),
    recent: z.array(z.object({ at: z.string(), kind: z.string(), key: z.string().optional(), taskId: z.string().optional(), why: z.string().optional() }).loose()),
  })
  .meta({ id: 'RepoEnvironment' });

@Controller('repos')
export class ReposController {
  private readonly environments: EnvironmentStore;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(FORGE) private readonly forge: Forge,
    @Inject(STORAGE) storage: Storage,
  ) {
    this.environments = new EnvironmentStore(storage, config.environmentCache);
  }

  @Get(':repo/secrets')
  @Answers({ scope: 'tasks:read', repoFrom: ['path'], summary: "The secrets a repository's tasks get: names and scopes, never values", ok: { description: 'the secrets', schema: RepoSecrets } })
  async secrets(@Param('repo', new ZodPipe(RepoParam, 'repo')) repo: string) {
    const resolved = await this.resolve(repo);
    return { repo: resolved, secrets: secretListing(this.config.scopedSecrets, resolved) };
  }

  @Get(':repo/environment')
  @Answers({ scope: 'tasks:read', repoFrom: ['path'], summary: "The repository's environments kept after setup: age, size, inputs, hits and misses", ok: { description: 'the environments', schema: RepoEnvironment } })
  async environment(@Param('repo', new ZodPipe(RepoParam, 'repo')) repo: string) {
    const resolved = await this.resolve(repo);
    const { snapshots, ...rest } = await this.environments.describe(repoFolder(resolved), resolved);
    return { ...rest, enabled: this.config.environmentCache !== undefined, snapshots: snapshots.map(({ repo: _, ...s }) => s) };
  }

  @Delete(':repo/environment')
  @HttpCode(200)
  @Answers({
    audit: 'environment.invalidate',
    scope: 'tasks:write',
    repoFrom: ['path'],
    summary: 'Remove the kept environments: the next task runs its setup and keeps a new one',
    ok: { description: 'removed', schema: z.object({ repo: z.string(), removed: z.number() }) },
  })
  async invalidate(@Param('repo', new ZodPipe(RepoParam, 'repo')) repo: string, @Caller() caller: string | undefined) {
    const resolved = await this.resolve(repo);
    return { repo: resolved, removed: await this.environments.invalidate(repoFolder(resolved), caller ?? 'anonymous') };
  }

  /** The repository as the forge names it (what tasks record); a 400 naming what is wrong otherwise. */
  private async resolve(repo: string): Promise<string> {
    const resolved = await this.forge.resolveRepository(repo);
    if ('field' in resolved) throw badRequest([{ field: 'repo', message: resolved.message }]);
    return resolved.repo;
  }
}
