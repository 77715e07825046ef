// The determinism guard: histories recorded from the current workflows (test/fixtures/histories,
// written by `npm run record-histories`) must replay against the workflow code as it is now.
// A change that would break tasks already running fails here; put it behind patched().
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../support/errand-process.js';

const dir = path.join(PROJECT_ROOT, 'test', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('workflow determinism', () => {
  it('has recorded histories of every scenario, continue-as-new included, and of every workflow people run', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'steered.json',
        'planned.json',
        'sandbox-lost.json',
        'cancelled.json',
        'reviewed.json',
        'feedback.json',
        'continued-as-new-run1.json',
        'lost-after-finish.json',
        // MCP tools: one read-only call, one run at most once.
        'mcp-tools.json',
        // A dependency bump and its group's coding task (a child); a schedule's run and its coding task.
        'dependency-bump.json',
        'dependency-bump-group.json',
        'scheduled-run.json',
        'scheduled-run-task.json',
        // A task with attempts (compared by the review agent, a message passed on) and its chosen attempt; a campaign.
        'attempts.json',
        'attempts-attempt.json',
        'campaign.json',
      ]),
    );
  });

  it('replays every recorded history without a nondeterminism error', async () => {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    const histories = files.map((f) => ({ workflowId: path.basename(f, '.json'), history: JSON.parse(readFileSync(path.join(dir, f), 'utf8')) }));
    const results: { workflowId: string; error?: string }[] = [];
    for await (const result of Worker.runReplayHistories({ workflowsPath: path.join(PROJECT_ROOT, 'workflows', 'index.ts') }, histories)) {
      results.push({ workflowId: result.workflowId, error: result.error ? String(result.error) : undefined });
    }
    expect(results).toEqual(histories.map((h) => ({ workflowId: h.workflowId, error: undefined })));
  });
});
