// Secrets never reach storage or the event stream: the redactor, the storage that applies it,
// and the task's events as the SSE endpoint tails them.
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { recordEvent, taskEvents } from '../../../lib/storage/events.js';
import { localDirectoryStorage } from '../../../lib/storage/local-storage.js';
import { redacting } from '../../../lib/storage/storage.js';
import { Redactor } from '../../../lib/storage/redactor.js';

describe('Redactor', () => {
  const redactor = new Redactor(['db-password-42', 'short', undefined]);

  it.each([
    ['a configured value', 'PASSWORD=db-password-42;', 'PASSWORD=[REDACTED];'],
    ['an OpenAI-style key', 'key sk-proj-abcdefghijklmnop1234', 'key [REDACTED]'],
    ['a GitHub token', 'token ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'token [REDACTED]'],
    ['an AWS access key id', 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE', 'aws_access_key_id = [REDACTED]'],
    ['a private key', 'x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\ny', 'x\n[REDACTED]\ny'],
  ])('redacts %s', (_what, text, expected) => {
    expect(redactor.redact(text)).toBe(expected);
  });

  it('leaves values too short to be secrets alone', () => {
    expect(redactor.redact('a short note')).toBe('a short note');
  });

  // What `rev`, `base64`, `xxd -p`, `od`, a URL or a JSON string make of a configured secret, and
  // the secret with invisible or blank characters between its letters.
  const SECRET = 's3cr3t-value/+42';
  const encoded = new Redactor([SECRET]);
  const b64 = (prefix: string) => Buffer.from(prefix + SECRET + '!').toString('base64');
  it.each([
    ['reversed', [...SECRET].reverse().join('')],
    ['base64', b64('')],
    ['base64 after one byte', b64('x')],
    ['base64 after two bytes', b64('xy')],
    ['base64url', Buffer.from('xy' + SECRET).toString('base64url')],
    ['base64 wrapped over lines', b64('x').replace(/(.{4})/g, '$1\n')],
    ['hex', Buffer.from(SECRET).toString('hex')],
    ['HEX', Buffer.from(SECRET).toString('hex').toUpperCase()],
    ['URL-encoded', encodeURIComponent(SECRET)],
    ['every byte percent-encoded', [...Buffer.from(SECRET)].map((b) => `%${b.toString(16)}`).join('')],
    ['split by a zero-width space', SECRET.slice(0, 6) + '\u200b' + SECRET.slice(6)],
    ['split by soft hyphens and joiners', [...SECRET].join('\u00ad\u2060')],
    ['one letter a line', [...SECRET].join('\n')],
    ['spaced out', [...SECRET].join(' ')],
    ['as JSON escapes a line break in it', JSON.stringify(SECRET.slice(0, 5) + '\n' + SECRET.slice(5)).slice(1, -1)],
  ])('redacts a configured secret %s, and finds it as a secret', (_how, form) => {
    const text = `before ${form} after`;
    expect(encoded.redact(text)).toMatch(/^before .*\[REDACTED\].* after$/s);
    expect(encoded.redact(text)).not.toContain(form);
    expect(encoded.kindsIn(text)).toEqual(['configured secret']);
  });

  it('keeps JSON it redacts a secret out of JSON', () => {
    const line = JSON.stringify({ output: `x ${SECRET.slice(0, 4)}\n${SECRET.slice(4)} y`, n: 1 });
    expect(JSON.parse(encoded.redact(line))).toEqual({ output: 'x [REDACTED] y', n: 1 });
  });

  it('reads output a command can print to stall it (a megabyte of backslashes, of blanks) in one pass', () => {
    // The second holds the secret, so the full pattern runs, and half of it before the blanks.
    for (const text of ['\\'.repeat(1_000_000) + 'x', `${SECRET} ${SECRET.slice(0, 8)}${' '.repeat(1_000_000)}x`]) {
      expect(encoded.redact(text).endsWith('x')).toBe(true);
    }
  });

  it('leaves ordinary text, hex and base64 alone', () => {
    const text = `sha ${'ab12'.repeat(10)} ${Buffer.from('an ordinary sentence of text').toString('base64')} s3cr3t value`;
    expect(encoded.redact(text)).toBe(text);
  });
});

describe("redacting storage, and a task's events", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-store-'));
  const storage = redacting(localDirectoryStorage(dir), new Redactor(['db-password-42']));

  it('redacts what is put, created and appended, keys and values alike', async () => {
    await storage.blobs.put('a/b.txt', 'pw db-password-42');
    expect(await storage.blobs.get('a/b.txt')).toBe('pw [REDACTED]');
    expect(await storage.blobs.createIfAbsent('a/c.txt', 'db-password-42')).toBe(true);
    expect(await storage.blobs.get('a/c.txt')).toBe('[REDACTED]');
    await recordEvent(storage.logs, 't1', { id: 'e1', type: 'tool_result', output: 'db-password-42', 'db-password-42': ['db-password-42'] });
    const [event] = await taskEvents(storage.logs, 't1').next();
    expect(event!.record).toMatchObject({ id: 'e1', output: '[REDACTED]', '[REDACTED]': ['[REDACTED]'] });
    expect(readFileSync(path.join(dir, 'tasks', 't1', 'events.jsonl'), 'utf8')).not.toContain('db-password-42');
  });

  it('reads new events incrementally, once per id, leaving a half-written line for later', async () => {
    const reader = taskEvents(storage.logs, 't2');
    expect(await reader.next()).toEqual([]);
    await recordEvent(storage.logs, 't2', { id: 'step:1:started', type: 'step_started', step: 1 });
    await recordEvent(storage.logs, 't2', { id: 'step:1:started', type: 'step_started', step: 1 }); // a retried activity
    const file = path.join(dir, 'tasks', 't2', 'events.jsonl');
    appendFileSync(file, '{"id":"step:1:model","type":"model_an');
    expect((await reader.next()).map((e) => [e.seq, e.record.id])).toEqual([[0, 'step:1:started']]);
    appendFileSync(file, 'swered"}\nnot json\n');
    expect((await reader.next()).map((e) => [e.seq, e.record.type])).toEqual([[1, 'model_answered']]);
    expect(await reader.next()).toEqual([]);
    // A reader that resumes after an event (an SSE client's Last-Event-ID) starts right after it.
    expect((await taskEvents(storage.logs, 't2', 0).next()).map((e) => [e.seq, e.record.type])).toEqual([[1, 'model_answered']]);
  });
});
