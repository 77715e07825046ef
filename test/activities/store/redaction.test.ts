// Secrets never reach the store or the event stream: the redactor, the store that applies it,
// and the event log reader that the SSE endpoint tails.
import { appendFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { LocalArtifactStore, RedactingStore } from '../../../activities/store/artifact-store.js';
import { EventLogReader, recordEvent } from '../../../activities/store/events.js';
import { taskKeys } from '../../../activities/store/keys.js';
import { Redactor } from '../../../activities/store/redactor.js';

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
});

describe('RedactingStore and EventLogReader', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-store-'));
  const store = new RedactingStore(new LocalArtifactStore(dir), new Redactor(['db-password-42']));

  it('redacts what is put and appended', async () => {
    await store.put('a/b.txt', 'pw db-password-42');
    expect(await store.get('a/b.txt')).toBe('pw [REDACTED]');
    await recordEvent(store, 't1', { id: 'e1', type: 'tool_result', output: 'db-password-42' });
    expect(await store.get(taskKeys('t1').events)).not.toContain('db-password-42');
  });

  it('reads new events incrementally, once per id, leaving a half-written line for later', async () => {
    const reader = new EventLogReader(store, 't2');
    expect(await reader.next()).toEqual([]);
    await recordEvent(store, 't2', { id: 'step:1:started', type: 'step_started', step: 1 });
    await recordEvent(store, 't2', { id: 'step:1:started', type: 'step_started', step: 1 }); // a retried activity
    const file = path.join(dir, taskKeys('t2').events);
    appendFileSync(file, '{"id":"step:1:model","type":"model_an');
    expect((await reader.next()).map((e) => [e.seq, e.event.id])).toEqual([[0, 'step:1:started']]);
    appendFileSync(file, 'swered"}\nnot json\n');
    expect((await reader.next()).map((e) => [e.seq, e.event.type])).toEqual([[1, 'model_answered']]);
    expect(await reader.next()).toEqual([]);
  });
});
