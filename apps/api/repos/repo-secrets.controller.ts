// GET /repos/{repo}/secrets: the secrets a repository's tasks get, by name and scope only (where
// each may go: `setup`, `mcp:<server>`). No value ever leaves the worker's configuration.
import { Controller, Get, Inject, Param } from '@nestjs/common';
import { z } from 'zod';
import type { Config } from '../../config.js';
import type { Forge } from '../../../lib/forge/forge.js';
import { secretListing } from '../../../lib/secrets/secrets.js';
import { Answers } from '../openapi/document.js';
import { badRequest, ZodPipe } from '../tasks/task-request.js';
import { CONFIG, FORGE } from '../tokens.js';

const RepoParam = z.string().trim().min(1, 'the repository, URL-encoded (acme%2Fapi)').max(500);

const RepoSecrets = z
  .object({
    repo: z.string(),
    secrets: z.array(z.object({ name: z.string(), scopes: z.array(z.string()), repos: z.array(z.string()).optional() })),
  })
  .meta({ id: 'RepoSecrets' });

@Controller('repos')
export class RepoSecretsController {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(FORGE) private readonly forge: Forge,
  ) {}

  @Get(':repo/secrets')
  @Answers({ scope: 'tasks:read', repoFrom: ['path'], summary: "The secrets a repository's tasks get: names and scopes, never values", ok: { description: 'the secrets', schema: RepoSecrets } })
  async list(@Param('repo', new ZodPipe(RepoParam, 'repo')) repo: string) {
    const resolved = await this.forge.resolveRepository(repo);
    if ('field' in resolved) throw badRequest([{ field: 'repo', message: resolved.message }]);
    return { repo: resolved.repo, secrets: secretListing(this.config.scopedSecrets, resolved.repo) };
  }
}
