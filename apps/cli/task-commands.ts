// `errand task ...`: tasks from a shell, through the REST API (which speaks Temporal: updates
// for messages and approval, signals for pause and resume, cancellation). One place holds the
// rules (the API); the CLI prints what it answers and exits non-zero when it refuses.
import { InvalidArgumentError, type Command } from 'commander';
import { parseServerSentEvents } from './server-sent-events.js';

interface Options {
  api: string;
  token?: string;
}

class ApiError extends Error {}

async function call(opts: Options, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
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
  const parsed = text ? (JSON.parse(text) as { message?: unknown }) : {};
  if (!res.ok) throw new ApiError(`${res.status}: ${typeof parsed.message === 'string' ? parsed.message : text}`);
  return parsed;
}

const authorization = (opts: Options): Record<string, string> => (opts.token ? { authorization: `Bearer ${opts.token}` } : {});
const print = (value: unknown) => console.log(JSON.stringify(value, null, 2));
/** A number for the API, which says what range it takes. */
const number = (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${value} is not a number`);
  return n;
};

export function registerTaskCommands(program: Command): void {
  const task = program
    .command('task')
    .description('create, inspect and control tasks through the API')
    .option('--api <url>', 'the Errand API', process.env.ERRAND_API_URL ?? 'http://127.0.0.1:3000')
    .option('--token <token>', 'an API token (ERRAND_API_TOKEN), when the API asks for one', process.env.ERRAND_API_TOKEN);
  const opts = () => task.opts<Options>();
  const run = (action: (...args: any[]) => Promise<unknown>) => async (...args: any[]) => {
    try {
      await action(...args);
    } catch (err) {
      console.error(`errand: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  };

  task
    .command('create')
    .description('start a task (every field of POST /tasks has a flag; the API checks the values)')
    .requiredOption('--repo <url>', 'git URL or absolute path')
    .requiredOption('--prompt <text>', 'what to change')
    .option('--base-branch <name>', "the branch to start from (default: the repository's default)")
    .option('--test-command <cmd>', 'how to run the tests (default: detected)')
    .option('--setup-script <script>', "run before the agent starts, instead of the repository's .errand/setup.sh")
    .option('--network <policy>', 'off | setup | on')
    .option('--max-steps <n>', 'step budget', number)
    .option('--max-tokens <n>', 'token budget', number)
    .option('--max-cost-usd <dollars>', 'cost budget', number)
    .option('--max-wall-clock-minutes <minutes>', 'time budget', number)
    .option('--max-review-rounds <n>', 'rounds of changes requested by the review agent', number)
    .option('--await-feedback-minutes <minutes>', 'after the PR is out, wait this long for feedback', number)
    .option('--allowed-paths <glob...>', 'the paths the change may touch (globs)')
    .option('--sandbox-image <image>', 'the sandbox image (Kubernetes)')
    .option('--require-plan-approval', 'write a plan and wait for approval first')
    .option('--requester <who>', 'who asked; "Name <email>" co-authors the commit')
    .option('--idempotency-key <key>', 'retry safely: the same key returns the same task')
    .action(
      run(async (o: Record<string, unknown>) => {
        const { idempotencyKey, ...body } = o;
        print(await call(opts(), 'POST', '/tasks', body, idempotencyKey ? { 'idempotency-key': String(idempotencyKey) } : {}));
      }),
    );

  task.command('show <id>').description('live state of a task').action(run(async (id: string) => print(await call(opts(), 'GET', `/tasks/${id}`))));
  task
    .command('list')
    .option('--repo <url>')
    .option('--status <status>')
    .action(
      run(async (o: { repo?: string; status?: string }) => {
        const query = new URLSearchParams(Object.entries(o).filter(([, v]) => v !== undefined) as [string, string][]);
        print(await call(opts(), 'GET', `/tasks${query.size ? `?${query}` : ''}`));
      }),
    );
  task
    .command('message <id> <text...>')
    .description('steer a running task; returns once the task accepted the message')
    .option('--from <who>')
    .action(run(async (id: string, words: string[], o: { from?: string }) => print(await call(opts(), 'POST', `/tasks/${id}/messages`, { text: words.join(' '), from: o.from }))));
  for (const [name, description] of [
    ['pause', 'stop between steps, keeping the sandbox'],
    ['resume', 'go on after a pause'],
    ['cancel', 'cancel: the branch keeps the work so far, the sandbox is destroyed'],
    ['approve', 'approve the plan of a task awaiting approval'],
  ] as const) {
    task
      .command(`${name} <id>`)
      .description(description)
      .option('--by <who>')
      .action(run(async (id: string, o: { by?: string }) => print(await call(opts(), 'POST', `/tasks/${id}/${name}`, { by: o.by }))));
  }
  task.command('transcript <id>').description('the whole conversation').action(run(async (id: string) => print(await call(opts(), 'GET', `/tasks/${id}/transcript`))));
  task
    .command('events <id>')
    .description('follow the event stream until the task ends (one JSON line per event)')
    .action(
      run(async (id: string) => {
        const res = await fetch(`${opts().api.replace(/\/$/, '')}/tasks/${id}/events`, { headers: authorization(opts()) }).catch((err: Error) => {
          throw new ApiError(`cannot reach the Errand API at ${opts().api} (${err.message})`);
        });
        if (!res.ok || !res.body) throw new ApiError(`${res.status}: ${((await res.json()) as { message?: string }).message}`);
        for await (const message of parseServerSentEvents(res.body as unknown as AsyncIterable<Uint8Array>)) console.log(message.data);
      }),
    );
}
