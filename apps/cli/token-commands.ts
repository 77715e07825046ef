// `errand token create`: a new API token, printed once, and the entry for the tokens file
// (ERRAND_API_TOKENS_FILE) that holds only its SHA-256. Made here, on the operator's machine:
// the server never sees a token until a caller sends it.
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { hashToken, newToken, SCOPES, type Scope } from '../api/auth/api-tokens.js';

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('API tokens: named, scoped, stored hashed (ERRAND_API_TOKENS_FILE)');
  token
    .command('create')
    .description('make a token; prints it once, and the entry to add to the tokens file')
    .requiredOption('--name <name>', 'who uses it: recorded as the requester and as who paused, cancelled, approved')
    .requiredOption('--scopes <list>', `comma-separated: ${SCOPES.join(', ')} (admin may do all)`)
    .option('--repos <globs>', 'comma-separated globs of the repositories it may act on, as the forge names them (acme/*); default: all')
    .action((opts: { name: string; scopes: string; repos?: string }) => {
      const scopes = opts.scopes.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (unknown.length || !scopes.length) {
        console.error(`errand: scopes are ${SCOPES.join(', ')}${unknown.length ? ` (not ${unknown.join(', ')})` : ''}`);
        process.exit(2);
      }
      const repos = opts.repos?.split(',').map((s) => s.trim()).filter(Boolean);
      if (repos && (!repos.length || scopes.includes('admin'))) {
        console.error(`errand: --repos ${repos.length ? 'cannot limit admin, which may do anything anywhere; give the scopes it needs' : 'needs at least one glob'}`);
        process.exit(2);
      }
      const value = newToken();
      console.error('The token (shown only now; give it to its user, who sends it as Authorization: Bearer <token>):');
      console.log(value);
      console.error('\nAdd this entry under `tokens:` in the file ERRAND_API_TOKENS_FILE names (it holds no token, only its hash), then restart the API:');
      console.error(stringify([{ name: opts.name, sha256: hashToken(value), scopes: scopes as Scope[], ...(repos && { repos }) }], { flow: false }));
    });
}
