// The object store unreachable for 30 s in the middle of a task: the command the agent runs
// ends while S3 is away, so the worker cannot record its result, its events or the next step.
// The task waits, then completes; nothing is lost (every step, event and the PR) and nothing
// happens twice (the command ran once, each model call was made once).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { call, FIX_SUM } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { s3StorageEnv, startS3Server, versitygwPart, type S3Server } from '../support/s3-server.js';
import { readEvents } from '../support/sse.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useErrand } from '../support/use.js';

const OUTAGE_MS = 30_000;

describeWithPart(versitygwPart, 'object storage away mid-task', () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3Server('errand-outage');
  });
  afterAll(async () => {
    await s3?.stop();
  });
  const t = useErrand(() => s3StorageEnv(s3));

  it('waits for it, then completes with nothing lost and nothing done twice', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    // The command marks that it started, and ends while S3 is away.
    const script = t.model.script('[s3-outage]', [
      call('shell', { command: 'touch .git/outage-now && sleep 3 && echo ran >> ran.txt && echo done' }),
      FIX_SUM,
      call('finish', { summary: 'sum adds now' }),
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[s3-outage] Fix sum.' });
    const marker = path.join(t.errand.stateDir, 'sandboxes', id, 'workspace', '.git', 'outage-now');
    await eventually(async () => (existsSync(marker) ? true : undefined), 60_000, 'the command to start');
    await s3.pause();
    const back = Date.now() + OUTAGE_MS;
    try {
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      // Waiting, not failed: its activities heartbeat while storage is away.
      const waiting = (await api(t.errand.url, 'GET', `/tasks/${id}`)).body;
      expect([waiting.status, waiting.error]).toEqual(['running', undefined]);
    } finally {
      await s3.resume();
    }
    const task = await waitForStatus(t.errand, id, 'completed', 240_000);
    expect(Date.now()).toBeGreaterThan(back);

    // Nothing twice: one model call a step, and the command ran once.
    expect(script.requests).toHaveLength(3);
    expect(git(origin, 'show', `errand/${id}:ran.txt`)).toBe('ran\n');
    // Nothing lost: every step in the transcript, every event once and in order, the PR.
    const transcript = (await api(t.errand.url, 'GET', `/tasks/${id}/transcript`)).body;
    expect(transcript.messages.filter((m: { role: string }) => m.role === 'assistant')).toHaveLength(3);
    const { messages } = await readEvents(`${t.errand.url}/tasks/${id}/events`);
    const events = messages.filter((m) => m.event !== 'end');
    expect(events.map((m) => Number(m.id))).toEqual(events.map((_, i) => i));
    expect(new Set(events.map((m) => m.data.id)).size).toBe(events.length);
    expect(events.filter((m) => m.event === 'tool_result').map((m) => m.data.step)).toEqual([1, 2]);
    expect(task.pr).toMatchObject({ number: expect.any(Number) });
  });
});
