// GET /playbooks?repo=: what a repository can run, the built-in playbooks and its own, with the
// files of its own that cannot be run and why. Thin: validate, ask the catalog.
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { z } from 'zod';
import type { Forge } from '../../../lib/forge/forge.js';
import { playbooksFor } from '../../../lib/playbooks/catalog.js';
import { badRequest, ZodPipe } from '../tasks/task-request.js';
import { FORGE } from '../tokens.js';
import { Answers } from '../openapi/document.js';
import { Playbooks } from '../openapi/responses.js';

const PlaybooksQuery = z.strictObject({
  repo: z.string({ error: 'required: the repository whose playbooks to list' }).trim().min(1, 'required: the repository whose playbooks to list'),
  baseBranch: z.string().trim().regex(/^(?!-)[A-Za-z0-9._/-]+$/, 'must be a branch name (letters, digits, . _ / -)').optional(),
});
type PlaybooksQuery = z.infer<typeof PlaybooksQuery>;

@Controller('playbooks')
export class PlaybooksController {
  constructor(@Inject(FORGE) private readonly forge: Forge) {}

  @Get()
  @Answers({ scope: 'tasks:read', repoFrom: ['query'], summary: 'What a repository can run: built-in playbooks and its own, and those that cannot run', ok: { description: 'the playbooks', schema: Playbooks } })
  async list(@Query(new ZodPipe(PlaybooksQuery, 'query')) query: PlaybooksQuery) {
    const resolved = await this.forge.resolveRepository(query.repo, query.baseBranch);
    if ('field' in resolved) throw badRequest([{ field: resolved.field, message: resolved.message }]);
    const { playbooks, broken } = await playbooksFor(this.forge, resolved.repo, resolved.baseBranch);
    return {
      repo: resolved.repo,
      playbooks,
      broken,
    };
  }
}
