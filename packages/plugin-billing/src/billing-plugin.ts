import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatContext,
  type Clock,
  type EmbeddingRequest,
  type ErrorDetails,
  GatewayError,
  type Logger,
  type Plugin,
  type PluginSetupApi,
  type RequestContext,
  type ResponseOutcome,
  type Target,
  Tokens,
  type UpstreamWrapper,
  uniqueId,
} from '@switchyard/core';
import type { InjectionToken } from 'tsyringe';
import { registerAdminRoutes } from './admin-api.js';
import {
  completionTexts,
  maxOutputTokens,
  promptTexts,
  promptTokensUpperBound,
  type TokenCounter,
  WorkerTokenCounter,
} from './estimate.js';
import { KeyService } from './key-service.js';
import { credentialFrom, constantTimeEqual, isVirtualKeyFormat } from './keys.js';
import { LedgerWriter } from './ledger-writer.js';
import { isoTimestamp } from './periods.js';
import {
  type ConfiguredPrice,
  costOf,
  formatUsd,
  type ModelPrice,
  PriceBook,
  type PriceLookup,
  type UsageBreakdown,
  usageBreakdown,
  worstCaseCost,
} from './prices.js';
import { BillingStore, type LedgerOutcome, type LedgerRow, type VirtualKey } from './store/billing-store.js';
import { openPGlite } from './store/pglite-client.js';
import { openPostgres, type PostgresClientOptions } from './store/postgres-client.js';
import type { SqlClient } from './store/sql-client.js';

/** Where keys and the ledger live. */
export type BillingStoreOption =
  /** PostgreSQL: several gateways may share it. */
  | { postgres: string | PostgresClientOptions }
  /** Embedded PostgreSQL (PGlite) in a data directory, or `memory://`: one gateway, nothing to run. */
  | { embedded: string }
  /** A connection you manage; the plugin does not close it. */
  | { client: SqlClient };

export interface BillingOptions {
  store: BillingStoreOption;
  /** Schema of the billing tables. Default `switchyard`. */
  schema?: string;
  /** The admin secret for `/admin/*`. Without one the admin API is open: for local development only. */
  masterKey?: string;
  /**
   * Whether requests without a virtual key are served (and recorded without a key). Default: true when
   * there is no master key (development), false otherwise. A presented `sk-sy-` key is always checked.
   */
  allowAnonymous?: boolean;
  /** Per-model prices, by `provider/model` or bare model id; they win over every other source. */
  prices?: Record<string, ConfiguredPrice | ModelPrice>;
  /** Parsed LiteLLM `model_prices_and_context_window.json` documents, later ones winning. */
  litellmPrices?: unknown[];
  /** Prices from the providers' model catalog, asked last. */
  catalog?: PriceLookup;
  /**
   * What to do with a model that has no price. `reject-budgeted` (default): keys with a budget or
   * credits cannot use it (they would use it for free); other keys can, at zero cost. `free`: anyone.
   */
  unpricedModels?: 'reject-budgeted' | 'free';
  /** Output tokens assumed at admission when neither the request nor the price sets a limit. Default 4096. */
  defaultMaxOutputTokens?: number;
  /** How long key lookups are cached. Default 5 s. */
  keyCacheTtlMs?: number;
  /** A reservation older than this is released (its gateway died before settling). Default 1 hour. */
  reservationTtlMs?: number;
  ledger?: {
    batchSize?: number;
    flushIntervalMs?: number;
    /** Where rows unwritable at shutdown are saved and replayed from at the next start. */
    spillDirectory?: string;
    /** How long shutdown keeps retrying the database before saving rows to the spill directory. Default 10 s. */
    closeDeadlineMs?: number;
    /**
     * Most rows held in memory while the database is unreachable. Default 50,000. Past it, rows go to the
     * spill directory and are written from there when the database answers (without one: to the error log).
     */
    maxPendingRows?: number;
  };
  /** Counts tokens when a provider reports no usage. Default: gpt-tokenizer in a worker thread. */
  tokenCounter?: TokenCounter;
}

/** Services the plugin registers in the gateway's container, for other plugins and applications. */
export const BillingTokens = {
  Store: Symbol.for('switchyard.billing.Store') as InjectionToken<BillingStore>,
  Keys: Symbol.for('switchyard.billing.Keys') as InjectionToken<KeyService>,
  Ledger: Symbol.for('switchyard.billing.Ledger') as InjectionToken<LedgerWriter>,
  Prices: Symbol.for('switchyard.billing.Prices') as InjectionToken<PriceBook>,
} as const;

/** Billing's record of one request, on `context.state.billing`. */
export interface BillingRequestState {
  /** The ledger row's id, also the reservation's: unique even when a client repeats `x-request-id`. */
  ledgerId: string;
  /** Wall-clock time the request arrived. */
  arrivedAt: number;
  keyId: string | null;
  /** Worst-case cost held for the request, in dollars. */
  reservedUsd: number;
  /** Set once the ledger row is queued: a request is recorded exactly once. */
  recorded: boolean;
  /** What the request cost, once recorded: for logs and metrics. */
  costUsd?: number;
}

declare module '@switchyard/core' {
  interface RequestState {
    /** The caller's virtual key and its limits: rate limiting and cache scoping read it. */
    virtualKey?: VirtualKey;
    billing?: BillingRequestState;
  }
}

export interface BillingPlugin extends Plugin {
  /** Available once the gateway is ready (`await gateway.ready`). */
  readonly store: BillingStore;
  readonly keys: KeyService;
  readonly ledger: LedgerWriter;
  readonly prices: PriceBook;
  /** `open` when requests without a key are served. */
  readonly mode: 'enforcing' | 'open';
}

/** What the structure of the fallback plugin's plan looks like to billing: only the target names. */
interface PlanShape {
  targets?: Array<{ model: string }>;
}

function isModelAllowed(allowed: readonly string[] | null, requested: string, served: string | undefined): boolean {
  if (allowed === null) return true;
  for (const pattern of allowed) {
    if (pattern === '*' || pattern === requested || pattern === served) return true;
    if (pattern.endsWith('/*')) {
      const prefix = pattern.slice(0, -1);
      if (requested.startsWith(prefix) || served?.startsWith(prefix)) return true;
    }
  }
  return false;
}

function isBudgeted(key: VirtualKey): boolean {
  return key.max_budget_usd !== null || key.prepaid;
}

function quotaError(message: string): GatewayError {
  return GatewayError.rateLimited(message, undefined, 'insufficient_quota');
}

/**
 * Virtual keys, budgets and prepaid credits with reservation, prices, and the usage ledger.
 *
 *   onRequest   authenticate → check the model → reserve the worst-case cost (429 when it does not fit)
 *   wrapUpstream raise the reservation when a fallback plan may serve a dearer model
 *   onChunk     price the final usage chunk; show it to clients that asked for usage
 *   onResponse  cost from real usage (tokenizer estimate when none) → header → ledger row (settles)
 *   onError     ledger row for failures and rejections, partial streams billed for what was sent
 *
 * Register it first: later plugins read `context.state.virtualKey`.
 */
export function createBillingPlugin(options: BillingOptions): BillingPlugin {
  const masterKey = options.masterKey || undefined;
  const allowAnonymous = options.allowAnonymous ?? masterKey === undefined;
  const masterKeyLooksVirtual = masterKey !== undefined && isVirtualKeyFormat(masterKey);
  const unpricedPolicy = options.unpricedModels ?? 'reject-budgeted';
  const defaultMaxOutput = options.defaultMaxOutputTokens ?? 4096;
  const reservationTtlMs = options.reservationTtlMs ?? 3_600_000;
  const prices = new PriceBook({ overrides: options.prices, catalog: options.catalog });
  for (const document of options.litellmPrices ?? []) prices.importLiteLLM(document);
  const tokenCounter = options.tokenCounter ?? new WorkerTokenCounter();

  let store: BillingStore | undefined;
  let keys: KeyService | undefined;
  let ledger: LedgerWriter | undefined;
  let ownsClient = false;
  let clock: Clock = { now: () => Date.now() };
  let logger: Logger | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  const warnedUnpriced = new Set<string>();

  const now = () => clock.now();
  const requireStarted = () => {
    if (!store || !keys || !ledger) throw new GatewayError({ message: 'Billing is starting.', status: 503, type: 'service_unavailable', code: 'billing_starting', isRetryable: true });
    return { store, keys, ledger };
  };

  function priceOf(target: Target): ModelPrice | undefined {
    return prices.lookup({ model: target.model, modelId: target.modelId, providerId: target.provider.id });
  }

  /** The price to reserve with, or a refusal when a budgeted key asks for a model nobody priced. */
  function reservationPrice(target: Target, key: VirtualKey): ModelPrice | undefined {
    const price = priceOf(target);
    if (price) return price;
    if (unpricedPolicy === 'reject-budgeted' && isBudgeted(key)) {
      throw GatewayError.permission(
        `The model '${target.model}' has no price configured, so this key's budget cannot cover it. Ask the operator to price it.`,
        'model_not_priced',
        'model',
      );
    }
    return undefined;
  }

  function worstCaseFor(context: RequestContext, target: Target, key: VirtualKey): number {
    const price = reservationPrice(target, key);
    if (!price) return 0;
    const body = context.body as ChatCompletionRequest | EmbeddingRequest;
    const prompt = promptTokensUpperBound(body);
    const output = context.operation === 'chat' ? maxOutputTokens(body as ChatCompletionRequest, price.maxOutputTokens, defaultMaxOutput) : 0;
    return worstCaseCost(prompt, output, price);
  }

  /** Holds `amount` more of the key's money for this request; throws 429 `insufficient_quota` when it does not fit. */
  async function hold(context: RequestContext, key: VirtualKey, amount: number): Promise<void> {
    const billing = context.state.billing!;
    const { store: billingStore } = requireStarted();
    let fits: boolean;
    try {
      fits =
        billing.reservedUsd === 0
          ? await billingStore.reserve(key.id, billing.ledgerId, formatUsd(amount), now())
          : await billingStore.extendReservation(key.id, billing.ledgerId, formatUsd(amount - billing.reservedUsd), now());
    } catch (error) {
      // Without the database a budget cannot be checked; refusing keeps the promise that it never overshoots.
      throw new GatewayError({
        message: 'The gateway cannot check this key\'s budget right now. Retry shortly.',
        status: 503,
        type: 'service_unavailable',
        code: 'billing_unavailable',
        isRetryable: true,
        retryAfterMs: 1_000,
        cause: error,
      });
    }
    if (fits) {
      billing.reservedUsd = amount;
      return;
    }
    const current = await billingStore.getKey(key.id, now()).catch(() => undefined);
    context.setHeader('x-should-retry', 'false');
    const needed = `$${formatUsd(amount)}`;
    if (current && current.credits_available_usd !== null && current.credits_available_usd < amount) {
      throw quotaError(
        `You exceeded your current quota: this key has $${formatUsd(current.credits_available_usd)} of prepaid credits available and this request may cost up to ${needed}. Add credits or lower max_tokens.`,
      );
    }
    const remaining = current?.budget_remaining_usd;
    const period = current && current.budget_period !== 'none' ? ` (${current.budget_period}, resets ${current.period_ends_at})` : '';
    throw quotaError(
      `You exceeded your current quota: this key's budget has $${formatUsd(remaining ?? 0)} left${period} and this request may cost up to ${needed}. Lower max_tokens or raise the budget.`,
    );
  }

  async function authenticate(context: RequestContext): Promise<VirtualKey | undefined> {
    const credential = credentialFrom(context.headers);
    if (credential === undefined) {
      if (allowAnonymous) return undefined;
      context.setHeader('x-should-retry', 'false');
      throw GatewayError.authentication('You didn\'t provide an API key. Send it as "Authorization: Bearer sk-sy-…" or in the x-api-key header.');
    }
    const virtualFormat = isVirtualKeyFormat(credential);
    // A virtual key is compared with the master key only when the master key could be one: what is
    // skipped says nothing about the master key (the caller knows what it sent), and saves two digests
    // on every request.
    if (masterKey !== undefined && (masterKeyLooksVirtual || !virtualFormat) && constantTimeEqual(credential, masterKey)) return undefined;
    // SDKs insist on some key; in open mode a placeholder that is not one of ours means "no key".
    if (allowAnonymous && !virtualFormat) return undefined;
    const checked = await requireStarted().keys.check(credential);
    if ('error' in checked) {
      context.state.billing!.keyId = checked.keyId;
      context.setHeader('x-should-retry', 'false');
      throw checked.error;
    }
    return checked;
  }

  function checkModels(context: RequestContext, key: VirtualKey, target: Target | undefined): void {
    if (key.models === null) return;
    const body = context.body as ChatCompletionRequest | EmbeddingRequest;
    const names: Array<{ name: string; param: string }> = [{ name: body.model, param: 'model' }];
    const listed = (body as { models?: unknown }).models;
    if (Array.isArray(listed)) listed.forEach((name, index) => typeof name === 'string' && names.push({ name, param: `models[${index}]` }));
    for (const { name, param } of names) {
      let served: string | undefined;
      try {
        served = name === body.model ? (target?.model ?? context.resolveModel(name).model) : context.resolveModel(name).model;
      } catch {
        served = undefined;
      }
      if (!isModelAllowed(key.models, name, served)) {
        context.setHeader('x-should-retry', 'false');
        throw GatewayError.permission(`This API key is not allowed to use the model '${name}'.`, 'model_not_allowed', param);
      }
    }
  }

  function tryResolve(context: RequestContext, model: string): Target | undefined {
    try {
      return context.resolveModel(model);
    } catch {
      // An unknown model is answered 404 by the gateway itself, after every plugin has had its say.
      return undefined;
    }
  }

  /** Usage and cost of what a request produced, counting tokens when the provider reported none. */
  async function measure(
    context: RequestContext,
    usage: Parameters<typeof usageBreakdown>[0],
    response: ChatCompletion | undefined,
    target: Target | undefined,
  ): Promise<{ usage: UsageBreakdown; cost: number; estimated: boolean }> {
    let breakdown: UsageBreakdown;
    let estimated = false;
    if (usage) breakdown = usageBreakdown(usage);
    else {
      estimated = true;
      const prompt = promptTexts(context.body as ChatCompletionRequest | EmbeddingRequest);
      const completion = completionTexts(response);
      const counts = await tokenCounter.count([...prompt.texts, ...completion.texts, ...completion.reasoningTexts]);
      const sum = (from: number, to: number) => counts.slice(from, to).reduce((total, value) => total + value, 0);
      const promptEnd = prompt.texts.length;
      const completionEnd = promptEnd + completion.texts.length;
      const reasoningTokens = sum(completionEnd, counts.length);
      breakdown = {
        promptTokens: sum(0, promptEnd) + prompt.extraTokens,
        cachedTokens: 0,
        cacheWriteTokens: 0,
        completionTokens: sum(promptEnd, completionEnd) + reasoningTokens,
        reasoningTokens,
      };
    }
    const price = target ? priceOf(target) : undefined;
    if (target && !price && !warnedUnpriced.has(target.model)) {
      warnedUnpriced.add(target.model);
      logger?.warn({ model: target.model }, 'model has no price: its requests are recorded at zero cost');
    }
    return { usage: breakdown, cost: price ? costOf(breakdown, price) : 0, estimated };
  }

  function record(
    context: RequestContext,
    fields: { usage?: UsageBreakdown; cost: number; estimated: boolean; status: number; outcome: LedgerOutcome; latencyMs: number; streamed: boolean; error?: GatewayError; target: Target | undefined },
  ): void {
    const billing = context.state.billing!;
    billing.recorded = true;
    billing.costUsd = fields.cost;
    const usage = fields.usage ?? { promptTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, completionTokens: 0, reasoningTokens: 0 };
    const body = context.body as ChatCompletionRequest | EmbeddingRequest | undefined;
    const row: LedgerRow = {
      id: billing.ledgerId,
      request_id: context.id,
      key_id: billing.keyId,
      operation: context.operation === 'embeddings' ? 'embeddings' : 'chat',
      model_requested: typeof body?.model === 'string' ? body.model.slice(0, 300) : null,
      model_served: fields.target?.model ?? null,
      provider: fields.target?.provider.id ?? null,
      prompt_tokens: usage.promptTokens,
      cached_tokens: usage.cachedTokens,
      cache_write_tokens: usage.cacheWriteTokens,
      completion_tokens: usage.completionTokens,
      reasoning_tokens: usage.reasoningTokens,
      usage_estimated: fields.estimated,
      cost_usd: formatUsd(fields.cost),
      latency_ms: Math.round(fields.latencyMs * 1000) / 1000,
      time_to_first_token_ms: context.timeToFirstChunkMs === undefined ? null : Math.round(context.timeToFirstChunkMs * 1000) / 1000,
      status: fields.status,
      outcome: fields.outcome,
      error_type: fields.error?.type ?? null,
      error_code: fields.error?.code ?? null,
      cache_hit: fields.outcome === 'cache_hit',
      streamed: fields.streamed,
      attempts: context.attempts.length,
      created_at: isoTimestamp(billing.arrivedAt),
    };
    requireStarted().ledger.append(row);
  }

  const wrapUpstream: UpstreamWrapper = (next) => async (request) => {
    const { context } = request;
    const key = context.state.virtualKey;
    if (!key || !context.state.billing) return next(request);
    // A fallback plan may serve any of its targets: each must be allowed, and the reservation must cover the dearest.
    const plan = (context.state as { fallback?: PlanShape }).fallback;
    const candidates: Target[] = [request.target];
    for (const planned of plan?.targets ?? []) {
      const target = tryResolve(context, planned.model);
      if (target) candidates.push(target);
    }
    for (const target of candidates) {
      // Naming an allowed group allows its targets; otherwise every target must be allowed itself.
      if (!isModelAllowed(key.models, context.body.model, target.model)) {
        context.setHeader('x-should-retry', 'false');
        throw GatewayError.permission(`This API key is not allowed to use the model '${target.model}', which '${context.body.model}' may be served by.`, 'model_not_allowed', 'model');
      }
    }
    if (isBudgeted(key)) {
      const needed = Math.max(...candidates.map((target) => worstCaseFor(context, target, key)));
      if (needed > context.state.billing.reservedUsd) await hold(context, key, needed);
    }
    return next(request);
  };

  const plugin: BillingPlugin = {
    name: 'billing',
    mode: allowAnonymous ? 'open' : 'enforcing',
    get store() {
      return requireStarted().store;
    },
    get keys() {
      return requireStarted().keys;
    },
    get ledger() {
      return requireStarted().ledger;
    },
    prices,

    async setup(api: PluginSetupApi) {
      logger = api.logger;
      if (api.container.isRegistered(Tokens.Clock, true)) clock = api.container.resolve(Tokens.Clock);
      let client: SqlClient;
      const option = options.store;
      if ('client' in option) client = option.client;
      else if ('postgres' in option) {
        const postgresOptions = typeof option.postgres === 'string' ? { connectionString: option.postgres } : option.postgres;
        client = openPostgres({ ...postgresOptions, onIdleError: (error) => api.logger.warn({ err: error }, 'billing database connection dropped') });
        ownsClient = true;
      } else {
        client = await openPGlite(option.embedded);
        ownsClient = true;
      }
      const billingStore = new BillingStore(client, options.schema);
      await billingStore.migrate();
      store = billingStore;
      keys = new KeyService(billingStore, { cacheTtlMs: options.keyCacheTtlMs, now });
      ledger = new LedgerWriter({
        write: (rows) => billingStore.writeLedger(rows, now()),
        logger: api.logger,
        batchSize: options.ledger?.batchSize,
        flushIntervalMs: options.ledger?.flushIntervalMs,
        spillDirectory: options.ledger?.spillDirectory,
        maxPendingRows: options.ledger?.maxPendingRows,
      });
      await ledger.replaySpilled();
      api.container.register(BillingTokens.Store, { useValue: billingStore });
      api.container.register(BillingTokens.Keys, { useValue: keys });
      api.container.register(BillingTokens.Ledger, { useValue: ledger });
      api.container.register(BillingTokens.Prices, { useValue: prices });
      registerAdminRoutes(api.router, { store: billingStore, keys, ledger, masterKey, now });
      sweeper = setInterval(() => {
        billingStore.expireReservations(now() - reservationTtlMs).then(
          (released) => released > 0 && api.logger.warn({ released }, 'released reservations of requests that never settled'),
          (error: unknown) => api.logger.warn({ err: error }, 'releasing stale reservations failed'),
        );
      }, Math.min(60_000, Math.max(1_000, reservationTtlMs / 4)));
      sweeper.unref();
      api.logger.info(
        { store: client.description, mode: allowAnonymous ? 'open' : 'enforcing' },
        allowAnonymous
          ? 'billing: requests without a virtual key are served (open mode); sk-sy- keys are still checked and billed'
          : 'billing: every request needs a virtual key',
      );
    },

    async onRequest(context: RequestContext) {
      const billing: BillingRequestState = { ledgerId: uniqueId(), arrivedAt: now(), keyId: null, reservedUsd: 0, recorded: false };
      context.state.billing = billing;
      const key = await authenticate(context);
      if (!key) return;
      billing.keyId = key.id;
      context.state.virtualKey = key;
      if (context.operation === 'models') return;
      const body = context.body as ChatCompletionRequest | EmbeddingRequest;
      const target = context.target ?? tryResolve(context, body.model);
      checkModels(context, key, target);
      if (!isBudgeted(key) || !target) return;
      const amount = worstCaseFor(context, target, key);
      if (amount > 0) await hold(context, key, amount);
    },

    wrapUpstream,

    onChunk(chunk: ChatCompletionChunk, context: ChatContext) {
      if (!chunk.usage || !context.state.billing) return undefined;
      const target = context.target;
      const price = target ? priceOf(target) : undefined;
      // The same computation as at the end of the request, so the chunk and the ledger agree to the digit.
      const usd = price ? costOf(usageBreakdown(chunk.usage), price) : 0;
      if (context.body.stream_options?.include_usage !== true) return undefined;
      return { ...chunk, usage: { ...chunk.usage, cost_usd: Number(formatUsd(usd)) } };
    },

    async onResponse(context: RequestContext, outcome: ResponseOutcome) {
      const billing = context.state.billing;
      if (!billing || billing.recorded || context.operation === 'models') return;
      if (outcome.answeredBy !== 'upstream') {
        // Answered without a provider (a cache hit): nothing was generated, nothing is charged.
        context.setHeader('x-switchyard-cost-usd', '0');
        record(context, { cost: 0, estimated: false, status: 200, outcome: 'cache_hit', latencyMs: outcome.durationMs, streamed: outcome.streamed, target: outcome.target });
        return;
      }
      const measured = await measure(context, outcome.usage, outcome.operation === 'chat' ? outcome.response : undefined, outcome.target);
      if (!outcome.streamed) context.setHeader('x-switchyard-cost-usd', formatUsd(measured.cost));
      record(context, {
        usage: measured.usage,
        cost: measured.cost,
        estimated: measured.estimated,
        status: outcome.aborted ? 499 : 200,
        outcome: outcome.aborted ? 'aborted' : 'success',
        latencyMs: outcome.durationMs,
        streamed: outcome.streamed,
        target: outcome.target,
      });
    },

    async onError(context: RequestContext, error: GatewayError, details: ErrorDetails) {
      const billing = context.state.billing;
      if (!billing || billing.recorded || context.operation === 'models') return;
      const cancelled = error.code === 'request_cancelled';
      const outcome: LedgerOutcome = cancelled ? 'aborted' : context.attempts.length === 0 ? 'rejected' : 'error';
      if (details.partial || (cancelled && context.attempts.length > 0)) {
        // A stream that failed midway, or a client that left while the provider worked: billed for the
        // prompt and for what was received, as a stream cut off by its client is.
        const measured = await measure(context, details.partial?.usage, details.partial, context.target);
        record(context, { ...measured, status: error.status, outcome, latencyMs: details.durationMs, streamed: (context.body as ChatCompletionRequest).stream === true, error, target: context.target });
        return;
      }
      record(context, {
        cost: 0,
        estimated: false,
        status: error.status,
        outcome,
        latencyMs: details.durationMs,
        streamed: (context.body as ChatCompletionRequest | undefined)?.stream === true,
        error,
        target: context.attempts.length > 0 ? context.target : undefined,
      });
    },

    async onClose() {
      clearInterval(sweeper);
      try {
        await ledger?.close(options.ledger?.closeDeadlineMs ?? 10_000);
      } finally {
        await tokenCounter.close();
        if (ownsClient) await store?.client.close();
      }
    },
  };
  return plugin;
}
