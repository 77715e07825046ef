// The registry is the one place a tool is described: what the model is offered in each mode,
// how arguments are checked, and what a call says of itself to the workflow all come from it.
import { SANDBOX_TOOLS } from '../../../activities/agent/tools/sandbox-tools.js';
import { ToolSet, type ToolEnv } from '../../../activities/agent/tools/registry.js';
import { onlyReads } from '../../../workflows/recovery.js';
import type { ToolCall } from '../../../workflows/tool-calls.js';

const tools = new ToolSet(SANDBOX_TOOLS);
const call = (name: string, args: unknown): ToolCall => ({ id: 'c1', name, arguments: typeof args === 'string' ? args : JSON.stringify(args) });
const noSandbox: ToolEnv = {
  taskId: 't',
  signal: new AbortController().signal,
  sandbox: () => Promise.reject(new Error('this test runs no tool in a sandbox')),
};

describe('the tool registry', () => {
  it('offers only what cannot change anything while planning', () => {
    expect(tools.names('plan')).toEqual(['read_file', 'list_dir', 'search', 'submit_plan']);
    expect(tools.names('work')).toEqual(['shell', 'read_file', 'list_dir', 'search', 'write_file', 'edit_file', 'finish']);
    const shell = tools.definitions('work').find((d) => d.type === 'function' && d.function.name === 'shell');
    expect(shell).toMatchObject({ function: { parameters: { type: 'object', required: ['command'], additionalProperties: false, properties: { command: { type: 'string' } } } } });
  });

  it('stamps each call with what the registry knows, as the workflow decided by name before', () => {
    for (const r of SANDBOX_TOOLS) expect(onlyReads(tools.stamp(call(r.name, {})), true)).toBe(onlyReads({ name: r.name }, false));
    expect(tools.stamp(call('no_such_tool', {}))).toMatchObject({ readOnly: false });
    expect(tools.stamp(call('shell', {})).atMostOnce).toBeUndefined();
  });

  it('answers a call the model could not have meant as malformed, naming what to fix', async () => {
    expect(await tools.run(call('write_file', { path: 'a' }), 'work', noSandbox)).toMatchObject({ malformed: true, content: expect.stringContaining('bad arguments for write_file') });
    expect(await tools.run(call('shell', '{not json'), 'work', noSandbox)).toMatchObject({ malformed: true, content: expect.stringContaining('not valid JSON') });
    expect(await tools.run(call('shell', { command: 'ls' }), 'plan', noSandbox)).toMatchObject({ malformed: true, content: expect.stringContaining('cannot be used until your plan is approved') });
    expect(await tools.run(call('rm_rf', {}), 'work', noSandbox)).toMatchObject({ malformed: true, content: expect.stringContaining('unknown tool "rm_rf"; the tools are shell, read_file') });
    expect(await tools.run(call('finish', { summary: 'x' }), 'work', noSandbox)).toMatchObject({ malformed: true });
  });
});
