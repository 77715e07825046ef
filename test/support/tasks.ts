// Creating tasks and waiting for them through the API, as a user would.
import { expect } from '@jest/globals';
import { api, eventually, GiveUp, type ErrandProcess } from './errand-process.js';

export async function createTask(errand: ErrandProcess, body: Record<string, unknown>): Promise<string> {
  const res = await api(errand.url, 'POST', '/tasks', body);
  expect(res).toMatchObject({ status: 201 });
  return res.body.id as string;
}

/** The task view once its status is `status`; fails early when it ends any other way. */
export async function waitForStatus(errand: ErrandProcess, id: string, status: string, timeoutMs = 90_000): Promise<any> {
  return eventually(
    async () => {
      const res = await api(errand.url, 'GET', `/tasks/${id}`);
      if (res.body.status === status) return res.body;
      if (res.body.status !== 'running') throw new GiveUp(`task ended ${res.body.status}: ${JSON.stringify(res.body)}`);
      return undefined;
    },
    timeoutMs,
    `task ${id} to be ${status}`,
  );
}
