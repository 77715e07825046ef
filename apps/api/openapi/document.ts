// The API's OpenAPI 3.1 document, generated from the code: the routes Nest registers, the zod
// schemas their pipes validate with (read from each handler's own parameter metadata, so the
// document cannot drift from what is enforced), and what each handler declares it answers with
// `@Answers`. Every route also documents the problem details (problems/problem-details.ts) it
// can give: 400 when it takes input, 401 when API tokens are set, 404 when it names a resource,
// 413 when it takes a body (the JSON parser refuses a large one before any handler runs), 503
// when Temporal does not answer, 500.
import 'reflect-metadata';
import { OpenApiGeneratorV31, OpenAPIRegistry, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { RequestMethod, SetMetadata, type Type } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { z } from 'zod';
import { JSON_BODY_LIMIT_TEXT, PROBLEM_CONTENT_TYPE } from '../problems/problem-details.js';
import { ZodPipe } from '../tasks/task-request.js';
import { SCOPES, type Scope } from '../auth/api-tokens.js';

/** What a handler answers besides the problems every route can give. */
export interface Answers {
  summary: string;
  description?: string;
  /** The success status is the handler's @HttpCode (or Nest's default); name its body here. */
  ok: { description: string; schema?: z.ZodType; contentType?: string | string[] };
  /** Other statuses this route gives, with why (409, 422, ...); a 400 to 413 given here overrides the generator's. */
  problems?: Record<number, string>;
  /** Headers the handler validates by hand (Nest gives headers no pipes). */
  headers?: z.ZodObject;
  /** Routes without a token (health probes, webhooks with their own signature, the contract). */
  open?: boolean;
  /** The scope a token needs here when the server has tokens (none declared: admin; `any`: any known token). */
  scope?: Scope | 'any';
  /** The act this route records in the audit log when it succeeds (audit/audit.interceptor.ts). */
  audit?: string;
  /**
   * Where the repository it acts on comes from, for tokens limited to some (auth/api-token.guard.ts):
   * the body's, query's or path's `repo`, the task or schedule its `:id` names, or `list` (the handler
   * lists only what the caller may see), or `none` (it touches no repository). None declared:
   * limited tokens are refused.
   */
  repoFrom?: RepoSource[];
}

export type RepoSource = 'body' | 'query' | 'path' | 'task' | 'schedule' | 'list' | 'none';

const ANSWERS = 'errand:answers';
export const Answers = (answers: Answers) => SetMetadata(ANSWERS, answers);

/** Whether a handler is open to callers without a token (as it declares in @Answers; by default not). */
export function isOpen(handler: object): boolean {
  return (Reflect.getMetadata(ANSWERS, handler) as Answers | undefined)?.open === true;
}

/** The act a handler records in the audit log, if any. */
export function auditOf(handler: object): string | undefined {
  return (Reflect.getMetadata(ANSWERS, handler) as Answers | undefined)?.audit;
}

/** Where a handler's repository comes from (as it declares in @Answers; by default nowhere). */
export function repoSourcesOf(handler: object): RepoSource[] {
  return (Reflect.getMetadata(ANSWERS, handler) as Answers | undefined)?.repoFrom ?? [];
}

/** The scope a handler's callers need (as it declares in @Answers; by default admin). */
export function scopeOf(handler: object): Scope | 'any' {
  return (Reflect.getMetadata(ANSWERS, handler) as Answers | undefined)?.scope ?? 'admin';
}

const Problem = z
  .object({
    type: z.string().meta({ description: 'a URI naming the kind of problem; about:blank when the status says it all' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().meta({ description: 'what went wrong, and what to do about it' }),
    issues: z.array(z.object({ field: z.string(), message: z.string() })).optional().meta({ description: 'each offending field, with its fix' }),
  })
  .meta({ id: 'Problem' });

const VERBS: Partial<Record<RequestMethod, RouteConfig['method']>> = {
  [RequestMethod.GET]: 'get',
  [RequestMethod.POST]: 'post',
  [RequestMethod.PUT]: 'put',
  [RequestMethod.PATCH]: 'patch',
  [RequestMethod.DELETE]: 'delete',
};
/** Nest's RouteParamtypes. */
const BODY = 3;
const QUERY = 4;
const PARAM = 5;

export interface DocumentedRoute {
  method: RouteConfig['method'];
  /** OpenAPI form: /tasks/{id}. */
  path: string;
  statuses: number[];
}

/** The method and path Nest mounts a handler on, the path in OpenAPI form (/tasks/{id}/cancel); undefined for a method that is no handler. */
export function routeOf(controller: Type, name: string): { method: RequestMethod; path: string } | undefined {
  const handler = controller.prototype[name] as object;
  const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
  if (method === undefined || name === 'constructor') return undefined;
  const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
  const sub = String(Reflect.getMetadata(PATH_METADATA, handler) ?? '');
  return { method, path: `/${[base, sub].filter((p) => p && p !== '/').join('/')}`.replace(/\/:(\w+)/g, '/{$1}') };
}

/** Every route of `controllers`, as OpenAPI names it, with the statuses it documents. */
export function routesOf(controllers: Type[]): (RouteConfig & { answers?: Answers })[] {
  return controllers.flatMap((controller) =>
    Object.getOwnPropertyNames(controller.prototype).flatMap((name) => {
      const route = routeOf(controller, name);
      if (!route) return [];
      const { method, path } = route;
      const handler = controller.prototype[name] as object;
      const answers = Reflect.getMetadata(ANSWERS, handler) as Answers | undefined;
      const okStatus = (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) ?? (method === RequestMethod.POST ? 201 : 200);
      const request = requestOf(controller, name);
      const takesInput = Boolean(request.body || request.query || request.params || answers?.headers);
      const responses: Record<number, ResponseConfig> = {
        [okStatus]: {
          description: answers?.ok.description ?? 'done',
          ...(answers?.ok.schema && okStatus !== 204 && { content: Object.fromEntries([answers.ok.contentType ?? 'application/json'].flat().map((type) => [type, { schema: answers.ok.schema! }])) }),
        },
      };
      const problem = (description: string): ResponseConfig => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } } });
      if (takesInput) responses[400] = problem('invalid input: `issues` names each field and its fix');
      if (!answers?.open) {
        responses[401] = problem('no known bearer token');
        const repoFrom = answers?.repoFrom ?? [];
        const limited = repoFrom.some((source) => source === 'body' || source === 'query' || source === 'path')
          ? ', or may not act on the repository named'
          : repoFrom.length === 0
            ? ', or is limited to some repositories (this route spans all)'
            : '';
        if (answers?.scope !== 'any') responses[403] = problem(`the token lacks the scope ${answers?.scope ?? 'admin'}${limited}`);
      }
      if (request.params) responses[404] = problem('nothing by that id');
      if (request.body) responses[413] = problem(`a body over ${JSON_BODY_LIMIT_TEXT}: \`issues\` names \`body\``);
      for (const [status, why] of Object.entries(answers?.problems ?? {})) responses[Number(status)] = problem(why);
      // A 429 always says when to come back (the budget's reset).
      if (responses[429]) responses[429] = { ...responses[429], headers: { 'Retry-After': { description: 'seconds until the daily budget resets', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } } } };
      responses[500] = problem("Errand failed to answer; the server's log has the details");
      responses[503] = problem('Temporal did not answer; try again after Retry-After seconds');
      const verb = VERBS[method];
      if (!verb) return [];
      return [{ method: verb, path, summary: answers?.summary, description: answers?.description, request: { ...request, ...(answers?.headers && { headers: answers.headers }) }, responses, ...(!answers?.open && { security: [{ bearer: answers?.scope === 'any' ? [] : [answers?.scope ?? 'admin'] }] }), answers }];
    }),
  );
}

/** The request a handler validates, from the ZodPipes on its @Body, @Query and @Param arguments. */
function requestOf(controller: Type, name: string): NonNullable<RouteConfig['request']> {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<string, { data?: string; pipes?: unknown[] }>;
  const request: NonNullable<RouteConfig['request']> = {};
  const params: Record<string, z.ZodType> = {};
  for (const [key, arg] of Object.entries(args)) {
    const type = Number(key.split(':')[0]);
    const pipe = arg.pipes?.find((p): p is ZodPipe<z.ZodType> => p instanceof ZodPipe);
    if (!pipe) continue;
    if (type === BODY) request.body = { content: { 'application/json': { schema: pipe.schema } } };
    if (type === QUERY) request.query = objectOf(pipe.schema);
    if (type === PARAM && arg.data) params[arg.data] = pipe.schema;
  }
  if (Object.keys(params).length) request.params = z.object(params);
  return request;
}

/** A query's schema as an object of its fields (a refined object keeps its shape). */
function objectOf(schema: z.ZodType): z.ZodObject {
  if (schema instanceof z.ZodObject) return schema;
  throw new Error('a query is validated by an object schema');
}

/**
 * The document of `controllers`. `guarded`: the server has API tokens; without them no route
 * asks for one, so none says it does (nor that it answers 401 for the want of one).
 */
export function openApiDocument(controllers: Type[], info: { version: string; serverUrl?: string; guarded: boolean }): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  if (info.guarded) registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: `a token from ERRAND_API_TOKENS_FILE; each operation names the scope it needs (${SCOPES.join(', ')}; admin has all)` });
  for (const { answers, ...route } of routesOf(controllers)) {
    if (!info.guarded && !answers?.open) {
      const { 401: _unauthorized, 403: _forbidden, ...responses } = route.responses;
      registry.registerPath({ ...route, responses, security: undefined });
    } else registry.registerPath(route);
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Errand API', version: info.version, description: 'Coding tasks run by agents in sandboxes, as Temporal workflows. Every error is RFC 9457 problem details.' },
    ...(info.serverUrl && { servers: [{ url: info.serverUrl }] }),
  });
}
