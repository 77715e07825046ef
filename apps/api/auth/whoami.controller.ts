// GET /whoami: the token's name, scopes and repositories, so a client (the web console) shows
// only what its caller may do. Any known token may ask; a server without tokens answers that
// anyone may do anything.
import { Controller, Get } from '@nestjs/common';
import { z } from 'zod';
import { Answers } from '../openapi/document.js';
import { SCOPES, type ApiToken } from './api-tokens.js';
import { CallerToken } from './api-token.guard.js';

const Whoami = z
  .object({
    name: z.string().optional().meta({ description: "the token's name, recorded as who acts; absent on a server without tokens" }),
    scopes: z.array(z.enum(SCOPES)),
    repos: z.array(z.string()).optional().meta({ description: 'the repositories it may act on (globs); absent: all' }),
    tokens: z.boolean().meta({ description: 'whether this server asks for tokens' }),
  })
  .meta({ id: 'Whoami' });

@Controller('whoami')
export class WhoamiController {
  @Get()
  @Answers({ scope: 'any', repoFrom: ['none'], summary: 'Who the token is and what it may do', ok: { description: 'the caller', schema: Whoami } })
  whoami(@CallerToken() token: ApiToken | undefined): z.infer<typeof Whoami> {
    if (!token) return { scopes: [...SCOPES], tokens: false };
    return { name: token.name, scopes: token.scopes, ...(token.repos && { repos: token.repos }), tokens: true };
  }
}
