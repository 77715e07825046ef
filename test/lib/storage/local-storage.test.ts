// The local storage on a real directory, where it differs from any other: files on this host
// (the behaviours every storage shares are in storage-contract.test.ts). Keys are built from
// outside input (task ids, delivery ids, tool-call ids), so one that would leave the directory
// is refused before anything touches the file system.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { localDirectoryStorage } from '../../../lib/storage/local-storage.js';

describe('local storage', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'errand-store-'));
  const dir = path.join(root, 'artifacts');
  const { blobs, logs } = localDirectoryStorage(dir);

  it('writes again after something removed the directories it made', async () => {
    await blobs.put('tasks/t9/transcript/000000.json', '[]');
    await logs.append('tasks/t9/events', [{ id: 'a' }]);
    rmSync(path.join(dir, 'tasks', 't9'), { recursive: true, force: true });
    await blobs.put('tasks/t9/transcript/000001.json', '[1]');
    await logs.append('tasks/t9/events', [{ id: 'b' }]);
    expect(await blobs.get('tasks/t9/transcript/000001.json')).toBe('[1]');
    expect((await logs.tail('tasks/t9/events').next()).map((e) => e.record.id)).toEqual(['b']);
  });

  it('keeps a log where the event files of earlier versions are, and skips a line a crashed writer tore', async () => {
    await logs.append('tasks/t1/events', [{ id: 'step:1:started', type: 'step_started' }]);
    expect(readdirSync(path.join(dir, 'tasks', 't1'))).toEqual(['events.jsonl']);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(path.join(dir, 'tasks', 't1', 'events.jsonl'), '{"id":"torn","ty\n');
    await logs.append('tasks/t1/events', [{ id: 'step:1:model' }]);
    expect((await logs.tail('tasks/t1/events').next()).map((e) => [e.seq, e.record.id])).toEqual([
      [0, 'step:1:started'],
      [1, 'step:1:model'],
    ]);
  });

  it.each([
    ['a parent segment', 'webhooks/github/deliveries/../../../tasks/t1/transcript/000000.json'],
    ['a key that leaves the store', '../outside.txt'],
    ['an absolute key', '/etc/passwd'],
    ['a backslash', 'tasks\\..\\t1'],
    ['a NUL byte', 'tasks/t1\0x'],
  ])('refuses %s, whatever the operation, and writes nothing outside', async (_what, key) => {
    for (const op of [() => blobs.put(key, 'x'), () => blobs.get(key), () => blobs.createIfAbsent(key, 'x'), () => blobs.delete(key), () => blobs.list(key), () => logs.append(key, [{ id: 'x' }]), async () => logs.tail(key).next(), () => logs.logs(key)]) {
      await expect(op()).rejects.toThrow(/invalid storage key/);
    }
    expect(readdirSync(root)).toEqual(['artifacts']);
    expect(existsSync(path.join(dir, 'outside.txt'))).toBe(false);
  });
});
