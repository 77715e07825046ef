// The CLI's side of the REST API: one way to call it, print what it answers, and say what went
// wrong; the commands (task-commands.ts, schedule-commands.ts) hold no HTTP of their own.
import { InvalidArgumentError, type Command } from 'commander';

export interface Options {
  api: string;
  token?: string;
}

export class ApiError extends Error {}

export async function call(opts: Options, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${opts.api.replace(/\/$/, '')}${route}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...authorization(opts), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(`cannot reach the Errand API at ${opts.api} (${(err as Error).message}); start it (npm start) or set --api / ERRAND_API_URL`);
  }
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as { detail?: unknown }) : {};
  // Errors are problem details (RFC 9457): `detail` says what went wrong and what to do.
  const detail = typeof parsed.detail === 'string' ? parsed.detail : text;
  // The API's words are for any client; what to do about it in this one is ours to say.
  if (res.status === 401) throw new ApiError(`401: ${detail} ${opts.token ? 'The token given was refused: check --token / ERRAND_API_TOKEN.' : 'Give one with --token <token> or ERRAND_API_TOKEN.'}`);
  if (!res.ok) throw new ApiError(`${res.status}: ${detail}`);
  return parsed;
}

export const authorization = (opts: Options): Record<string, string> => (opts.token ? { authorization: `Bearer ${opts.token}` } : {});
export const print = (value: unknown) => console.log(JSON.stringify(value, null, 2));
/** A number for the API, which says what range it takes. */
export const number = (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${value} is not a number`);
  return n;
};


/** `--param name=value`, repeatable: the value as JSON when it is (3, true, ["a"]), else as text. */
export function collectParam(pair: string, params: Record<string, unknown> = {}): Record<string, unknown> {
  const at = pair.indexOf('=');
  if (at < 1) throw new InvalidArgumentError(`${pair} is not name=value`);
  const raw = pair.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // text, as typed
  }
  return { ...params, [pair.slice(0, at)]: value };
}

/** The options every API command takes, on `command`; returns how to read them. */
export function apiOptions(command: Command): () => Options {
  command
    .option('--api <url>', 'the Errand API', process.env.ERRAND_API_URL ?? 'http://127.0.0.1:3000')
    .option('--token <token>', 'an API token (ERRAND_API_TOKEN), when the API asks for one', process.env.ERRAND_API_TOKEN);
  return () => command.opts<Options>();
}

/** Runs a command's action; what fails is printed as `errand: <why>` with exit code 1. */
export const guarded =
  (action: (...args: any[]) => Promise<unknown>) =>
  async (...args: any[]): Promise<void> => {
    try {
      await action(...args);
    } catch (err) {
      console.error(`errand: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  };

/** The flags of the task fields (taskFields in the API) that tasks and schedules' runs both take, on `command`. */
export function taskFieldFlags(command: Command): Command {
  return command
    .option('--base-branch <name>', "the branch to start from (default: the repository's default)")
    .option('--param <name=value>', "a playbook parameter, repeatable; JSON values (3, true, '[\"a\"]') are typed", collectParam)
    .option('--test-command <cmd>', 'how to run the tests (default: detected)')
    .option('--setup-script <script>', "run before the agent starts, instead of the repository's .errand/setup.sh")
    .option('--network <policy>', 'off | setup | on')
    .option('--max-steps <n>', 'step budget', number)
    .option('--max-tokens <n>', 'token budget', number)
    .option('--max-cost-usd <dollars>', 'cost budget', number)
    .option('--max-wall-clock-minutes <minutes>', 'time budget', number)
    .option('--max-review-rounds <n>', 'rounds of changes requested by the review agent', number)
    .option('--allowed-paths <glob...>', 'the paths the change may touch (globs)')
    .option('--sandbox-image <image>', 'the sandbox image (Kubernetes)')
    .option('--requester <who>', 'who asked; "Name <email>" co-authors the commit');
}

/** Flags to a request body: `--param` makes `params`. */
export const bodyOf = ({ param, ...rest }: Record<string, unknown>): Record<string, unknown> => ({ ...rest, ...(param ? { params: param } : {}) });
