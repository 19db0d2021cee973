import type { CompletionUsage } from '@switchyard/core';

/** What one model costs, in US dollars per token. */
export interface ModelPrice {
  /** Input tokens that were neither read from nor written to a prompt cache. */
  inputPerToken: number;
  outputPerToken: number;
  /** Input tokens read from a prompt cache. Default: the input price. */
  cacheReadPerToken?: number;
  /** Input tokens written to a prompt cache (Anthropic charges more for these). Default: the input price. */
  cacheWritePerToken?: number;
  /** Reasoning tokens, when a provider prices them apart from output. Default: the output price. */
  reasoningPerToken?: number;
  /** The most output tokens the model can produce in one answer: the worst case when a request sets no limit. */
  maxOutputTokens?: number;
  /**
   * Dearer rates for long prompts (Gemini Pro above 200K tokens, say): each applies when the prompt has
   * more than `aboveInputTokens` tokens. Sorted ascending.
   */
  longContextTiers?: PriceTier[];
}

export interface PriceTier {
  aboveInputTokens: number;
  inputPerToken: number;
  outputPerToken: number;
  cacheReadPerToken?: number;
}

/** The flat rates that apply to a prompt of `promptTokens` tokens. */
export function ratesAt(price: ModelPrice, promptTokens: number): ModelPrice {
  let rates = price;
  for (const tier of price.longContextTiers ?? []) {
    if (promptTokens > tier.aboveInputTokens) {
      rates = { ...rates, inputPerToken: tier.inputPerToken, outputPerToken: tier.outputPerToken, cacheReadPerToken: tier.cacheReadPerToken ?? rates.cacheReadPerToken };
    }
  }
  return rates;
}

/**
 * A price as written in configuration: dollars per million tokens, the unit providers publish, so a
 * price sheet can be copied without converting by hand.
 */
export interface ConfiguredPrice {
  input_per_million: number;
  output_per_million: number;
  cache_read_per_million?: number;
  cache_write_per_million?: number;
  reasoning_per_million?: number;
  max_output_tokens?: number;
}

export function priceFromConfig(config: ConfiguredPrice): ModelPrice {
  const perToken = (perMillion: number | undefined) => (perMillion === undefined ? undefined : perMillion / 1_000_000);
  return withoutUndefined({
    inputPerToken: config.input_per_million / 1_000_000,
    outputPerToken: config.output_per_million / 1_000_000,
    cacheReadPerToken: perToken(config.cache_read_per_million),
    cacheWritePerToken: perToken(config.cache_write_per_million),
    reasoningPerToken: perToken(config.reasoning_per_million),
    maxOutputTokens: config.max_output_tokens,
  });
}

function withoutUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) if (value[key] === undefined) delete value[key];
  return value;
}

/** One entry of LiteLLM's `model_prices_and_context_window.json`; only the fields billing reads. */
interface LiteLLMEntry {
  input_cost_per_token?: unknown;
  output_cost_per_token?: unknown;
  cache_read_input_token_cost?: unknown;
  cache_creation_input_token_cost?: unknown;
  output_cost_per_reasoning_token?: unknown;
  max_output_tokens?: unknown;
  max_tokens?: unknown;
  litellm_provider?: unknown;
}

const finiteNonNegative = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;

/**
 * Reads LiteLLM's price file format. Entries without both an input and an output price (image models,
 * the `sample_spec` documentation entry) are skipped. Each model is listed under its own key and, when
 * that key has no provider prefix, also as `litellm_provider/key`, which is how Switchyard names models.
 */
export function importLiteLLMPrices(document: unknown): Map<string, ModelPrice> {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new TypeError('A LiteLLM price file must hold an object keyed by model name.');
  }
  const prices = new Map<string, ModelPrice>();
  for (const [name, raw] of Object.entries(document as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null) continue;
    const entry = raw as LiteLLMEntry;
    const inputPerToken = finiteNonNegative(entry.input_cost_per_token);
    const outputPerToken = finiteNonNegative(entry.output_cost_per_token);
    if (inputPerToken === undefined || outputPerToken === undefined) continue;
    const maxOutput = finiteNonNegative(entry.max_output_tokens) ?? finiteNonNegative(entry.max_tokens);
    const tiers: PriceTier[] = [];
    for (const [field, value] of Object.entries(entry)) {
      // LiteLLM spells long-context prices `input_cost_per_token_above_200k_tokens` and alike.
      const match = /^input_cost_per_token_above_(\d+)k_tokens$/.exec(field);
      const tierInput = finiteNonNegative(value);
      if (!match || tierInput === undefined) continue;
      const suffix = `above_${match[1]}k_tokens`;
      const record = entry as Record<string, unknown>;
      tiers.push(
        withoutUndefined<PriceTier>({
          aboveInputTokens: Number(match[1]) * 1000,
          inputPerToken: tierInput,
          outputPerToken: finiteNonNegative(record[`output_cost_per_token_${suffix}`]) ?? outputPerToken,
          cacheReadPerToken: finiteNonNegative(record[`cache_read_input_token_cost_${suffix}`]),
        }),
      );
    }
    tiers.sort((a, b) => a.aboveInputTokens - b.aboveInputTokens);
    const price = withoutUndefined<ModelPrice>({
      inputPerToken,
      outputPerToken,
      cacheReadPerToken: finiteNonNegative(entry.cache_read_input_token_cost),
      cacheWritePerToken: finiteNonNegative(entry.cache_creation_input_token_cost),
      reasoningPerToken: finiteNonNegative(entry.output_cost_per_reasoning_token),
      maxOutputTokens: maxOutput === undefined ? undefined : Math.floor(maxOutput),
      longContextTiers: tiers.length > 0 ? tiers : undefined,
    });
    prices.set(name, price);
    const provider = typeof entry.litellm_provider === 'string' ? entry.litellm_provider : undefined;
    if (provider && !name.startsWith(`${provider}/`) && !prices.has(`${provider}/${name}`)) prices.set(`${provider}/${name}`, price);
  }
  return prices;
}

/** Writes a price back in LiteLLM's format: the inverse of `importLiteLLMPrices` for one entry. */
export function exportLiteLLMPrice(price: ModelPrice, provider?: string): Record<string, unknown> {
  const tiers: Record<string, number> = {};
  for (const tier of price.longContextTiers ?? []) {
    const suffix = `above_${tier.aboveInputTokens / 1000}k_tokens`;
    tiers[`input_cost_per_token_${suffix}`] = tier.inputPerToken;
    tiers[`output_cost_per_token_${suffix}`] = tier.outputPerToken;
    if (tier.cacheReadPerToken !== undefined) tiers[`cache_read_input_token_cost_${suffix}`] = tier.cacheReadPerToken;
  }
  return withoutUndefined({
    ...tiers,
    input_cost_per_token: price.inputPerToken,
    output_cost_per_token: price.outputPerToken,
    cache_read_input_token_cost: price.cacheReadPerToken,
    cache_creation_input_token_cost: price.cacheWritePerToken,
    output_cost_per_reasoning_token: price.reasoningPerToken,
    max_output_tokens: price.maxOutputTokens,
    litellm_provider: provider,
  });
}

/** The pricing part of a model catalog entry (`ModelFacts` of @switchyard/providers), by structure. */
export interface CatalogFactsShape {
  maxOutputTokens?: number;
  pricing?: {
    inputPerMillion: number;
    outputPerMillion: number;
    cachedInputPerMillion?: number;
    cacheWritePerMillion?: number;
    longContextTiers?: ReadonlyArray<{ aboveInputTokens: number; inputPerMillion: number; outputPerMillion: number; cachedInputPerMillion?: number }>;
  };
}

/** Converts a catalog entry's list prices (per million) into a price (per token); undefined without prices. */
export function priceFromCatalog(facts: CatalogFactsShape | undefined): ModelPrice | undefined {
  const pricing = facts?.pricing;
  if (!pricing) return undefined;
  const perToken = (perMillion: number | undefined) => (perMillion === undefined ? undefined : perMillion / 1_000_000);
  return withoutUndefined<ModelPrice>({
    inputPerToken: pricing.inputPerMillion / 1_000_000,
    outputPerToken: pricing.outputPerMillion / 1_000_000,
    cacheReadPerToken: perToken(pricing.cachedInputPerMillion),
    cacheWritePerToken: perToken(pricing.cacheWritePerMillion),
    maxOutputTokens: facts.maxOutputTokens,
    longContextTiers: pricing.longContextTiers?.map((tier) =>
      withoutUndefined<PriceTier>({
        aboveInputTokens: tier.aboveInputTokens,
        inputPerToken: tier.inputPerMillion / 1_000_000,
        outputPerToken: tier.outputPerMillion / 1_000_000,
        cacheReadPerToken: perToken(tier.cachedInputPerMillion),
      }),
    ),
  });
}

/** How a served model is named when looking up its price. */
export interface PricedModel {
  /** `provider/model`, the gateway-wide name. */
  model: string;
  /** The model id as the provider knows it. */
  modelId: string;
  providerId: string;
}

export type PriceLookup = (model: PricedModel) => ModelPrice | undefined;

/**
 * Where prices come from, most specific first: per-model overrides from configuration, then imported
 * price files, then the providers' model catalog. A model is found by `provider/model`, then by its bare
 * id (price files list OpenAI's models without a prefix).
 */
export class PriceBook {
  readonly #overrides = new Map<string, ModelPrice>();
  readonly #imported = new Map<string, ModelPrice>();
  readonly #catalog: PriceLookup | undefined;

  constructor(options: { overrides?: Record<string, ModelPrice | ConfiguredPrice>; imported?: Iterable<[string, ModelPrice]>; catalog?: PriceLookup } = {}) {
    for (const [model, price] of Object.entries(options.overrides ?? {})) {
      this.#overrides.set(model, 'inputPerToken' in price ? price : priceFromConfig(price));
    }
    for (const [model, price] of options.imported ?? []) this.#imported.set(model, price);
    this.#catalog = options.catalog;
  }

  /** Adds prices from a LiteLLM price file; later imports win over earlier ones. */
  importLiteLLM(document: unknown): number {
    const prices = importLiteLLMPrices(document);
    for (const [model, price] of prices) this.#imported.set(model, price);
    return prices.size;
  }

  lookup(model: PricedModel): ModelPrice | undefined {
    return (
      this.#overrides.get(model.model) ??
      this.#overrides.get(model.modelId) ??
      this.#imported.get(model.model) ??
      this.#imported.get(model.modelId) ??
      this.#catalog?.(model)
    );
  }
}

/** Token counts that decide a request's cost. */
export interface UsageBreakdown {
  /** All input tokens, cached or not (OpenAI's `prompt_tokens`). */
  promptTokens: number;
  /** Input tokens read from a prompt cache (part of `promptTokens`). */
  cachedTokens: number;
  /** Input tokens written to a prompt cache (part of `promptTokens`). */
  cacheWriteTokens: number;
  /** All output tokens, reasoning included (OpenAI's `completion_tokens`). */
  completionTokens: number;
  /** Reasoning tokens (part of `completionTokens`). */
  reasoningTokens: number;
}

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0);

/**
 * Reads usage in OpenAI's shape. Adapters for providers that report cache writes apart (Anthropic) put
 * them in `prompt_tokens_details.cache_write_tokens` (or `cache_creation_tokens`) and count them in
 * `prompt_tokens`, as OpenAI counts cached reads.
 */
export function usageBreakdown(usage: CompletionUsage | { prompt_tokens: number; total_tokens: number } | undefined | null): UsageBreakdown {
  if (!usage) return { promptTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, completionTokens: 0, reasoningTokens: 0 };
  const full = usage as CompletionUsage;
  const promptDetails = (full.prompt_tokens_details ?? {}) as Record<string, unknown>;
  const completionDetails = (full.completion_tokens_details ?? {}) as Record<string, unknown>;
  const promptTokens = count(full.prompt_tokens);
  const completionTokens = count(full.completion_tokens);
  const cachedTokens = Math.min(promptTokens, count(promptDetails.cached_tokens));
  const cacheWriteTokens = Math.min(
    promptTokens - cachedTokens,
    count(promptDetails.cache_write_tokens ?? promptDetails.cache_creation_tokens ?? (full as Record<string, unknown>).cache_creation_input_tokens),
  );
  const reasoningTokens = Math.min(completionTokens, count(completionDetails.reasoning_tokens));
  return { promptTokens, cachedTokens, cacheWriteTokens, completionTokens, reasoningTokens };
}

/** Costs are kept to 1e-10 dollars: exact for any per-token price to the cent of a millionth. */
const scale = 1e10;

export function roundUsd(amount: number): number {
  return Math.round(amount * scale) / scale;
}

/** The cost as a decimal string for SQL NUMERIC and headers: no float noise, no exponent. */
export function formatUsd(amount: number): string {
  const fixed = roundUsd(amount).toFixed(10);
  // Trailing zeros (and a bare point) cut by hand: two regular expressions cost more than the rest of a
  // request's billing arithmetic, and this runs a few times per request.
  if (!fixed.includes('.')) return fixed;
  let end = fixed.length;
  while (fixed.charCodeAt(end - 1) === 48 /* 0 */) end--;
  if (fixed.charCodeAt(end - 1) === 46 /* . */) end--;
  return fixed.slice(0, end);
}

/** What the usage cost at this price. */
export function costOf(usage: UsageBreakdown, tieredPrice: ModelPrice): number {
  const price = ratesAt(tieredPrice, usage.promptTokens);
  const uncachedInput = Math.max(0, usage.promptTokens - usage.cachedTokens - usage.cacheWriteTokens);
  const plainOutput = Math.max(0, usage.completionTokens - usage.reasoningTokens);
  return roundUsd(
    uncachedInput * price.inputPerToken +
      usage.cachedTokens * (price.cacheReadPerToken ?? price.inputPerToken) +
      usage.cacheWriteTokens * (price.cacheWritePerToken ?? price.inputPerToken) +
      plainOutput * price.outputPerToken +
      usage.reasoningTokens * (price.reasoningPerToken ?? price.outputPerToken),
  );
}

/**
 * The most a request can cost: every input token at the dearest input rate (a cache write can cost more
 * than plain input) and every possible output token at the dearest output rate.
 */
export function worstCaseCost(promptTokens: number, maxOutputTokens: number, tieredPrice: ModelPrice): number {
  // Tiers only get dearer with the prompt, so the tier of the bound is at least the real one.
  const price = ratesAt(tieredPrice, promptTokens);
  const input = Math.max(price.inputPerToken, price.cacheWritePerToken ?? 0, price.cacheReadPerToken ?? 0);
  const output = Math.max(price.outputPerToken, price.reasoningPerToken ?? 0);
  // Rounded up, never down: a reservation a hair short of the real cost could let a budget overshoot.
  // The small allowance keeps float noise (0.01125 × 1e10 = 112500000.00000001) from adding a unit.
  return Math.ceil((promptTokens * input + maxOutputTokens * output) * scale - 1e-6) / scale;
}
