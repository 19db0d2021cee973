import { setTimeout as sleep } from 'node:timers/promises';
import {
  Cancellation,
  type ChatCompletionChunk,
  type ChatContext,
  GatewayError,
  type Plugin,
  type RequestContext,
  type Target,
  toGatewayError,
  type UpstreamCall,
  type UpstreamRequest,
  type UpstreamResult,
} from '@switchyard/core';
import { classifyFailure } from './classify-failure.js';
import { type FallbackConfig, FallbackConfigError, type FallbackConfigInput, parseFallbackConfig, type RouteConfig, type Strategy } from './config.js';
import { type Candidate, orderCandidates } from './strategies.js';
import { HealthRegistry, type TargetHealth } from './target-health.js';

/** Facts about a model that routing uses: the context window for context-length fallback, prices for `cost`. */
export interface ModelFacts {
  contextWindow?: number;
  /** USD per million input tokens. */
  inputPrice?: number;
  /** USD per million output tokens. */
  outputPrice?: number;
}

export interface FallbackOptions extends FallbackConfigInput {
  /** Routing as code: return a group name for the request, or undefined to use the declared rules. */
  route?: (context: ChatContext) => string | undefined;
  /** Looks up facts about `provider/model` (e.g. from the providers package's model catalog). */
  modelFacts?: (model: string) => ModelFacts | undefined;
  /** For tests: the clock, the random source and the wait between retries. */
  now?: () => number;
  random?: () => number;
  wait?: (milliseconds: number, signal: AbortSignal) => Promise<void>;
}

/** The plan for one request: which targets, in which order preference. */
export interface FallbackPlan {
  /** The group the request was routed to, or undefined for a request's own `models` list. */
  group: string | undefined;
  strategy: Strategy;
  targets: Array<{ model: string; weight: number; params?: Record<string, unknown> }>;
}

declare module '@switchyard/core' {
  interface RequestState {
    fallback?: FallbackPlan;
  }
}

export interface FallbackPlugin extends Plugin {
  readonly config: FallbackConfig;
  /** Live breaker state, in-flight counts and latencies per target. */
  readonly health: HealthRegistry;
}

function matchesRoute(route: RouteConfig, context: ChatContext): boolean {
  const { match } = route;
  if (match.model !== undefined && match.model !== context.body.model) return false;
  if (match.headers) {
    for (const [name, value] of Object.entries(match.headers)) {
      if (context.headers[name.toLowerCase()] !== value) return false;
    }
  }
  if (match.metadata) {
    const metadata = context.body.metadata ?? {};
    for (const [key, value] of Object.entries(match.metadata)) if (metadata[key] !== value) return false;
  }
  if (match.body) {
    for (const [key, value] of Object.entries(match.body)) if (context.body[key] !== value) return false;
  }
  return true;
}

/** Whether a chunk carries something the client will see as the answer (not just the role). */
function carriesContent(chunk: ChatCompletionChunk): boolean {
  if (chunk.usage) return true;
  for (const choice of chunk.choices) {
    const delta = choice.delta;
    if (choice.finish_reason || delta.content || delta.reasoning_content || delta.refusal || (delta.tool_calls && delta.tool_calls.length > 0)) return true;
  }
  return false;
}

function requestModels(context: ChatContext): string[] | undefined {
  const models = context.body.models;
  if (models === undefined) return undefined;
  if (!Array.isArray(models) || models.length === 0 || models.some((model) => typeof model !== 'string' || model === '')) {
    throw GatewayError.invalidRequest("'models' must be a non-empty array of model names.", 'models', 'invalid_value');
  }
  if (models.length > 10) throw GatewayError.invalidRequest("'models' may list at most 10 models.", 'models', 'invalid_value');
  return models as string[];
}

/**
 * Routing, retries, fallback chains, circuit breaking and load balancing, as one `wrapUpstream` wrapper.
 *
 * A request is routed to a group (by a rule, by code, by naming the group as its model) or carries its
 * own `models` list; each attempt goes to the best remaining target; transient failures are retried with
 * exponential backoff and full jitter; a stream fails over only until its first content chunk, after which
 * the client has seen output and an error must reach it as an error.
 */
export function createFallbackPlugin(options: FallbackOptions = {}): FallbackPlugin {
  const config = parseFallbackConfig(options);
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const wait = options.wait ?? ((milliseconds, signal) => sleep(milliseconds, undefined, { signal }));
  const health = new HealthRegistry(config.breaker, now);
  const retry = config.retry;

  function priceOf(model: string): number | undefined {
    const facts = options.modelFacts?.(model);
    if (facts?.inputPrice === undefined && facts?.outputPrice === undefined) return undefined;
    return (facts.inputPrice ?? 0) + (facts.outputPrice ?? 0);
  }

  function planFor(context: ChatContext): FallbackPlan | undefined {
    const listed = config.allowRequestModels ? requestModels(context) : undefined;
    if (listed) {
      // The field is the gateway's, not the provider's: it never goes upstream.
      delete context.body.models;
      const models = [...new Set([context.body.model, ...listed])];
      return { group: undefined, strategy: 'ordered', targets: models.map((model) => ({ model, weight: 1 })) };
    }
    const groupName =
      options.route?.(context) ??
      config.routes.find((route) => matchesRoute(route, context))?.group ??
      (Object.hasOwn(config.groups, context.body.model) ? context.body.model : undefined);
    if (groupName === undefined) return undefined;
    const group = config.groups[groupName];
    if (!group) throw GatewayError.modelNotFound(groupName);
    return { group: groupName, strategy: group.strategy, targets: group.targets };
  }

  /** Runs one attempt against one target, with the per-attempt timeouts; streams are peeked to the first content. */
  async function attempt(next: UpstreamCall, request: UpstreamRequest, target: Target, params: Record<string, unknown> | undefined): Promise<UpstreamResult> {
    // Without attempt timeouts the client's own cancellation is the attempt's. With them, one of the
    // attempt's own that follows the client's, detached when the attempt is over.
    const timed = config.timeouts.totalMs !== undefined || config.timeouts.firstByteMs !== undefined;
    const state = new AttemptState(request, target, health.get(target.model), timed ? new Cancellation(request.cancellation) : undefined);
    state.totalTimer = state.startTimer('total', config.timeouts.totalMs);
    state.firstByteTimer = state.startTimer('first byte', config.timeouts.firstByteMs);
    const started = now();
    state.health.inFlight += 1;
    let handedOver = false;
    try {
      const body = params ? { ...request.body, ...params } : request.body;
      const result = await next({ ...request, target, body, cancellation: state.cancellation ?? request.cancellation });
      if (result.type === 'response') {
        state.health.recordLatency(now() - started);
        return result;
      }
      const iterator = result.stream[Symbol.asyncIterator]();
      const buffered: ChatCompletionChunk[] = [];
      let ended = false;
      for (;;) {
        const item = await iterator.next();
        if (item.done) {
          ended = true;
          break;
        }
        buffered.push(item.value);
        if (carriesContent(item.value)) break;
      }
      clearTimeout(state.firstByteTimer);
      state.health.recordLatency(now() - started);
      handedOver = true;
      return { type: 'stream', stream: replayAttempt(state, iterator, buffered, ended), target: result.target };
    } catch (error) {
      throw state.asTimeout(error);
    } finally {
      clearTimeout(state.firstByteTimer);
      if (!handedOver) state.end();
    }
  }

  const wrapUpstream = (next: UpstreamCall): UpstreamCall =>
    async (request) => {
      const { context } = request;
      const plan = context.state.fallback;
      const candidates: Candidate[] = (plan?.targets ?? [{ model: request.target.model, weight: 1 }]).map((target) => {
        const model = context.resolveModel(target.model).model;
        return { model, weight: target.weight, params: target.params, health: health.get(model), price: priceOf(model) };
      });
      const ordered = orderCandidates(candidates, plan?.strategy ?? 'ordered', random);
      if (!ordered.some((candidate) => candidate.health.breaker.isAvailable())) {
        throw new GatewayError({
          message: `Every target for '${context.body.model}' is failing; the gateway is holding off for a cool-down.`,
          status: 503,
          type: 'service_unavailable',
          code: 'circuit_open',
          isRetryable: true,
          retryAfterMs: config.breaker.cooldownMs,
        });
      }
      const deadline = now() + retry.deadlineMs;
      let attempts = 0;
      let lastError: GatewayError | undefined;
      let tooSmallContextWindow: number | undefined;

      for (const candidate of ordered) {
        if (attempts >= retry.maxAttempts || now() >= deadline) break;
        if (tooSmallContextWindow !== undefined) {
          const window = options.modelFacts?.(candidate.model)?.contextWindow;
          if (window !== undefined && window <= tooSmallContextWindow) continue;
        }
        const target = context.resolveModel(candidate.model);
        for (let tryIndex = 0; tryIndex < retry.attemptsPerTarget; tryIndex++) {
          if (attempts >= retry.maxAttempts || now() >= deadline) break;
          const breaker = candidate.health.breaker;
          if (!breaker.tryAcquire()) break;
          attempts += 1;
          try {
            const result = await attempt(next, request, target, candidate.params);
            breaker.recordSuccess();
            return result;
          } catch (error) {
            const failure = toGatewayError(error);
            if (request.cancellation.aborted) {
              breaker.release();
              throw failure;
            }
            lastError = failure;
            const kind = classifyFailure(failure);
            if (kind === 'retry') breaker.recordFailure();
            else breaker.release();
            if (kind === 'fatal') throw failure;
            if (kind === 'content-policy' && !config.contentPolicyFallback) throw failure;
            if (kind === 'context-window') {
              tooSmallContextWindow = options.modelFacts?.(candidate.model)?.contextWindow ?? tooSmallContextWindow;
              break;
            }
            if (kind !== 'retry' || tryIndex + 1 >= retry.attemptsPerTarget) break;
            const backoff = random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** tryIndex);
            if (failure.retryAfterMs !== undefined && failure.retryAfterMs > retry.maxRetryAfterMs) break;
            const delay = Math.max(backoff, failure.retryAfterMs ?? 0);
            if (now() + delay >= deadline) break;
            await wait(delay, request.cancellation.signal);
          }
        }
      }
      throw lastError ?? GatewayError.badGateway(`No target could serve '${context.body.model}'.`);
    };

  return {
    name: 'fallback',
    config,
    health,
    setup({ providers }) {
      for (const [name, group] of Object.entries(config.groups)) {
        group.targets.forEach((target, index) => {
          if (!providers.tryResolve(providers.aliases().get(target.model) ?? target.model)) {
            throw new FallbackConfigError(`groups.${name}.targets[${index}].model`, `no provider serves '${target.model}'`);
          }
        });
        // A group name is a model name clients may use; listing it makes it discoverable in /v1/models.
        if (!providers.aliases().has(name)) providers.setAlias(name, group.targets[0]!.model);
      }
    },
    onRequest(context: RequestContext) {
      if (context.operation !== 'chat') return;
      const chatContext = context as ChatContext;
      const plan = planFor(chatContext);
      if (!plan) return;
      context.state.fallback = plan;
      // Resolving every target up front answers an unknown model with a 404 before any upstream call.
      const listed = plan.group === undefined ? (chatContext.body.model === plan.targets[0]!.model ? -1 : 0) : undefined;
      plan.targets.forEach((target, index) => {
        try {
          context.resolveModel(target.model);
        } catch (error) {
          if (listed === undefined || index + listed < 0 || !GatewayError.isInstance(error)) throw error;
          throw new GatewayError({ message: error.message, status: error.status, type: error.type, code: error.code, param: `models[${index + listed}]` });
        }
      });
      context.target = context.resolveModel(plan.targets[0]!.model);
    },
    wrapUpstream,
  };
}

/**
 * One attempt's timers, cancellation and health accounting, shared by the attempt and the stream it hands
 * over. One object with methods rather than closures made per attempt: a stream keeps what it needs for
 * as long as it is open.
 */
class AttemptState {
  timedOut: 'first byte' | 'total' | undefined = undefined;
  totalTimer: NodeJS.Timeout | undefined = undefined;
  firstByteTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly request: UpstreamRequest,
    readonly target: Target,
    readonly health: TargetHealth,
    /** The attempt's own cancellation, when it has timeouts. */
    readonly cancellation: Cancellation | undefined,
  ) {}

  startTimer(kind: 'first byte' | 'total', milliseconds: number | undefined): NodeJS.Timeout | undefined {
    if (milliseconds === undefined) return undefined;
    return setTimeout(() => {
      this.timedOut ??= kind;
      this.cancellation!.abort(new DOMException(`The ${kind} timeout passed.`, 'TimeoutError'));
    }, milliseconds);
  }

  /** A failure caused by the attempt's own timeout is a timeout error, not the abort it looked like. */
  asTimeout(error: unknown): unknown {
    return this.timedOut && !this.request.cancellation.aborted
      ? GatewayError.timeout(`The upstream model '${this.target.model}' passed its ${this.timedOut} timeout.`, this.target.provider.id)
      : error;
  }

  /** The attempt is over: no longer in flight, no timer left, detached from the client's cancellation. */
  end(): void {
    this.health.inFlight -= 1;
    clearTimeout(this.totalTimer);
    this.cancellation?.detach();
  }
}

/**
 * A peeked stream handed on: the chunks read while peeking, then the rest. Module-level, not a generator
 * function made per attempt: each of those comes with a prototype object of its own (about half a
 * kilobyte more per open stream).
 */
async function* replayAttempt(
  state: AttemptState,
  iterator: AsyncIterator<ChatCompletionChunk>,
  buffered: ChatCompletionChunk[],
  ended: boolean,
): AsyncGenerator<ChatCompletionChunk> {
  let finished = ended;
  try {
    // Taken out as they are sent, so the stream does not hold its first chunks for as long as it is open.
    for (let chunk = buffered.shift(); chunk !== undefined; chunk = buffered.shift()) yield chunk;
    while (!finished) {
      const item = await iterator.next();
      if (item.done) {
        finished = true;
        break;
      }
      yield item.value;
    }
  } catch (error) {
    const failure = toGatewayError(state.asTimeout(error));
    if (failure.isRetryable) state.health.breaker.recordFailure();
    throw failure;
  } finally {
    state.end();
    if (!finished) void iterator.return?.()?.catch(() => {});
  }
}
