import { context as otelContext, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type {
  ChatCompletionRequest,
  CompletionUsage,
  GatewayError,
  Logger,
  Plugin,
  RequestContext,
  ResponseOutcome,
  UpstreamCall,
} from '@switchyard/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ObservabilityOptions {
  /** Serve Prometheus metrics on this path. Default `/metrics`; `false` to serve none. */
  metricsPath?: string | false;
  /** The prom-client registry; a fresh one by default (no clash with an application's own metrics). */
  registry?: Registry;
  /** Log one line per request. Default true. */
  requestLog?: boolean;
  /**
   * Put prompt and answer text in the request log. Default false: prompts are the users' data and stay out
   * of logs unless an operator decides otherwise.
   */
  logContent?: boolean;
  /** Distinct model and provider label values kept before the rest are counted as `other`. Default 100. */
  maxLabelValues?: number;
  /** Circuit-breaker states to export, e.g. from the fallback plugin's `health`. */
  breakers?: () => Iterable<[target: string, state: 'closed' | 'open' | 'half-open']>;
  /** Tracer to use; default `trace.getTracer('switchyard')`, a no-op until an OpenTelemetry SDK is registered. */
  tracer?: Tracer;
}

interface ObservationState {
  span: Span;
}

declare module '@switchyard/core' {
  interface RequestState {
    observability?: ObservationState;
  }
}

/** Keeps label cardinality bounded: after `max` distinct values, new ones are reported as `other`. */
class BoundedLabel {
  readonly #seen = new Set<string>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  value(raw: string | undefined): string {
    if (raw === undefined || raw === '') return 'none';
    if (this.#seen.has(raw)) return raw;
    if (this.#seen.size >= this.#max) return 'other';
    this.#seen.add(raw);
    return raw;
  }
}

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** What other plugins leave on the state that the log and metrics report; read by shape, not imported. */
interface PeerState {
  virtualKey?: { id?: string };
  billing?: { costUsd?: number; cost_usd?: number };
  cache?: { status?: string };
}

export interface ObservabilityPlugin extends Plugin {
  readonly registry: Registry;
}

/**
 * Logs, metrics and traces for every request. Register it last: its `wrapUpstream` is then the innermost
 * wrapper and sees every upstream attempt, and its `onResponse` sees what every other plugin decided.
 */
export function createObservabilityPlugin(options: ObservabilityOptions = {}): ObservabilityPlugin {
  const registry = options.registry ?? new Registry();
  const maxLabels = options.maxLabelValues ?? 100;
  const models = new BoundedLabel(maxLabels);
  const providers = new BoundedLabel(maxLabels);
  const tracer = options.tracer ?? trace.getTracer('switchyard');
  const requestLog = options.requestLog ?? true;
  let logger: Logger | undefined;

  const requests = new Counter({ name: 'switchyard_requests_total', help: 'Requests answered, by operation, served model, provider, HTTP status and cache outcome.', labelNames: ['operation', 'model', 'provider', 'status', 'cache'], registers: [registry] });
  const errors = new Counter({ name: 'switchyard_errors_total', help: 'Failed requests by OpenAI error type and status.', labelNames: ['type', 'status'], registers: [registry] });
  const rateLimited = new Counter({ name: 'switchyard_rate_limit_rejections_total', help: 'Requests refused with 429 by a gateway limit (rate limit or budget).', labelNames: ['code'], registers: [registry] });
  const duration = new Histogram({ name: 'switchyard_request_duration_seconds', help: 'Time from arrival to the end of the answer.', labelNames: ['operation', 'provider', 'streamed'], buckets: latencyBuckets, registers: [registry] });
  const timeToFirstChunk = new Histogram({ name: 'switchyard_time_to_first_chunk_seconds', help: 'Time from arrival to the first stream chunk sent.', labelNames: ['provider'], buckets: latencyBuckets, registers: [registry] });
  const upstreamDuration = new Histogram({ name: 'switchyard_upstream_duration_seconds', help: 'Duration of each upstream attempt until its answer or first chunk.', labelNames: ['provider', 'outcome'], buckets: latencyBuckets, registers: [registry] });
  const tokens = new Counter({ name: 'switchyard_tokens_total', help: 'Tokens by kind (prompt, cached, completion, reasoning).', labelNames: ['kind', 'model', 'provider'], registers: [registry] });
  const cost = new Counter({ name: 'switchyard_cost_usd_total', help: 'Cost in USD of answered requests, as billed.', labelNames: ['model', 'provider'], registers: [registry] });
  const cacheResults = new Counter({ name: 'switchyard_cache_results_total', help: 'Cache outcomes: hit, semantic-hit, miss, bypass.', labelNames: ['result'], registers: [registry] });
  const inFlight = new Gauge({ name: 'switchyard_in_flight_requests', help: 'Requests being answered now (streams included).', registers: [registry] });
  new Gauge({
    name: 'switchyard_circuit_breaker_state',
    help: 'Circuit breaker per target: 0 closed, 1 half-open, 2 open.',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      if (!options.breakers) return;
      this.reset();
      const value = { closed: 0, 'half-open': 1, open: 2 } as const;
      for (const [target, state] of options.breakers()) this.set({ target: models.value(target) }, value[state]);
    },
  });

  function record(context: RequestContext, status: number, outcome: ResponseOutcome | undefined, error: GatewayError | undefined, durationMs: number): void {
    const peer = context.state as PeerState;
    const provider = providers.value(context.target?.provider.id);
    const model = models.value(context.target?.model);
    const cacheStatus = peer.cache?.status ?? 'none';
    const costUsd = peer.billing?.costUsd ?? peer.billing?.cost_usd;
    const usage = outcome?.usage as CompletionUsage | undefined;
    requests.inc({ operation: context.operation, model, provider, status: String(status), cache: cacheStatus });
    duration.observe({ operation: context.operation, provider, streamed: String(outcome?.streamed ?? false) }, durationMs / 1000);
    if (context.timeToFirstChunkMs !== undefined) timeToFirstChunk.observe({ provider }, context.timeToFirstChunkMs / 1000);
    if (peer.cache?.status) cacheResults.inc({ result: peer.cache.status });
    if (usage) {
      tokens.inc({ kind: 'prompt', model, provider }, usage.prompt_tokens ?? 0);
      tokens.inc({ kind: 'completion', model, provider }, usage.completion_tokens ?? 0);
      const cached = usage.prompt_tokens_details?.cached_tokens;
      if (cached) tokens.inc({ kind: 'cached', model, provider }, cached);
      const reasoning = usage.completion_tokens_details?.reasoning_tokens;
      if (reasoning) tokens.inc({ kind: 'reasoning', model, provider }, reasoning);
    }
    if (costUsd) cost.inc({ model, provider }, costUsd);
    if (error) {
      errors.inc({ type: error.type, status: String(error.status) });
      if (error.status === 429 && error.provider === undefined) rateLimited.inc({ code: error.code ?? 'none' });
    }

    if (requestLog && logger) {
      const body = context.body as ChatCompletionRequest | undefined;
      const line: Record<string, unknown> = {
        requestId: context.id,
        keyId: peer.virtualKey?.id,
        operation: context.operation,
        modelRequested: body?.model,
        modelServed: context.target?.model,
        provider: context.target?.provider.id,
        status,
        latencyMs: Math.round(durationMs * 100) / 100,
        ttftMs: context.timeToFirstChunkMs === undefined ? undefined : Math.round(context.timeToFirstChunkMs * 100) / 100,
        streamed: outcome?.streamed,
        aborted: outcome?.aborted || undefined,
        promptTokens: usage?.prompt_tokens,
        completionTokens: usage?.completion_tokens,
        costUsd,
        cache: peer.cache?.status,
        attempts: context.attempts.length,
        errorType: error?.type,
        errorCode: error?.code ?? undefined,
      };
      if (options.logContent && body && Array.isArray(body.messages)) {
        line.messages = body.messages;
        if (outcome?.operation === 'chat') line.answer = outcome.response.choices.map((choice) => choice.message.content);
      }
      if (status >= 500) logger.error(line, 'request failed');
      else logger.info(line, 'request');
    }
  }

  function finishSpan(context: RequestContext, status: number, error: GatewayError | undefined): void {
    const span = context.state.observability?.span;
    if (!span) return;
    span.setAttribute('http.response.status_code', status);
    if (context.target) {
      span.setAttribute('gen_ai.response.model', context.target.model);
      span.setAttribute('gen_ai.system', context.target.provider.id);
    }
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    span.end();
  }

  const wrapUpstream = (next: UpstreamCall): UpstreamCall =>
    async (request) => {
      const parent = request.context.state.observability?.span;
      const span = tracer.startSpan(
        'switchyard.upstream',
        { kind: SpanKind.CLIENT, attributes: { 'gen_ai.system': request.target.provider.id, 'gen_ai.request.model': request.target.modelId } },
        parent ? trace.setSpan(otelContext.active(), parent) : undefined,
      );
      const started = performance.now();
      try {
        const result = await next(request);
        upstreamDuration.observe({ provider: providers.value(request.target.provider.id), outcome: 'ok' }, (performance.now() - started) / 1000);
        span.end();
        return result;
      } catch (error) {
        upstreamDuration.observe({ provider: providers.value(request.target.provider.id), outcome: 'error' }, (performance.now() - started) / 1000);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        span.end();
        throw error;
      }
    };

  return {
    name: 'observability',
    registry,
    setup(api) {
      logger = api.logger;
      if (options.metricsPath !== false) {
        api.router.get(options.metricsPath ?? '/metrics', async (ctx) => {
          ctx.type = registry.contentType;
          ctx.body = await registry.metrics();
        });
      }
    },
    onRequest(context) {
      // Model listings have no onResponse; only requests with a full lifecycle are tracked.
      if (context.operation === 'models') return;
      inFlight.inc();
      const body = context.body as ChatCompletionRequest | undefined;
      const span = tracer.startSpan('switchyard.request', {
        kind: SpanKind.SERVER,
        attributes: { 'switchyard.request_id': context.id, 'switchyard.operation': context.operation, ...(body?.model ? { 'gen_ai.request.model': body.model } : {}) },
      });
      context.state.observability = { span };
    },
    wrapUpstream,
    onResponse(context, outcome) {
      // An answer given early by a plugin registered before this one never passed this onRequest.
      if (context.state.observability) inFlight.dec();
      const status = outcome.aborted ? 499 : 200;
      record(context, status, outcome, undefined, outcome.durationMs);
      finishSpan(context, status, undefined);
    },
    onError(context, error, details) {
      // A request refused before this plugin's onRequest ran was never counted in flight.
      if (context.state.observability) inFlight.dec();
      record(context, error.status, undefined, error, details.durationMs);
      finishSpan(context, error.status, error);
    },
  };
}
