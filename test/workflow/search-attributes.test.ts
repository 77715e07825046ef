// A namespace as a platform team's cluster hands one to Errand: without Errand's search
// attributes. The first Errand to start registers them (the operator API), and tasks start, run
// and list there; a namespace whose attributes have another type stops Errand with what to do.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { msToTs } from '@temporalio/common';
import { FIX_SUM, FINISH } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, startErrand } from '../support/errand-process.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useErrand, useTemporal } from '../support/use.js';

const FRESH = `errand-fresh-${randomBytes(4).toString('hex')}`;
const CLASHING = `errand-clash-${randomBytes(4).toString('hex')}`;
const temporal = useTemporal();
const attributesOf = async (namespace: string) => (await temporal.client.connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};

beforeAll(async () => {
  for (const namespace of [FRESH, CLASHING]) {
    await temporal.client.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    // A new namespace takes a moment to be served.
    await eventually(async () => ((await attributesOf(namespace)) ? true : undefined), 30_000, `namespace ${namespace}`);
  }
  expect(Object.keys(await attributesOf(FRESH))).not.toContain('ErrandRepo');
  await temporal.client.connection.operatorService.addSearchAttributes({ namespace: CLASHING, searchAttributes: { ErrandRepo: 1 /* Text */ } });
  await eventually(async () => ((await attributesOf(CLASHING)).ErrandRepo ? true : undefined), 30_000, 'ErrandRepo as Text');
}, 90_000);

const t = useErrand({ ERRAND_TEMPORAL_NAMESPACE: FRESH });

describe('search attributes', () => {
  it('registers its own on a namespace that lacks them: tasks start, run and list there', async () => {
    const keyword = 2;
    expect(await attributesOf(FRESH)).toMatchObject({ ErrandRepo: keyword, ErrandPhase: keyword, ErrandRequester: keyword });
    const origin = makeOriginRepo(BUGGY_SUM);
    t.model.script('[fresh-namespace]', [FIX_SUM, FINISH]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[fresh-namespace] Fix sum.', requester: 'fresh-bot' });
    await waitForStatus(t.errand, id, 'completed');
    const listed = await eventually(async () => {
      const { body } = await api(t.errand.url, 'GET', `/tasks?repo=${encodeURIComponent(origin)}&requester=fresh-bot`);
      return body.tasks?.length ? body.tasks.map((task: { id: string; phase: string }) => [task.id, task.phase]) : undefined;
    }, 30_000, 'the task in its namespace');
    expect(listed).toEqual([[id, 'completed']]);
  });

  it('stops, saying what to do, on a namespace whose attribute has another type', async () => {
    await expect(startErrand({ command: 'api', env: { ERRAND_TEMPORAL_NAMESPACE: CLASHING, ERRAND_MODEL_BASE_URL: t.model.url, ERRAND_MODEL: 'fixture' } })).rejects.toThrow(
      `namespace ${CLASHING} has search attributes of the wrong type (ErrandRepo is Text, Errand needs Keyword); remove them, or run Errand on another namespace (ERRAND_TEMPORAL_NAMESPACE)`,
    );
  });
});
