// OpenTelemetry tracing, on when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
// is set: an API request, the workflow it starts, and every activity of that workflow are one
// trace. The API opens a span per request (continuing a caller's `traceparent`); Temporal's
// OpenTelemetry interceptors carry the context in Temporal headers from the client to the
// workflow and on to its activities (workflow spans leave the sandboxed workflow through a sink).
// The exporter reads the standard OTEL_* variables (endpoint, headers, protocol timeouts); the
// service name is OTEL_SERVICE_NAME or errand-api / errand-worker.
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';

export interface Tracing {
  tracer: Tracer;
  processor: SpanProcessor;
  resource: Resource;
  /** Sends what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** Whether the environment asks for traces. */
export const tracingWanted = (env: NodeJS.ProcessEnv = process.env) => Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);

/**
 * Tracing for this thread (OpenTelemetry's globals are per thread): undefined unless the
 * environment asks for it or `exporter` is given (tests pass an in-memory one, exported span by span).
 */
export function startTracing(service: string, exporter?: SpanExporter): Tracing | undefined {
  if (!exporter && !tracingWanted()) return undefined;
  const resource = new Resource({ 'service.name': process.env.OTEL_SERVICE_NAME ?? service });
  const processor = exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager(), propagator: new W3CTraceContextPropagator() });
  return { tracer: provider.getTracer('errand'), processor, resource, shutdown: () => provider.shutdown() };
}

/** The Temporal client's interceptors: starts, signals, updates and queries carry the active span. */
export function tracingClientInterceptors(tracing: Tracing | undefined) {
  return tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] } : undefined;
}

/** What a worker adds with tracing on: workflow and activity spans, linked to the caller's. */
export function tracingWorkerOptions(tracing: Tracing | undefined): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  if (!tracing) return {};
  return {
    interceptors: {
      workflowModules: [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.processor, tracing.resource) },
  };
}

/**
 * An Express middleware: one server span per request, named by the route it matched once it is
 * answered (never by the path, which holds ids), the caller's trace continued.
 */
export function requestSpans(tracing: Tracing) {
  return (req: IncomingMessage & { route?: { path?: string } }, res: ServerResponse, next: () => void) => {
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracing.tracer.startSpan(`${req.method} request`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? '' } }, parent);
    res.once('finish', () => {
      const route = req.route?.path ?? 'unmatched';
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
