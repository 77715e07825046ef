// GET /console: the web console, its page and its two files, open like the API's docs (the
// data behind it needs a token). Everything it shows came from a model, a repository or a
// person, so the page runs under a strict Content-Security-Policy: its own script and styles
// only, no inline script, no eval, no frames, requests to this origin only.
import type { ServerResponse } from 'node:http';
import { Controller, Get, Header, Param, Res, StreamableFile } from '@nestjs/common';
import { z } from 'zod';
import { Answers } from '../openapi/document.js';
import { ZodPipe } from '../tasks/task-request.js';
import { consoleAssets } from './console-bundle.js';

export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES = { 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' } as const;
const Asset = z.enum(['app.js', 'app.css'], { error: 'the files are app.js and app.css' });

/** A small mark for the tab, inline (the CSP lets images come from data: URLs): no request, no 404. */
const FAVICON = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1f6f5c"/><path d="M10 8h12v3.5h-8v3h7v3.5h-7v3h8V24H10z" fill="#fff"/></svg>')}`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Errand</title>
  <link rel="icon" href="${FAVICON}">
  <link rel="stylesheet" href="/console/app.css">
  <script type="module" src="/console/app.js"></script>
</head>
<body>
  <div id="app"></div>
  <noscript>The Errand console needs JavaScript; the API (/docs) does not.</noscript>
</body>
</html>
`;

/** The headers every console response carries. */
function guard(res: ServerResponse): void {
  res.setHeader('content-security-policy', CONSOLE_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
}

@Controller()
export class ConsoleController {
  @Get('console')
  @Header('content-type', 'text/html; charset=utf-8')
  @Answers({ summary: 'The web console: tasks, live progress, steering, diffs, schedules', ok: { description: 'the page', schema: z.string(), contentType: 'text/html' }, open: true })
  page(@Res({ passthrough: true }) res: ServerResponse) {
    guard(res);
    res.setHeader('cache-control', 'no-cache');
    return PAGE;
  }

  @Get('console/:asset')
  @Answers({ summary: "The console's script and stylesheet", ok: { description: 'the file', schema: z.string(), contentType: ['text/javascript', 'text/css'] }, open: true })
  async asset(@Param('asset', new ZodPipe(Asset, 'asset')) asset: keyof typeof TYPES, @Res({ passthrough: true }) res: ServerResponse) {
    const files = await consoleAssets();
    guard(res);
    res.setHeader('content-type', TYPES[asset]);
    res.setHeader('cache-control', 'no-cache');
    return new StreamableFile(Buffer.from(files[asset]));
  }
}
