import type { CompletionUsage, ProviderModel } from '@switchyard/core';
import { catalogEntries } from './catalog-data.js';

/** What a model can do, as far as routing and validation care. */
export type ModelCapability =
  | 'chat'
  | 'streaming'
  | 'tools'
  | 'vision'
  | 'json_schema'
  | 'reasoning'
  | 'prompt_caching'
  | 'audio_input'
  | 'embeddings';

/** Prices in US dollars per million tokens, at the provider's standard (not batch, not priority) tier. */
export interface ModelPricing {
  inputPerMillion: number;
  outputPerMillion: number;
  /** Prompt tokens read from the provider's cache. Absent when the provider publishes no cache price. */
  cachedInputPerMillion?: number;
  /** Prompt tokens written to the cache (Anthropic's five-minute cache write). */
  cacheWritePerMillion?: number;
  /**
   * Dearer rates for long prompts: each tier applies when the prompt has more than `aboveInputTokens`
   * tokens (Gemini Pro above 200K, Qwen Max above 32K and 128K, GPT-5.4 above 272K). Sorted ascending.
   */
  longContextTiers?: readonly PricingTier[];
}

export interface PricingTier {
  aboveInputTokens: number;
  inputPerMillion: number;
  outputPerMillion: number;
  cachedInputPerMillion?: number;
}

export interface ModelFacts {
  /** The provider id that serves the model under `id` (the gateway's `provider/` prefix). */
  provider: string;
  /** The model id as the provider's API expects it. */
  id: string;
  /** Who made the model, when another company serves it (Llama on Groq: `meta`). */
  vendor: string;
  /** Other ids the provider accepts for the same model: dated snapshots, `-latest` names. */
  aliases?: readonly string[];
  kind: 'chat' | 'embedding';
  /** Largest prompt plus answer, in tokens. */
  contextWindow: number;
  /** Largest answer, in tokens. Absent when the provider publishes none below the context window. */
  maxOutputTokens?: number;
  capabilities: readonly ModelCapability[];
  pricing?: ModelPricing;
  /** The provider has announced its retirement or points the id at a newer model. */
  deprecated?: boolean;
}

export interface ModelCatalog {
  /** Where the facts come from; list prices change, so billing should let operators override them. */
  source: string;
  /** The date the facts were last checked (ISO `YYYY-MM`). */
  updated: string;
  models: readonly ModelFacts[];
}

/**
 * Provider ids that serve another provider's catalog under their own name: Azure OpenAI deploys OpenAI's
 * models at OpenAI's global list prices; Gemini is `google` in the catalog whichever id it is registered
 * under.
 */
const providerAliases: Record<string, string> = {
  azure: 'openai',
  'azure-openai': 'openai',
  gemini: 'google',
  'google-vertex': 'google',
  vertex: 'google',
  qwen: 'dashscope',
  alibaba: 'dashscope',
  'x-ai': 'xai',
};

export const modelCatalog: ModelCatalog = catalogEntries;

let index: Map<string, Map<string, ModelFacts>> | undefined;

function catalogIndex(): Map<string, Map<string, ModelFacts>> {
  if (index) return index;
  index = new Map();
  for (const facts of modelCatalog.models) {
    let byId = index.get(facts.provider);
    if (!byId) {
      byId = new Map();
      index.set(facts.provider, byId);
    }
    byId.set(facts.id.toLowerCase(), facts);
    for (const alias of facts.aliases ?? []) byId.set(alias.toLowerCase(), facts);
  }
  return index;
}

/** The catalog's provider id for a gateway provider id (`azure` → `openai`). */
export function catalogProviderFor(provider: string): string {
  const lower = provider.toLowerCase();
  return providerAliases[lower] ?? lower;
}

/** Version suffixes providers append to a model family's id, removed one at a time when looking up. */
const versionSuffixes = [
  /-\d{4}-\d{2}-\d{2}$/, // OpenAI: gpt-4o-mini-2024-07-18
  /[-@]\d{8}$/, // Anthropic: claude-sonnet-4-5-20250929, Vertex: claude-sonnet-4-5@20250929
  /-\d{2}-\d{4}$/, // Gemini previews: gemini-2.5-flash-preview-09-2025
  /-\d{3,4}$/, // Mistral YYMM (mistral-small-2506), xAI MMDD (grok-4-0709), Gemini -001
  /-latest$/, // mistral-large-latest, claude-3-5-haiku-latest
];

/** The ids to try for `modelId`, most specific first. */
export function modelIdCandidates(modelId: string): string[] {
  let current = modelId.trim().toLowerCase();
  if (current.startsWith('models/')) current = current.slice('models/'.length);
  const candidates = [current];
  for (let stripped = true; stripped; ) {
    stripped = false;
    for (const suffix of versionSuffixes) {
      const shorter = current.replace(suffix, '');
      if (shorter !== current && shorter.length > 0) {
        current = shorter;
        candidates.push(current);
        stripped = true;
        break;
      }
    }
  }
  return candidates;
}

/**
 * The facts for a model served by `provider`, tolerant of dated snapshot ids: `gpt-4o-mini-2024-07-18`
 * finds `gpt-4o-mini`, `claude-3-5-haiku-20241022` finds `claude-3-5-haiku`. Undefined when unknown.
 */
export function findModel(provider: string, modelId: string): ModelFacts | undefined {
  const byId = catalogIndex().get(catalogProviderFor(provider));
  if (!byId) return undefined;
  for (const candidate of modelIdCandidates(modelId)) {
    const facts = byId.get(candidate);
    if (facts) return facts;
  }
  return undefined;
}

/**
 * Looks a gateway model name up: `provider/model` uses that provider; a bare name is tried against each
 * provider that makes its own models, so `gpt-4o` finds OpenAI's and `claude-sonnet-4-5` Anthropic's.
 */
export function findModelByName(model: string): ModelFacts | undefined {
  const slash = model.indexOf('/');
  if (slash > 0) {
    const found = findModel(model.slice(0, slash), model.slice(slash + 1));
    if (found) return found;
  }
  for (const provider of catalogIndex().keys()) {
    const found = findModel(provider, model);
    if (found && found.vendor === catalogVendorOf(provider)) return found;
  }
  return undefined;
}

/** Providers that make the models they serve; hosts of others' models (Groq, Together) are not tried for bare names. */
function catalogVendorOf(provider: string): string | undefined {
  const vendors: Record<string, string> = {
    openai: 'openai',
    anthropic: 'anthropic',
    google: 'google',
    deepseek: 'deepseek',
    dashscope: 'alibaba',
    mistral: 'mistral',
    xai: 'xai',
  };
  return vendors[provider];
}

/** Every model the catalog knows for `provider` (all models when omitted). */
export function listCatalogModels(provider?: string): ModelFacts[] {
  if (provider === undefined) return [...modelCatalog.models];
  const catalogProvider = catalogProviderFor(provider);
  return modelCatalog.models.filter((facts) => facts.provider === catalogProvider);
}

/**
 * The models of `provider` in the shape `listModels` returns, for providers without a model-list
 * endpoint worth calling. Deprecated models are left out: `/v1/models` should offer what works.
 */
export function catalogModelsFor(provider: string): ProviderModel[] {
  return listCatalogModels(provider)
    .filter((facts) => !facts.deprecated)
    .map((facts) => ({ id: facts.id, ownedBy: facts.vendor, contextWindow: facts.contextWindow, maxOutputTokens: facts.maxOutputTokens }));
}

/** Adds context window and output limit from the catalog to models a provider listed itself. */
export function withCatalogFacts(provider: string, models: ProviderModel[]): ProviderModel[] {
  return models.map((model) => {
    if (model.contextWindow !== undefined && model.maxOutputTokens !== undefined) return model;
    const facts = findModel(provider, model.id);
    if (!facts) return model;
    return {
      ...model,
      contextWindow: model.contextWindow ?? facts.contextWindow,
      maxOutputTokens: model.maxOutputTokens ?? facts.maxOutputTokens,
    };
  });
}

/** The rates that apply to a prompt of `promptTokens` tokens, long-context tiers included. */
export function ratesFor(pricing: ModelPricing, promptTokens: number): PricingTier {
  let rates: PricingTier = {
    aboveInputTokens: 0,
    inputPerMillion: pricing.inputPerMillion,
    outputPerMillion: pricing.outputPerMillion,
    cachedInputPerMillion: pricing.cachedInputPerMillion,
  };
  for (const tier of pricing.longContextTiers ?? []) {
    if (promptTokens > tier.aboveInputTokens) rates = { ...tier, cachedInputPerMillion: tier.cachedInputPerMillion ?? rates.cachedInputPerMillion };
  }
  return rates;
}

export interface CostEstimate {
  /** US dollars for uncached prompt tokens. */
  input: number;
  /** US dollars for prompt tokens read from the cache. */
  cachedInput: number;
  /** US dollars for answer tokens, reasoning included. */
  output: number;
  total: number;
}

/**
 * The list-price cost of one answer from its usage. Cached prompt tokens are billed at the cache rate
 * when the provider publishes one, otherwise as ordinary input.
 */
export function estimateCost(pricing: ModelPricing, usage: Pick<CompletionUsage, 'prompt_tokens' | 'completion_tokens' | 'prompt_tokens_details'>): CostEstimate {
  const rates = ratesFor(pricing, usage.prompt_tokens);
  const cachedTokens = Math.min(usage.prompt_tokens_details?.cached_tokens ?? 0, usage.prompt_tokens);
  const cachedRate = rates.cachedInputPerMillion ?? rates.inputPerMillion;
  const input = ((usage.prompt_tokens - cachedTokens) * rates.inputPerMillion) / 1_000_000;
  const cachedInput = (cachedTokens * cachedRate) / 1_000_000;
  const output = (usage.completion_tokens * rates.outputPerMillion) / 1_000_000;
  return { input, cachedInput, output, total: input + cachedInput + output };
}
