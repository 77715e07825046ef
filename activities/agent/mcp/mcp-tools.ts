// MCP servers' tools as records of the registry. Found once per task, at its first model call:
// each allowed server is started and asked for its tools, which are filtered by the allowlist,
// named `server__tool`, and bounded (a server's descriptions are untrusted text the model reads:
// a prompt-injection vector, so they are cut short and shown in the task's events). What was
// found is kept in the store, so every worker offers the task the same tools. A server that
// fails to start is left out with an event; one that fails or hangs in a call is a tool error.
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { MCP_CALL_SECONDS } from '../../../workflows/tool-calls.js';
import type { ToolEnv, ToolRecord, ToolResult } from '../tools/registry.js';
import type { McpConnections } from './connections.js';
import { serversFor, TOOL_SEPARATOR, type McpConfig, type McpServer } from './servers.js';

const MAX_DESCRIPTION_CHARS = 1_000;
const MAX_SCHEMA_BYTES = 8_000;

/** One tool a task's MCP server offers, as kept in the store (no secret: the server is found by name). */
export interface FoundTool {
  name: string;
  server: string;
  tool: string;
  description: string;
  parameters: Record<string, unknown>;
  readOnly: boolean;
}

export interface FoundTools {
  tools: FoundTool[];
  servers: { name: string; ready: boolean; why?: string; tools?: string[] }[];
  /** What the repository asked for and was refused, in words. */
  refused: string[];
}

export async function findTools(connections: McpConnections, config: McpConfig, taskId: string, repo: string, repoFile: string | undefined): Promise<FoundTools> {
  const { servers, refused } = serversFor(config, repo, repoFile);
  const found: FoundTools = { tools: [], servers: [], refused };
  await Promise.all(
    Object.entries(servers).map(async ([name, server]) => {
      try {
        const client = await connections.client(taskId, repo, name, server);
        const listed = await client.listTools(undefined, { timeout: 15_000 });
        const offered = listed.tools.filter((t) => server.tools.includes(t.name));
        found.tools.push(...offered.map((t) => foundTool(name, server, t)));
        const missing = server.tools.filter((t) => !offered.some((o) => o.name === t));
        found.servers.push({ name, ready: true, tools: offered.map((t) => t.name), ...(missing.length && { why: `does not offer ${missing.join(', ')}` }) });
      } catch (err) {
        await connections.drop(taskId, name);
        found.servers.push({ name, ready: false, why: (err as Error).message });
      }
    }),
  );
  found.tools.sort((a, b) => (a.name < b.name ? -1 : 1));
  found.servers.sort((a, b) => (a.name < b.name ? -1 : 1));
  return found;
}

function foundTool(server: string, config: McpServer, t: Tool): FoundTool {
  const schema = t.inputSchema as Record<string, unknown>;
  const parameters = JSON.stringify(schema).length <= MAX_SCHEMA_BYTES ? schema : { type: 'object', additionalProperties: true };
  return {
    name: `${server}${TOOL_SEPARATOR}${t.name}`,
    server,
    tool: t.name,
    // Control characters (terminal escapes, invisible text) never reach the model or a screen.
    description: `[MCP server ${server}] ${(t.description ?? t.title ?? '').replace(/[\p{Cc}\p{Cf}]+/gu, ' ').slice(0, MAX_DESCRIPTION_CHARS)}`,
    parameters,
    readOnly: config.readOnlyTools ? config.readOnlyTools.includes(t.name) : t.annotations?.readOnlyHint === true,
  };
}

export interface McpCallContext {
  connections: McpConnections;
  config: McpConfig;
  repo: string;
  /** Recorded before each call (which server, which tool, which task). */
  audit(taskId: string, tool: FoundTool): Promise<void>;
}

/** The registry's records for what was found; each runs through the worker's connection. */
export function mcpRecords(found: FoundTool[], ctx: McpCallContext): ToolRecord[] {
  return found.map((f) => ({
    name: f.name,
    description: f.description,
    parameters: f.parameters,
    args: argumentsOf(f.parameters),
    modes: f.readOnly ? ['plan', 'work'] : ['work'],
    readOnly: f.readOnly,
    atMostOnce: !f.readOnly,
    source: `mcp:${f.server}`,
    run: ((args: Record<string, unknown>, env: ToolEnv) => callTool(f, args, env, ctx)) as ToolRecord['run'],
  }));
}

async function callTool(f: FoundTool, args: Record<string, unknown>, env: ToolEnv, ctx: McpCallContext): Promise<ToolResult> {
  const server = serversFor(ctx.config, ctx.repo).servers[f.server];
  if (!server) return { content: `error: the MCP server ${f.server} is no longer configured; do without ${f.name}`, isError: true };
  await ctx.audit(env.taskId, f);
  const outcome = f.readOnly ? 'the call failed' : 'its outcome is unknown: it may or may not have taken effect; it was not made again';
  let client;
  try {
    client = await ctx.connections.client(env.taskId, ctx.repo, f.server, server);
  } catch (err) {
    await ctx.connections.drop(env.taskId, f.server);
    return { content: `error: the MCP server ${f.server} did not start (${(err as Error).message}); do without ${f.name} or try again later`, isError: true };
  }
  try {
    const r = (await client.callTool({ name: f.tool, arguments: args }, undefined, { signal: env.signal, timeout: MCP_CALL_SECONDS * 1000 })) as CallToolResult;
    return { content: resultText(r), isError: r.isError === true };
  } catch (err) {
    if (env.signal.aborted) throw err;
    // A server that crashed or hangs: this connection is done; the next call starts it anew.
    const stderr = await ctx.connections.stderrOf(env.taskId, f.server);
    await ctx.connections.drop(env.taskId, f.server);
    return { content: `error: ${f.name} did not answer (${(err as Error).message}${stderr ? `; the server's stderr ends: ${stderr.slice(-300)}` : ''}); ${outcome}`, isError: true };
  }
}

/** A tool result as text for the model: text as is, anything else described. */
export function resultText(r: CallToolResult): string {
  const parts = (r.content ?? []).map((c) => {
    switch (c.type) {
      case 'text':
        return c.text;
      case 'image':
      case 'audio':
        return `[${c.type} ${c.mimeType}, ${Math.round((c.data.length * 3) / 4)} bytes, not shown]`;
      case 'resource':
        return 'text' in c.resource ? c.resource.text : `[resource ${c.resource.uri}, binary, not shown]`;
      case 'resource_link':
        return `[resource ${c.uri}${c.name ? ` (${c.name})` : ''}]`;
      default:
        return '[content of an unknown type]';
    }
  });
  if (!parts.length && r.structuredContent) parts.push(JSON.stringify(r.structuredContent));
  return parts.join('\n') || '(no content)';
}

/** A validator from the tool's JSON Schema; a schema zod cannot read checks only for an object. */
function argumentsOf(schema: Record<string, unknown>): z.ZodType {
  try {
    return z.fromJSONSchema(schema as never);
  } catch {
    return z.record(z.string(), z.unknown());
  }
}
