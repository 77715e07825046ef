// The API's contract, for people and tools: GET /openapi.json (document.ts builds it from the
// code) and GET /docs, Swagger UI over it, its assets served from the swagger-ui-dist package
// on this server (a self-hosted install may have no internet).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import { Controller, Get, Header, Inject, Param, Res, StreamableFile } from '@nestjs/common';
import { z } from 'zod';
import { ZodPipe } from '../tasks/task-request.js';
import { OPENAPI } from '../tokens.js';
import { Answers } from './document.js';

const UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const UI_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};
const Asset = z.enum(Object.keys(UI_ASSETS) as [string, ...string[]], { error: `the files are ${Object.keys(UI_ASSETS).join(', ')}` });

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Errand API</title>
  <link rel="icon" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });
  </script>
</body>
</html>
`;

@Controller()
export class OpenApiController {
  constructor(@Inject(OPENAPI) private readonly document: () => object) {}

  @Get('openapi.json')
  @Answers({ summary: 'This API as an OpenAPI 3.1 document', ok: { description: 'the document', schema: z.object({ openapi: z.string() }).loose() }, open: true })
  openapi() {
    return this.document();
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  @Answers({ summary: 'Swagger UI over /openapi.json', ok: { description: 'the page', schema: z.string(), contentType: 'text/html' }, open: true })
  page() {
    return PAGE;
  }

  @Get('docs/:asset')
  @Answers({ summary: "Swagger UI's own files", ok: { description: 'the file', schema: z.string(), contentType: [...new Set(Object.values(UI_ASSETS).map((type) => type.split(';')[0]!))] }, open: true })
  async asset(@Param('asset', new ZodPipe(Asset, 'asset')) asset: string, @Res({ passthrough: true }) res: ServerResponse) {
    res.setHeader('content-type', UI_ASSETS[asset]!);
    res.setHeader('cache-control', 'public, max-age=86400');
    return new StreamableFile(await readFile(path.join(UI_DIR, asset)));
  }
}
