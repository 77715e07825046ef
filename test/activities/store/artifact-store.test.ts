// The local artifact store on a real directory: keys are built from outside input (task ids,
// delivery ids, tool-call ids), so a key that would leave its prefix, or the store, is refused.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { InvalidArtifactKey, LocalArtifactStore } from '../../../activities/store/artifact-store.js';

describe('LocalArtifactStore', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'errand-store-'));
  const dir = path.join(root, 'artifacts');
  const store = new LocalArtifactStore(dir);

  it('writes again after something removed the directories it made', async () => {
    await store.put('tasks/t9/transcript/000000.json', '[]');
    await store.append('tasks/t9/events.jsonl', 'a\n');
    rmSync(path.join(dir, 'tasks', 't9'), { recursive: true, force: true });
    await store.put('tasks/t9/transcript/000001.json', '[1]');
    await store.append('tasks/t9/events.jsonl', 'b\n');
    expect(await store.get('tasks/t9/transcript/000001.json')).toBe('[1]');
    expect(await store.get('tasks/t9/events.jsonl')).toBe('b\n');
  });

  it('keeps, lists, appends to and deletes what it is given', async () => {
    await store.put('tasks/t1/transcript/000000.json', '[]');
    await store.append('tasks/t1/events.jsonl', 'a\n');
    await store.append('tasks/t1/events.jsonl', 'b\n');
    expect(await store.get('tasks/t1/events.jsonl')).toBe('a\nb\n');
    expect(await store.list('tasks/t1/transcript/')).toEqual(['tasks/t1/transcript/000000.json']);
    expect(await store.createExclusive('webhooks/github/events/abc', '{}')).toBe(true);
    expect(await store.createExclusive('webhooks/github/events/abc', '{}')).toBe(false);
    await store.delete('webhooks/github/events/abc');
    expect(await store.createExclusive('webhooks/github/events/abc', '{}')).toBe(true);
  });

  it.each([
    ['a parent segment', 'webhooks/github/deliveries/../../../tasks/t1/transcript/000000.json'],
    ['a key that leaves the store', '../outside.txt'],
    ['an absolute key', '/etc/passwd'],
    ['an empty segment', 'tasks//t1'],
    ['a current-directory segment', 'tasks/./t1'],
    ['a backslash', 'tasks\\..\\t1'],
    ['a NUL byte', 'tasks/t1\0x'],
  ])('refuses %s, whatever the operation', async (_what, key) => {
    for (const op of [() => store.put(key, 'x'), () => store.get(key), () => store.append(key, 'x'), () => store.createExclusive(key, 'x'), () => store.readFrom(key, 0), () => store.delete(key)]) {
      await expect(op()).rejects.toBeInstanceOf(InvalidArtifactKey);
    }
    expect(await store.get('tasks/t1/transcript/000000.json')).toBe('[]');
    expect(readdirSync(root)).toEqual(['artifacts']);
    expect(existsSync(path.join(dir, 'outside.txt'))).toBe(false);
  });
});
