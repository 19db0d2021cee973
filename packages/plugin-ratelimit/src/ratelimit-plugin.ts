import {
  type ChatCompletionRequest,
  type CompletionUsage,
  type EmbeddingRequest,
  GatewayError,
  type Plugin,
  uniqueId,
  type RequestContext,
} from '@switchyard/core';
import { MemoryRateLimitStore } from './memory-store.js';
import { type FailurePolicy, RedisRateLimitStore } from './redis-store.js';
import type { AdmitResult, RateLimitRule, RateLimitStore, RateRule } from './store.js';

/** Limits for one identity. Any left out is not enforced. */
export interface Limits {
  /** Requests per minute. */
  rpm?: number | null;
  /** Tokens (input + output) per minute. */
  tpm?: number | null;
  /** Requests in flight at once. */
  maxConcurrency?: number | null;
}

/** Who is calling, and the limits their record carries (e.g. a virtual key's). */
export interface Identity extends Limits {
  id: string;
}

export interface RateLimitOptions {
  /** `memory` (default), `{ redis: { url, failurePolicy } }`, or a store of your own. */
  store?: 'memory' | { redis: { url: string; failurePolicy?: FailurePolicy; keyPrefix?: string; commandTimeoutMs?: number } } | RateLimitStore;
  /**
   * Finds the caller. Default: the virtual key the billing plugin put on `context.state.virtualKey`
   * (its `rpm`, `tpm`, `max_concurrency`); requests without one are limited per client IP.
   */
  identify?: (context: RequestContext) => Identity | undefined;
  /** Limits for identified callers whose record sets none. */
  defaults?: Limits;
  /** Limits per client IP for requests with no identity. */
  anonymous?: Limits;
  /** Extra limits per identity × model, by `provider/model`: `{ 'openai/gpt-4o': { rpm: 100 } }`. */
  models?: Record<string, Omit<Limits, 'maxConcurrency'>>;
  /** Output tokens assumed at admission when the request sets no `max_tokens`. Default 512. */
  defaultOutputTokens?: number;
  /** How long a concurrency slot is held if its gateway dies without releasing it. Default 10 minutes. */
  leaseMs?: number;
}

interface Admission {
  tokenRules: RateRule[];
  estimate: number;
  concurrency?: { key: string; member: string };
  settled: boolean;
  /** The concurrency slot has been given back (at the latest when the request settles). */
  released: boolean;
}

declare module '@switchyard/core' {
  interface RequestState {
    rateLimit?: Admission;
  }
}

const minute = 60_000;

/** What the default identification reads: the billing plugin's key record, by structure. */
interface KeyRecordShape {
  id: string;
  rpm?: number | null;
  tpm?: number | null;
  max_concurrency?: number | null;
  maxConcurrency?: number | null;
}

function identifyByVirtualKey(context: RequestContext): Identity | undefined {
  const key = (context.state as { virtualKey?: KeyRecordShape }).virtualKey;
  if (!key) return undefined;
  return { id: key.id, rpm: key.rpm, tpm: key.tpm, maxConcurrency: key.maxConcurrency ?? key.max_concurrency };
}

function isChatRequest(body: ChatCompletionRequest | EmbeddingRequest): body is ChatCompletionRequest {
  return Array.isArray((body as ChatCompletionRequest).messages);
}

/** A cheap prompt estimate, about four characters a token: admission must not cost a tokenizer run. */
export function estimatePromptTokens(body: ChatCompletionRequest | EmbeddingRequest): number {
  if (isChatRequest(body)) {
    let characters = 0;
    for (const message of body.messages) {
      const content = message.content;
      if (typeof content === 'string') characters += content.length;
      else if (Array.isArray(content)) for (const part of content) characters += 'text' in part && typeof part.text === 'string' ? part.text.length : 1_000;
      if (message.role === 'assistant' && message.tool_calls) for (const call of message.tool_calls) characters += call.function.arguments.length + call.function.name.length;
      characters += 16;
    }
    if (body.tools) characters += JSON.stringify(body.tools).length;
    return Math.ceil(characters / 4);
  }
  const input = (body as EmbeddingRequest).input;
  if (typeof input === 'string') return Math.ceil(input.length / 4);
  let total = 0;
  for (const item of input) total += typeof item === 'string' ? Math.ceil(item.length / 4) : Array.isArray(item) ? item.length : 1;
  return total;
}

/** OpenAI's duration format for reset headers: `20ms`, `1.5s`, `6m0s`. */
export function formatResetDuration(milliseconds: number): string {
  if (milliseconds < 1_000) return `${Math.max(0, Math.ceil(milliseconds))}ms`;
  if (milliseconds < minute) return `${Number((milliseconds / 1_000).toFixed(3))}s`;
  const minutes = Math.floor(milliseconds / minute);
  return `${minutes}m${Math.round((milliseconds - minutes * minute) / 1_000)}s`;
}

function usedTokens(usage: CompletionUsage | { prompt_tokens: number; total_tokens: number } | undefined): number | undefined {
  if (!usage) return undefined;
  return usage.total_tokens ?? usage.prompt_tokens;
}

export interface RateLimitPlugin extends Plugin {
  readonly store: RateLimitStore;
}

/**
 * Requests-per-minute, tokens-per-minute and concurrency limits per virtual key, per key × model, and per
 * client IP for unauthenticated traffic. Tokens are admitted on an estimate and reconciled with the real
 * usage when the answer ends, so the tokens-per-minute count converges on the truth.
 */
export function createRateLimitPlugin(options: RateLimitOptions = {}): RateLimitPlugin {
  const configured = options.store ?? 'memory';
  const store: RateLimitStore =
    configured === 'memory'
      ? new MemoryRateLimitStore()
      : 'redis' in configured
        ? new RedisRateLimitStore(configured.redis)
        : configured;

  const identify = options.identify ?? identifyByVirtualKey;
  const defaultOutputTokens = options.defaultOutputTokens ?? 512;
  const leaseMs = options.leaseMs ?? 10 * minute;

  function setHeaders(context: RequestContext, rules: readonly RateLimitRule[], result: AdmitResult, requestRule: number, tokenRule: number): void {
    if (result.outcomes.length === 0) return;
    const write = (suffix: 'requests' | 'tokens', index: number) => {
      if (index < 0) return;
      const outcome = result.outcomes[index]!;
      context.setHeader(`x-ratelimit-limit-${suffix}`, String(rules[index]!.limit));
      context.setHeader(`x-ratelimit-remaining-${suffix}`, String(outcome.remaining));
      context.setHeader(`x-ratelimit-reset-${suffix}`, formatResetDuration(outcome.resetMs));
    };
    write('requests', requestRule);
    write('tokens', tokenRule);
  }

  function releaseSlot(admission: Admission): Promise<void> {
    if (!admission.concurrency || admission.released) return Promise.resolve();
    admission.released = true;
    return store.release(admission.concurrency.key, admission.concurrency.member);
  }

  async function settle(context: RequestContext, actualTokens: number | undefined): Promise<void> {
    const admission = context.state.rateLimit;
    if (!admission || admission.settled) return;
    admission.settled = true;
    const work: Array<Promise<void>> = [releaseSlot(admission)];
    // A request that produced nothing gives its whole estimate back; otherwise the difference is settled.
    const delta = (actualTokens ?? 0) - admission.estimate;
    for (const rule of admission.tokenRules) work.push(store.adjust(rule, delta));
    await Promise.all(work);
  }

  return {
    name: 'ratelimit',
    store,
    setup({ logger }) {
      // Outages are reported through the gateway's logger unless the store was given its own.
      if (store instanceof RedisRateLimitStore) store.logger ??= logger;
    },
    async onRequest(context) {
      if (context.operation !== 'chat' && context.operation !== 'embeddings') return;
      const body = context.body as ChatCompletionRequest | EmbeddingRequest;
      const identity = identify(context);
      const scope = identity ? `{key:${identity.id}}` : `{ip:${context.clientIp}}`;
      const limits: Limits = identity
        ? { rpm: identity.rpm ?? options.defaults?.rpm, tpm: identity.tpm ?? options.defaults?.tpm, maxConcurrency: identity.maxConcurrency ?? options.defaults?.maxConcurrency }
        : (options.anonymous ?? {});
      let model: string = body.model;
      try {
        model = context.resolveModel(body.model).model;
      } catch {
        // An unknown model is answered with a 404 later; its limits are counted under the requested name.
      }
      const modelLimits = options.models?.[model];
      const requested = isChatRequest(body) ? (body.max_completion_tokens ?? body.max_tokens ?? defaultOutputTokens) : 0;
      const estimate = estimatePromptTokens(body) + requested;

      const rules: RateLimitRule[] = [];
      const tokenRules: RateRule[] = [];
      let requestRule = -1;
      let tokenRule = -1;
      if (limits.rpm) {
        requestRule = rules.length;
        rules.push({ kind: 'rate', key: `${scope}:rpm`, limit: limits.rpm, periodMs: minute, cost: 1 });
      }
      if (limits.tpm) {
        tokenRule = rules.length;
        const rule: RateRule = { kind: 'rate', key: `${scope}:tpm`, limit: limits.tpm, periodMs: minute, cost: estimate };
        rules.push(rule);
        tokenRules.push(rule);
      }
      if (modelLimits?.rpm) rules.push({ kind: 'rate', key: `${scope}:model:${model}:rpm`, limit: modelLimits.rpm, periodMs: minute, cost: 1 });
      if (modelLimits?.tpm) {
        const rule: RateRule = { kind: 'rate', key: `${scope}:model:${model}:tpm`, limit: modelLimits.tpm, periodMs: minute, cost: estimate };
        rules.push(rule);
        tokenRules.push(rule);
      }
      let concurrency: Admission['concurrency'];
      if (limits.maxConcurrency) {
        concurrency = { key: `${scope}:concurrency`, member: uniqueId() };
        rules.push({ kind: 'concurrency', key: concurrency.key, limit: limits.maxConcurrency, leaseMs, member: concurrency.member });
      }
      if (rules.length === 0) return;

      const result = await store.admit(rules);
      setHeaders(context, rules, result, requestRule, tokenRule);
      if (!result.allowed) {
        const rule = rules[result.rejectedRule!]!;
        const what = rule.kind === 'concurrency' ? 'concurrent requests' : rule.key.endsWith('tpm') ? 'tokens per minute' : 'requests per minute';
        const tooLarge = result.retryAfterMs === undefined;
        throw GatewayError.rateLimited(
          tooLarge
            ? `Request too large: it needs about ${estimate} tokens and the limit is ${rule.limit} ${what}. Shorten the prompt or lower max_tokens.`
            : `Rate limit reached: ${rule.limit} ${what}${rule.key.includes(':model:') ? ` for ${model}` : ''}. Try again in ${formatResetDuration(result.retryAfterMs!)}.`,
          result.retryAfterMs,
        );
      }
      // Only an admitted request holds anything to give back.
      if (result.outcomes.length === 0) return;
      const admission: Admission = { tokenRules, estimate, concurrency, settled: false, released: false };
      context.state.rateLimit = admission;
      if (concurrency) {
        // A client that hung up is no longer in flight: its slot is free now, not once every plugin's
        // response hook has run (billing may still be counting the tokens of what was streamed).
        context.cancellation.subscribe(() => void releaseSlot(admission));
      }
    },
    async onResponse(context, outcome) {
      let tokens = usedTokens(outcome.usage);
      if (tokens === undefined && outcome.operation === 'chat') {
        // No usage (a stream cut short): what was generated, estimated like the prompt.
        const generated = outcome.response.choices.reduce((sum, choice) => sum + (choice.message.content?.length ?? 0) + (choice.message.reasoning_content?.length ?? 0), 0);
        tokens = (context.state.rateLimit?.estimate ?? 0) - ((context.body as ChatCompletionRequest).max_completion_tokens ?? (context.body as ChatCompletionRequest).max_tokens ?? defaultOutputTokens) + Math.ceil(generated / 4);
      }
      await settle(context, tokens);
    },
    async onError(context, _error, details) {
      await settle(context, usedTokens(details.partial?.usage));
    },
    async onClose() {
      await store.close();
    },
  };
}

