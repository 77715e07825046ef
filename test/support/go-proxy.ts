// A Go module proxy the test writes: the GOPROXY protocol is a tree of static files
// (`<module>/@v/list`, `<version>.info`, `.mod`, `.zip`), so the tree is written to a temp dir
// and served as it is over HTTP. Over HTTP rather than file:// because the sandbox's `go get`
// cannot see the host's /tmp: it reaches the proxy through its egress proxy, as it would a
// company's Athens or goproxy.io. Errand and `go` read the very same files.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';

export interface GoProxy {
  /** The GOPROXY URL (`http://host:port`). */
  url: string;
  port: number;
  /** Publishes `module@version` with `files` (go.mod is written from the module path when absent). */
  publish(module: string, version: string, files: Record<string, string>, time?: Date): void;
  stop(): Promise<void>;
}

/** Serves a fresh proxy tree on `host` (a loopback address the sandbox is allowed to reach). */
export async function startGoProxy(host = '127.0.0.1'): Promise<GoProxy> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'errand-goproxy-'));
  const server = http.createServer((req, res) => {
    const file = path.join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://proxy').pathname));
    if (!file.startsWith(`${root}/`)) return void res.writeHead(404).end();
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': file.endsWith('.zip') ? 'application/zip' : 'text/plain; charset=utf-8' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    publish(module, version, files, time = new Date()) {
      const dir = path.join(root, escapePath(module), '@v');
      mkdirSync(dir, { recursive: true });
      const all = { 'go.mod': `module ${module}\n\ngo 1.21\n`, ...files };
      writeFileSync(path.join(dir, `${version}.info`), JSON.stringify({ Version: version, Time: time.toISOString() }));
      writeFileSync(path.join(dir, `${version}.mod`), all['go.mod']);
      writeFileSync(path.join(dir, `${version}.zip`), storedZip(Object.entries(all).map(([name, content]) => [`${module}@${version}/${name}`, Buffer.from(content)])));
      appendFileSync(path.join(dir, 'list'), `${version}\n`);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The proxy protocol's case encoding (upper-case letters as `!` and the lower-case one). */
const escapePath = (module: string) => module.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);

/** A zip with its entries stored (not compressed): what `go` needs of a module zip, and no library. */
function storedZip(entries: [string, Buffer][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    local.copy(central, 8, 6, 28); // flags, method, time, date, crc, sizes, name length
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
