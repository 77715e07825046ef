// The local forge's pull requests: one per branch however often it is asked (an activity retried),
// numbers never shared, and opening one never depends on the records of the others (a forge
// with thousands of them, or one a person or tool left unreadable).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalForge } from '../../../activities/forge/local.js';

const request = (head: string) => ({ taskId: 't1', repo: '/srv/repos/app.git', base: 'main', head, title: `t ${head}`, body: 'b', draft: true, diff: 'd' });

describe('LocalForge pull requests', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'errand-local-forge-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens one pull request per branch, numbered in order, and gives the same one when asked again', async () => {
    const forge = new LocalForge(dir);
    const a = await forge.openPullRequest(request('errand/a'));
    const b = await forge.openPullRequest(request('errand/b'));
    expect([a.number, b.number]).toEqual([1, 2]);
    const again = await forge.openPullRequest(request('errand/a'));
    expect(again).toMatchObject({ number: 1, existing: true });
    expect((await forge.all()).map((pr) => pr.head).sort()).toEqual(['errand/a', 'errand/b']);
  });

  it("opens a pull request even when another one's record is unreadable", async () => {
    const forge = new LocalForge(dir);
    await forge.openPullRequest(request('errand/a'));
    writeFileSync(path.join(dir, '1.json'), '{ half written');
    const b = await forge.openPullRequest(request('errand/b'));
    expect(b.number).toBe(2);
    expect(await forge.openPullRequest(request('errand/b'))).toMatchObject({ number: 2, existing: true });
  });

  it('gives different numbers to pull requests opened at once', async () => {
    const forge = new LocalForge(dir);
    const opened = await Promise.all(Array.from({ length: 20 }, (_, i) => forge.openPullRequest(request(`errand/${i}`))));
    expect(new Set(opened.map((pr) => pr.number)).size).toBe(20);
  });
});
