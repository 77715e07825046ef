// Which MCP servers a task may use. The operator configures them for the whole installation and
// per repository, in the form people already write (`mcpServers`: `type` stdio/local or http,
// `command`/`args` or `url`, `env`/`headers` that may name secrets as `${NAME}`, and a required
// `tools` allowlist). A repository's `.errand/mcp.json` (read at the base commit, so never the
// agent's) may only name servers the operator allows for it and narrow their tools: anything
// else it says is ignored, with an event. Pure: parsing and narrowing only.
import { z } from 'zod';

export const SERVER_NAME = /^[A-Za-z0-9_-]{1,32}$/;
/** `server__tool`: how a server's tool reaches the model (OpenAI allows 64 characters of [A-Za-z0-9_-]). */
export const TOOL_SEPARATOR = '__';
const ToolName = z.string().regex(/^[A-Za-z0-9_-]{1,30}$/, 'a tool name is 1-30 letters, digits, _ or -');

const Common = {
  /** The tools the model may see and call: required, so a server's new tool is never offered unasked. */
  tools: z.array(ToolName).min(1),
  /**
   * The tools taken to change nothing. Absent: what each tool declares (its readOnlyHint). A tool
   * not taken as read-only is called at most once per step.
   */
  readOnlyTools: z.array(ToolName).optional(),
};

const StdioServer = z.strictObject({
  type: z.enum(['stdio', 'local']).default('stdio'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  /** Its environment, besides PATH and HOME (its own directory); values may name secrets, and `${HOME}`. */
  env: z.record(z.string(), z.string()).default({}),
  /** Whether it may reach the network (default yes: most servers are clients of an API). */
  network: z.boolean().default(true),
  ...Common,
});

const HttpServer = z.strictObject({
  type: z.enum(['http', 'streamable-http', 'sse']),
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
  ...Common,
});

/** A server with a `url` is remote, any other runs a command; each is checked as what it is, so errors name its own fields. */
export const McpServer = z.unknown().transform((value, ctx): z.output<typeof HttpServer> | z.output<typeof StdioServer> => {
  const remote = typeof value === 'object' && value !== null && ('url' in value || ['http', 'streamable-http', 'sse'].includes((value as { type?: string }).type ?? ''));
  const parsed = (remote ? HttpServer : StdioServer).safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: 'custom', message: issue.message } as never);
  return z.NEVER;
});
export type McpServer = z.output<typeof McpServer>;
const Servers = z.record(z.string().regex(SERVER_NAME, 'a server name is 1-32 letters, digits, _ or -'), McpServer);

/** The operator's file (ERRAND_MCP_CONFIG). */
export const McpConfig = z.strictObject({
  mcpServers: Servers.default({}),
  /** Servers only some repositories get, by repository (`owner/name`). */
  repos: z.record(z.string().min(1), z.strictObject({ mcpServers: Servers })).default({}),
});
export type McpConfig = z.output<typeof McpConfig>;

/** A repository's `.errand/mcp.json`: which of the allowed servers, and fewer of their tools. */
const RepoFile = z.object({ mcpServers: z.record(z.string(), z.object({ tools: z.array(z.string()).optional() }).loose()) });

export interface RepoServers {
  servers: Record<string, McpServer>;
  /** What the repository asked for and did not get, in words, for the task's events. */
  refused: string[];
}

/** The servers a task on `repo` gets: the operator's, narrowed by the repository's file when it has one. */
export function serversFor(config: McpConfig, repo: string, repoFile?: string): RepoServers {
  const repoKey = Object.keys(config.repos).find((r) => r.toLowerCase() === repo.toLowerCase());
  const allowed: Record<string, McpServer> = { ...config.mcpServers, ...(repoKey ? config.repos[repoKey]!.mcpServers : {}) };
  if (repoFile === undefined) return { servers: allowed, refused: [] };
  let asked: z.output<typeof RepoFile>;
  try {
    asked = RepoFile.parse(JSON.parse(repoFile));
  } catch (err) {
    return { servers: {}, refused: [`.errand/mcp.json is not valid (${err instanceof z.ZodError ? z.prettifyError(err) : (err as Error).message}); no MCP server is used`] };
  }
  const servers: Record<string, McpServer> = {};
  const refused: string[] = [];
  for (const [name, wish] of Object.entries(asked.mcpServers)) {
    const server = Object.hasOwn(allowed, name) ? allowed[name] : undefined;
    if (!server) {
      refused.push(`.errand/mcp.json names the server "${name}", which the operator does not allow for ${repo}`);
      continue;
    }
    const ignored = Object.keys(wish).filter((k) => k !== 'tools');
    if (ignored.length) refused.push(`.errand/mcp.json: for "${name}" only \`tools\` can be narrowed; ${ignored.join(', ')} ignored`);
    const wider = (wish.tools ?? []).filter((t) => !server.tools.includes(t));
    if (wider.length) refused.push(`.errand/mcp.json asks "${name}" for ${wider.join(', ')}, beyond what the operator allows; ignored`);
    const tools = wish.tools ? server.tools.filter((t) => wish.tools!.includes(t)) : server.tools;
    if (tools.length) servers[name] = { ...server, tools };
  }
  return { servers, refused };
}
