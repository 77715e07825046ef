// Errand on object storage, as a deployment with no shared volume runs it: a worker (with its
// API) and a second API process, each with a state directory of its own, share nothing but
// Temporal and an S3 server (versitygw, a real one). A task runs; both replicas show its
// transcript, diff, logs, events and audit trail; an SSE client resumes on the other replica
// with Last-Event-ID; nothing of it is written to either state directory.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { call, FIX_SUM } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { api, startErrand, type ErrandProcess } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { s3StorageEnv, startS3Server, versitygwPart, type S3Server } from '../support/s3-server.js';
import { readEvents } from '../support/sse.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useErrand } from '../support/use.js';

describeWithPart(versitygwPart, 'on object storage', () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3Server('errand-e2e');
  });
  afterAll(async () => {
    await s3?.stop();
  });
  const storageEnv = () => s3StorageEnv(s3, 'errand');
  const t = useErrand(storageEnv);
  let replica: ErrandProcess;
  beforeAll(async () => {
    replica = await startErrand({ command: 'api', taskQueue: t.errand.taskQueue, env: { ...storageEnv(), ERRAND_MODEL_BASE_URL: t.model.url, ERRAND_MODEL: 'fixture-coder' } });
  });
  afterAll(async () => {
    await replica?.stop();
  });

  it('runs a task that every replica shows whole, and keeps nothing of it on local disks', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    t.model.script('[s3]', [call('shell', { command: 'npm test 2>&1 | tail -3' }), FIX_SUM, call('finish', { summary: 'sum adds now' })]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[s3] Fix sum.', requester: 'storage-bot' });
    await waitForStatus(t.errand, id, 'completed');

    const [here, there] = await Promise.all([t.errand, replica].map((errand) => readEvents(`${errand.url}/tasks/${id}/events`)));
    const shown = (messages: typeof here.messages) => messages.filter((m) => m.event !== 'end').map((m) => [m.id, m.event, m.data.id]);
    expect(shown(there.messages)).toEqual(shown(here.messages));
    expect(shown(here.messages).map(([seq]) => Number(seq))).toEqual(shown(here.messages).map((_, i) => i));
    expect(here.messages.map((m) => m.event)).toEqual(expect.arrayContaining(['sandbox_provisioned', 'tool_result', 'checkpoint', 'tests_finished', 'pr_opened']));
    // A client that saw part of the stream on one replica resumes on the other, exactly after it.
    const resumed = await readEvents(`${replica.url}/tasks/${id}/events`, { lastEventId: '4' });
    expect(shown(resumed.messages)).toEqual(shown(here.messages).slice(5));

    for (const errand of [t.errand, replica]) {
      const transcript = await api(errand.url, 'GET', `/tasks/${id}/transcript`);
      expect(transcript.body.messages.filter((m: { role: string }) => m.role === 'assistant')).toHaveLength(3);
      expect((await api(errand.url, 'GET', `/tasks/${id}/diff`)).body).toContain('+exports.sum = (a, b) => a + b;');
      expect((await api(errand.url, 'GET', `/tasks/${id}/logs/test`)).body).toContain('pass 1');
      const audit = await api(errand.url, 'GET', `/audit?task=${id}`);
      expect(audit.body.entries.map((e: { action: string; actor: string }) => [e.action, e.actor])).toEqual([['task.create', 'storage-bot']]);
    }
    for (const stateDir of [t.errand.stateDir, replica.stateDir]) expect(existsSync(path.join(stateDir, 'artifacts'))).toBe(false);
  });
});
