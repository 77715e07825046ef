// The wire contract of sandboxd, the HTTP service inside every sandbox. Shared by the server
// (apps/sandboxd) and the client the activities use, so the two cannot drift apart.
import { z } from 'zod';

export const ExecRequest = z.strictObject({
  cmd: z.string().min(1),
  /** Relative to the workspace root. */
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).optional(),
  timeoutMs: z.number().int().positive().max(3_600_000).default(120_000),
  maxOutputBytes: z.number().int().positive().max(10_000_000).default(64_000),
  /** Overrides the sandbox's network policy for this command (the setup script's, under `setup`). */
  network: z.boolean().optional(),
});
export type ExecRequest = z.input<typeof ExecRequest>;

export interface ExecResponse {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
}

export const ReadFileRequest = z.strictObject({
  path: z.string().min(1),
  maxBytes: z.number().int().positive().max(10_000_000).default(256_000),
  /** Where to start reading, for files read in chunks (a git bundle, say). */
  offset: z.number().int().nonnegative().default(0),
  /** `base64` for binary files. */
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
});
export type ReadFileRequest = z.input<typeof ReadFileRequest>;
export interface ReadFileResponse {
  content: string;
  size: number;
  /** More of the file follows what was returned. */
  truncated: boolean;
}

export const WriteFileRequest = z.strictObject({
  path: z.string().min(1),
  content: z.string(),
  /** `base64` for binary content (a git bundle, say). */
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
});
export type WriteFileRequest = z.input<typeof WriteFileRequest>;
export interface WriteFileResponse {
  bytes: number;
}

/** Errors sandboxd answers with; `code` is stable, `message` is meant for the model or user. */
export interface SandboxdError {
  code: 'unauthorized' | 'bad_request' | 'not_found' | 'path_outside_workspace' | 'io_error';
  message: string;
}

export const ListRequest = z.strictObject({ path: z.string().min(1).default('.') });
export type ListRequest = z.input<typeof ListRequest>;
export interface ListResponse {
  entries: { name: string; type: 'file' | 'dir' | 'symlink' | 'other'; size: number }[];
}

export const SearchRequest = z.strictObject({
  pattern: z.string().min(1),
  path: z.string().min(1).default('.'),
  /** Only files whose name matches this glob, e.g. "*.ts". */
  glob: z.string().min(1).optional(),
  maxOutputBytes: z.number().int().positive().max(1_000_000).default(32_000),
  timeoutMs: z.number().int().positive().max(600_000).default(60_000),
});
export type SearchRequest = z.input<typeof SearchRequest>;
export interface SearchResponse {
  /** `path:line:text` lines, as ripgrep and grep print them. */
  matches: string;
  truncated: boolean;
  engine: 'ripgrep' | 'grep';
}
