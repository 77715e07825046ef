// A task with MCP servers and secrets, in the web console (Chromium against a real Errand): its
// timeline says which servers' tools the model was offered, which server did not start and what
// the repository asked for and was refused, and unfolds each tool with its server's description;
// the page lists the secrets the repository's tasks get by name and scope, and never a value.
// Text from a server (its stderr) and from the repository (a server's name) carries markup, shown
// as text: nothing of it becomes an element or runs.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, expect, it } from '@jest/globals';
import { call, FIX_SUM } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { chromiumPath } from '../support/chromium-setup.js';
import { pwned, shows, useConsoleBrowser } from '../support/console-browser.js';
import { api, PROJECT_ROOT } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrand } from '../support/use.js';

const { file: tokensFile, tokens: { writer } } = writeTokensFile({ writer: { name: 'sam', scopes: ['tasks:read', 'tasks:write', 'tasks:control'] } });
const SHOTS = path.join(PROJECT_ROOT, 'screenshots');
const MEMORY = path.join(PROJECT_ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
const SECRETS = { setup: 'console-setup-secret-3b8e51d0', memory: 'console-memory-secret-a47c92f1', acme: 'console-acme-secret-e06d7b35' };
/** What the broken server writes to stderr before it exits: its `why` in the task's events. */
const BROKEN_STDERR = '<b>bold</b> <img src=x onerror="window.__pwned=5">';
/** A server name in the repository's .errand/mcp.json, which the operator never allowed. */
const REPO_SERVER = '<img src=x onerror=window.__pwned=6>';

describeWithPart(
  { name: 'Chromium', missing: chromiumPath() ? undefined : 'no chromium on PATH', install: 'run `npm run setup:console` (installs chromium from Debian) or set ERRAND_CHROMIUM' },
  'the web console with MCP servers and secrets',
  () => {
    const t = useErrand(() => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-console-mcp-'));
      writeFileSync(
        path.join(dir, 'secrets.json'),
        JSON.stringify({
          secrets: {
            SETUP_TOKEN: { value: SECRETS.setup, scopes: ['setup'] },
            MEMORY_TOKEN: { value: SECRETS.memory, scopes: ['mcp:memory'] },
            ACME_ONLY: { value: SECRETS.acme, scopes: ['setup'], repos: ['acme/*'] },
          },
        }),
      );
      writeFileSync(
        path.join(dir, 'mcp.json'),
        JSON.stringify({
          mcpServers: {
            memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: '${HOME}/memory.jsonl', MEMORY_TOKEN: '${MEMORY_TOKEN}' }, tools: ['create_entities', 'read_graph'] },
            broken: { command: process.execPath, args: ['-e', `console.error(${JSON.stringify(BROKEN_STDERR)}); process.exit(3)`], tools: ['anything'] },
          },
        }),
      );
      return { ERRAND_API_TOKENS_FILE: tokensFile, ERRAND_MCP_CONFIG: path.join(dir, 'mcp.json'), ERRAND_SECRETS_FILE: path.join(dir, 'secrets.json') };
    });
    const chromium = useConsoleBrowser();
    beforeAll(() => {
      mkdirSync(SHOTS, { recursive: true });
    });

    it("shows the task's MCP servers and tools in its timeline, and its repository's secrets by name only", async () => {
      const origin = makeOriginRepo({
        ...BUGGY_SUM,
        '.errand/mcp.json': JSON.stringify({ mcpServers: { memory: {}, broken: {}, [REPO_SERVER]: { command: 'bash' } } }),
      });
      t.model.script('[console-mcp]', [
        call('memory__create_entities', { entities: [{ name: 'errand', entityType: 'service', observations: ['opens pull requests'] }] }),
        call('memory__read_graph', {}),
        FIX_SUM,
        call('finish', { summary: 'sum adds now, and errand is remembered' }),
      ]);
      const created = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: '[console-mcp] Fix sum.' }, writer);
      expect(created.status).toBe(201);
      const id = created.body.id as string;

      const page = await chromium.signIn(t.errand.url, writer);
      await page.goto(`${t.errand.url}/console#/tasks/${id}`);
      await page.getByRole('heading', { name: `Task ${id}` }).waitFor();

      // The secrets this repository's tasks get: names and where each goes, not the one for acme/* only.
      const secrets = page.getByRole('region', { name: 'Secrets' });
      await shows(secrets.locator('li'), 'SETUP_TOKEN — setup');
      await shows(secrets.locator('li'), 'MEMORY_TOKEN — MCP server memory');
      expect(await secrets.locator('li').allTextContents()).toEqual(['SETUP_TOKEN — setup', 'MEMORY_TOKEN — MCP server memory']);

      // The timeline: the tools offered, the server that did not start, what the repository was refused.
      const timeline = page.getByRole('region', { name: 'Timeline' });
      const offered = timeline.locator('li[data-event="mcp_tools"]');
      await shows(offered, 'MCP tools offered: memory__create_entities, memory__read_graph (1 server ready, 1 failed)', 60_000);
      const failed = timeline.locator('li[data-event="mcp_server_failed"]');
      await shows(failed, 'MCP server broken did not start: ');
      // Its stderr, markup and all, is text: no element of it in the timeline.
      await shows(failed, BROKEN_STDERR);
      const refused = timeline.locator('li[data-event="mcp_server_refused"]');
      await shows(refused, `MCP request refused: .errand/mcp.json names the server "${REPO_SERVER}", which the operator does not allow`);
      // The MCP tools' calls, as any tool's.
      await shows(timeline.locator('li[data-event="tool_called"]'), 'memory__create_entities called', 60_000);
      await shows(timeline.locator('li[data-event="tool_result"]'), 'memory__read_graph done', 60_000);

      // Unfolded: each server, and each tool with its flag and its server's description, labelled as the server's text.
      await offered.locator('summary').click();
      await shows(offered.locator('.mcp-servers li[data-server="memory"]'), 'memory: ready, 2 tools');
      await shows(offered.locator('.mcp-servers li[data-server="broken"]'), `broken: did not start (`);
      const readGraph = offered.locator('[data-tool="memory__read_graph"]');
      await shows(readGraph.locator('dt'), 'memory__read_graph read-only');
      await shows(readGraph.locator('.source'), 'Text from MCP server memory:');
      await shows(readGraph.locator('blockquote.from-server'), 'Read the entire knowledge graph');
      const createEntities = offered.locator('[data-tool="memory__create_entities"]');
      await shows(createEntities.locator('dt'), 'memory__create_entities may change things');
      await shows(createEntities.locator('blockquote.from-server'), 'Create multiple new entities in the knowledge graph');

      await shows(page.locator('.facts .status'), /^completed$/, 120_000);
      expect(await timeline.locator('b, img, script').count()).toBe(0);
      expect(await page.locator('img').count()).toBe(0);
      expect(await pwned(page)).toBeUndefined();
      expect(chromium.violations).toEqual([]);
      // No secret's value anywhere in the page, shown or not.
      const html = await page.content();
      const text = await page.locator('body').innerText();
      for (const value of Object.values(SECRETS)) {
        expect(html).not.toContain(value);
        expect(text).not.toContain(value);
      }
      await page.screenshot({ path: path.join(SHOTS, 'task-mcp.png'), fullPage: true });
    });
  },
);
