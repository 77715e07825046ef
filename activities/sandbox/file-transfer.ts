// Files between this host and a sandbox, through sandboxd, a chunk at a time: the worker holds
// one chunk, never the file, and sandboxd never takes or answers more than its limit in a call.
import { open, stat } from 'node:fs/promises';
import type { SandboxdClient } from './sandboxd-client.js';

/** sandboxd takes and answers at most 20 MB a call; base64 makes a 7 MB chunk about 9.3 MB. */
const CHUNK_BYTES = 7_000_000;

/** Copies a sandbox's file to this host a chunk at a time (the worker holds one chunk, never the file). */
export async function copyOut(sandbox: SandboxdClient, file: string, to: string): Promise<void> {
  const handle = await open(to, 'w');
  try {
    for (let offset = 0; ; ) {
      const part = await sandbox.readFile({ path: file, offset, maxBytes: CHUNK_BYTES, encoding: 'base64' });
      const buf = Buffer.from(part.content, 'base64');
      await handle.write(buf);
      offset += buf.length;
      if (!part.truncated || buf.length === 0) return;
    }
  } finally {
    await handle.close();
  }
}

/** Writes a file of this host into the sandbox as `<prefix>.part-NNNNNN` pieces. */
export async function writeWhole(sandbox: SandboxdClient, file: string, prefix: string): Promise<void> {
  const { size } = await stat(file);
  const handle = await open(file, 'r');
  try {
    for (let offset = 0, n = 0; offset < size || n === 0; n++) {
      const buf = Buffer.alloc(Math.min(CHUNK_BYTES, size - offset));
      await handle.read(buf, 0, buf.length, offset);
      await sandbox.writeFile({ path: `${prefix}.part-${String(n).padStart(6, '0')}`, content: buf.toString('base64'), encoding: 'base64' });
      offset += buf.length;
    }
  } finally {
    await handle.close();
  }
}
