import type { ModelCapability, ModelCatalog, ModelFacts, ModelPricing } from './model-catalog.js';

/*
 * Public list prices and limits of current models, per provider, from each provider's pricing and model
 * pages (standard tier, US dollars per million tokens). Prices change: billing should let operators
 * override them, and this table should be re-checked when `updated` is old.
 */

const chatTools: ModelCapability[] = ['chat', 'streaming', 'tools', 'json_schema'];
const multimodal: ModelCapability[] = [...chatTools, 'vision'];
const reasoningMultimodal: ModelCapability[] = [...multimodal, 'reasoning'];
const cachedMultimodal: ModelCapability[] = [...multimodal, 'prompt_caching'];
const cachedReasoningMultimodal: ModelCapability[] = [...reasoningMultimodal, 'prompt_caching'];
const embeddings: ModelCapability[] = ['embeddings'];

function price(inputPerMillion: number, outputPerMillion: number, cachedInputPerMillion?: number, extra: Partial<ModelPricing> = {}): ModelPricing {
  const pricing: ModelPricing = { inputPerMillion, outputPerMillion, ...extra };
  if (cachedInputPerMillion !== undefined) pricing.cachedInputPerMillion = cachedInputPerMillion;
  return pricing;
}

/** Anthropic: cache reads cost a tenth of input, five-minute cache writes 1.25 times input. */
function anthropicPrice(inputPerMillion: number, outputPerMillion: number, extra: Partial<ModelPricing> = {}): ModelPricing {
  return price(inputPerMillion, outputPerMillion, round(inputPerMillion * 0.1), { cacheWritePerMillion: round(inputPerMillion * 1.25), ...extra });
}

/** OpenAI's 1M-context GPT-5.4 and later: prompts above 272K tokens cost twice the input and 1.5 times the output rate. */
function openAILongContext(inputPerMillion: number, outputPerMillion: number, cachedInputPerMillion: number): ModelPricing {
  return price(inputPerMillion, outputPerMillion, cachedInputPerMillion, {
    longContextTiers: [
      { aboveInputTokens: 272_000, inputPerMillion: inputPerMillion * 2, outputPerMillion: outputPerMillion * 1.5, cachedInputPerMillion: cachedInputPerMillion * 2 },
    ],
  });
}

function round(value: number): number {
  return Math.round(value * 1_000_000) / 1_000_000;
}

type Entry = Omit<ModelFacts, 'provider' | 'vendor' | 'kind'> & Partial<Pick<ModelFacts, 'vendor' | 'kind'>>;

function models(provider: string, vendor: string, entries: Entry[]): ModelFacts[] {
  return entries.map((entry) => ({ provider, vendor, kind: 'chat', ...entry }));
}

const openAI = models('openai', 'openai', [
  { id: 'gpt-5.5', contextWindow: 1_050_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: openAILongContext(5, 30, 0.5) },
  { id: 'gpt-5.4', contextWindow: 1_050_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: openAILongContext(2.5, 15, 0.25) },
  { id: 'gpt-5.4-mini', contextWindow: 400_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: price(0.75, 4.5, 0.075) },
  { id: 'gpt-5.4-nano', contextWindow: 400_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: price(0.2, 1.25, 0.02) },
  { id: 'gpt-5.2', contextWindow: 400_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: price(1.75, 14, 0.175) },
  { id: 'gpt-5.1', contextWindow: 400_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: price(1.25, 10, 0.125) },
  { id: 'gpt-5', contextWindow: 400_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: price(1.25, 10, 0.125) },
  { id: 'gpt-5-mini', contextWindow: 400_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: price(0.25, 2, 0.025) },
  { id: 'gpt-5-nano', contextWindow: 400_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: price(0.05, 0.4, 0.005) },
  { id: 'gpt-5-chat-latest', contextWindow: 128_000, maxOutputTokens: 16_384, capabilities: cachedMultimodal, pricing: price(1.25, 10, 0.125) },
  { id: 'gpt-4.1', contextWindow: 1_047_576, maxOutputTokens: 32_768, capabilities: cachedMultimodal, pricing: price(2, 8, 0.5) },
  { id: 'gpt-4.1-mini', contextWindow: 1_047_576, maxOutputTokens: 32_768, capabilities: cachedMultimodal, pricing: price(0.4, 1.6, 0.1) },
  { id: 'gpt-4.1-nano', contextWindow: 1_047_576, maxOutputTokens: 32_768, capabilities: cachedMultimodal, pricing: price(0.1, 0.4, 0.025) },
  { id: 'gpt-4o', contextWindow: 128_000, maxOutputTokens: 16_384, capabilities: cachedMultimodal, pricing: price(2.5, 10, 1.25) },
  { id: 'gpt-4o-mini', contextWindow: 128_000, maxOutputTokens: 16_384, capabilities: cachedMultimodal, pricing: price(0.15, 0.6, 0.075) },
  { id: 'o3', contextWindow: 200_000, maxOutputTokens: 100_000, capabilities: cachedReasoningMultimodal, pricing: price(2, 8, 0.5) },
  { id: 'o4-mini', contextWindow: 200_000, maxOutputTokens: 100_000, capabilities: cachedReasoningMultimodal, pricing: price(1.1, 4.4, 0.275) },
  { id: 'o3-mini', contextWindow: 200_000, maxOutputTokens: 100_000, capabilities: [...chatTools, 'reasoning', 'prompt_caching'], pricing: price(1.1, 4.4, 0.55) },
  { id: 'o1', contextWindow: 200_000, maxOutputTokens: 100_000, capabilities: cachedReasoningMultimodal, pricing: price(15, 60, 7.5), deprecated: true },
  { id: 'text-embedding-3-small', kind: 'embedding', contextWindow: 8_191, capabilities: embeddings, pricing: price(0.02, 0) },
  { id: 'text-embedding-3-large', kind: 'embedding', contextWindow: 8_191, capabilities: embeddings, pricing: price(0.13, 0) },
]);

const anthropic = models('anthropic', 'anthropic', [
  { id: 'claude-opus-4-7', contextWindow: 1_000_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: anthropicPrice(5, 25) },
  { id: 'claude-opus-4-6', contextWindow: 1_000_000, maxOutputTokens: 128_000, capabilities: cachedReasoningMultimodal, pricing: anthropicPrice(5, 25) },
  { id: 'claude-sonnet-4-6', contextWindow: 1_000_000, maxOutputTokens: 64_000, capabilities: cachedReasoningMultimodal, pricing: anthropicPrice(3, 15) },
  { id: 'claude-haiku-4-5', aliases: ['claude-haiku-4-5-20251001'], contextWindow: 200_000, maxOutputTokens: 64_000, capabilities: cachedReasoningMultimodal, pricing: anthropicPrice(1, 5) },
  {
    id: 'claude-sonnet-4-5',
    aliases: ['claude-sonnet-4-5-20250929'],
    // 1M with Anthropic's long-context beta header, 200K without it.
    contextWindow: 1_000_000,
    maxOutputTokens: 64_000,
    capabilities: cachedReasoningMultimodal,
    // The 1M-token context (beta) bills prompts above 200K at $6 / $22.50.
    pricing: anthropicPrice(3, 15, { longContextTiers: [{ aboveInputTokens: 200_000, inputPerMillion: 6, outputPerMillion: 22.5, cachedInputPerMillion: 0.6 }] }),
  },
  { id: 'claude-opus-4-5', aliases: ['claude-opus-4-5-20251101'], contextWindow: 200_000, maxOutputTokens: 64_000, capabilities: cachedReasoningMultimodal, pricing: anthropicPrice(5, 25) },
  { id: 'claude-opus-4-1', aliases: ['claude-opus-4-1-20250805'], contextWindow: 200_000, maxOutputTokens: 32_000, capabilities: cachedReasoningMultimodal, pricing: anthropicPrice(15, 75) },
  {
    id: 'claude-sonnet-4-0',
    aliases: ['claude-sonnet-4', 'claude-sonnet-4-20250514'],
    contextWindow: 1_000_000,
    maxOutputTokens: 64_000,
    capabilities: cachedReasoningMultimodal,
    pricing: anthropicPrice(3, 15, { longContextTiers: [{ aboveInputTokens: 200_000, inputPerMillion: 6, outputPerMillion: 22.5, cachedInputPerMillion: 0.6 }] }),
  },
  { id: 'claude-opus-4-0', aliases: ['claude-opus-4', 'claude-opus-4-20250514'], contextWindow: 200_000, maxOutputTokens: 32_000, capabilities: cachedReasoningMultimodal, pricing: anthropicPrice(15, 75), deprecated: true },
  { id: 'claude-3-7-sonnet', aliases: ['claude-3-7-sonnet-20250219'], contextWindow: 200_000, maxOutputTokens: 64_000, capabilities: cachedReasoningMultimodal, pricing: anthropicPrice(3, 15), deprecated: true },
  { id: 'claude-3-5-haiku', aliases: ['claude-3-5-haiku-20241022'], contextWindow: 200_000, maxOutputTokens: 8_192, capabilities: cachedMultimodal, pricing: anthropicPrice(0.8, 4), deprecated: true },
  { id: 'claude-3-haiku', aliases: ['claude-3-haiku-20240307'], contextWindow: 200_000, maxOutputTokens: 4_096, capabilities: cachedMultimodal, pricing: anthropicPrice(0.25, 1.25) },
]);

const google = models('google', 'google', [
  {
    id: 'gemini-3.1-pro-preview',
    aliases: ['gemini-3-pro-preview'],
    contextWindow: 1_048_576,
    maxOutputTokens: 65_536,
    capabilities: cachedReasoningMultimodal,
    pricing: price(2, 12, 0.2, { longContextTiers: [{ aboveInputTokens: 200_000, inputPerMillion: 4, outputPerMillion: 18, cachedInputPerMillion: 0.4 }] }),
  },
  { id: 'gemini-3-flash-preview', contextWindow: 1_048_576, maxOutputTokens: 65_536, capabilities: [...cachedReasoningMultimodal, 'audio_input'], pricing: price(0.5, 3, 0.05) },
  {
    id: 'gemini-2.5-pro',
    contextWindow: 1_048_576,
    maxOutputTokens: 65_536,
    capabilities: [...cachedReasoningMultimodal, 'audio_input'],
    pricing: price(1.25, 10, 0.125, { longContextTiers: [{ aboveInputTokens: 200_000, inputPerMillion: 2.5, outputPerMillion: 15, cachedInputPerMillion: 0.25 }] }),
  },
  { id: 'gemini-2.5-flash', contextWindow: 1_048_576, maxOutputTokens: 65_536, capabilities: [...cachedReasoningMultimodal, 'audio_input'], pricing: price(0.3, 2.5, 0.03) },
  { id: 'gemini-2.5-flash-lite', contextWindow: 1_048_576, maxOutputTokens: 65_536, capabilities: [...cachedReasoningMultimodal, 'audio_input'], pricing: price(0.1, 0.4, 0.01) },
  { id: 'gemini-2.0-flash', contextWindow: 1_048_576, maxOutputTokens: 8_192, capabilities: [...cachedMultimodal, 'audio_input'], pricing: price(0.1, 0.4, 0.025), deprecated: true },
  { id: 'gemini-2.0-flash-lite', contextWindow: 1_048_576, maxOutputTokens: 8_192, capabilities: multimodal, pricing: price(0.075, 0.3), deprecated: true },
  { id: 'gemini-embedding-001', kind: 'embedding', contextWindow: 2_048, capabilities: embeddings, pricing: price(0.15, 0) },
]);

const deepSeek = models('deepseek', 'deepseek', [
  { id: 'deepseek-v4-flash', contextWindow: 1_000_000, capabilities: [...chatTools, 'reasoning', 'prompt_caching'], pricing: price(0.14, 0.28, 0.0028) },
  { id: 'deepseek-v4-pro', contextWindow: 1_000_000, capabilities: [...chatTools, 'reasoning', 'prompt_caching'], pricing: price(1.74, 3.48, 0.0145) },
  // Compatibility names that DeepSeek points at V4-Flash (non-thinking and thinking modes) until their retirement.
  { id: 'deepseek-chat', contextWindow: 1_000_000, maxOutputTokens: 8_192, capabilities: [...chatTools, 'prompt_caching'], pricing: price(0.14, 0.28, 0.0028), deprecated: true },
  { id: 'deepseek-reasoner', contextWindow: 1_000_000, maxOutputTokens: 65_536, capabilities: [...chatTools, 'reasoning', 'prompt_caching'], pricing: price(0.14, 0.28, 0.0028), deprecated: true },
]);

const qwen = models('dashscope', 'alibaba', [
  {
    id: 'qwen3-max',
    contextWindow: 262_144,
    maxOutputTokens: 65_536,
    capabilities: [...chatTools, 'reasoning', 'prompt_caching'],
    pricing: price(1.2, 6, 0.24, {
      longContextTiers: [
        { aboveInputTokens: 32_000, inputPerMillion: 2.4, outputPerMillion: 12, cachedInputPerMillion: 0.48 },
        { aboveInputTokens: 128_000, inputPerMillion: 3, outputPerMillion: 15, cachedInputPerMillion: 0.6 },
      ],
    }),
  },
  { id: 'qwen-plus', contextWindow: 1_000_000, maxOutputTokens: 32_768, capabilities: [...chatTools, 'reasoning', 'prompt_caching'], pricing: price(0.4, 1.2, 0.08) },
  { id: 'qwen-flash', contextWindow: 1_000_000, maxOutputTokens: 32_768, capabilities: [...chatTools, 'reasoning', 'prompt_caching'], pricing: price(0.05, 0.4, 0.01) },
  { id: 'qwen-turbo', contextWindow: 1_000_000, maxOutputTokens: 16_384, capabilities: [...chatTools, 'reasoning'], pricing: price(0.05, 0.2), deprecated: true },
  { id: 'qwen3-coder-plus', contextWindow: 1_000_000, maxOutputTokens: 65_536, capabilities: [...chatTools, 'prompt_caching'], pricing: price(1, 5, 0.2) },
  { id: 'qwen-vl-max', contextWindow: 131_072, maxOutputTokens: 8_192, capabilities: multimodal, pricing: price(0.8, 3.2) },
]);

const mistral = models('mistral', 'mistral', [
  { id: 'mistral-large', aliases: ['mistral-large-2512'], contextWindow: 256_000, capabilities: multimodal, pricing: price(0.5, 1.5) },
  { id: 'mistral-medium', aliases: ['mistral-medium-2508'], contextWindow: 128_000, capabilities: multimodal, pricing: price(0.4, 2) },
  { id: 'mistral-small', aliases: ['mistral-small-2506'], contextWindow: 128_000, capabilities: multimodal, pricing: price(0.1, 0.3) },
  { id: 'magistral-medium', aliases: ['magistral-medium-2509'], contextWindow: 128_000, capabilities: [...reasoningMultimodal], pricing: price(2, 5) },
  { id: 'magistral-small', aliases: ['magistral-small-2509'], contextWindow: 128_000, capabilities: [...reasoningMultimodal], pricing: price(0.5, 1.5) },
  { id: 'codestral', aliases: ['codestral-2508'], contextWindow: 256_000, capabilities: chatTools, pricing: price(0.3, 0.9) },
  { id: 'devstral-medium', aliases: ['devstral-medium-2507'], contextWindow: 128_000, capabilities: chatTools, pricing: price(0.4, 2) },
  { id: 'devstral-small', aliases: ['devstral-small-2507'], contextWindow: 128_000, capabilities: chatTools, pricing: price(0.1, 0.3) },
  { id: 'ministral-8b', aliases: ['ministral-8b-2410'], contextWindow: 128_000, capabilities: chatTools, pricing: price(0.1, 0.1) },
  { id: 'ministral-3b', aliases: ['ministral-3b-2410'], contextWindow: 128_000, capabilities: chatTools, pricing: price(0.04, 0.04) },
  { id: 'mistral-embed', kind: 'embedding', contextWindow: 8_192, capabilities: embeddings, pricing: price(0.1, 0) },
]);

const xai = models('xai', 'xai', [
  { id: 'grok-4', aliases: ['grok-4-0709'], contextWindow: 256_000, capabilities: [...cachedReasoningMultimodal], pricing: price(3, 15, 0.75) },
  { id: 'grok-4-1-fast-reasoning', contextWindow: 2_000_000, maxOutputTokens: 30_000, capabilities: cachedReasoningMultimodal, pricing: price(0.2, 0.5, 0.05) },
  { id: 'grok-4-1-fast-non-reasoning', contextWindow: 2_000_000, maxOutputTokens: 30_000, capabilities: cachedMultimodal, pricing: price(0.2, 0.5, 0.05) },
  { id: 'grok-4-fast-reasoning', contextWindow: 2_000_000, maxOutputTokens: 30_000, capabilities: cachedReasoningMultimodal, pricing: price(0.2, 0.5, 0.05) },
  { id: 'grok-4-fast-non-reasoning', contextWindow: 2_000_000, maxOutputTokens: 30_000, capabilities: cachedMultimodal, pricing: price(0.2, 0.5, 0.05) },
  { id: 'grok-code-fast-1', contextWindow: 256_000, capabilities: [...chatTools, 'reasoning', 'prompt_caching'], pricing: price(0.2, 1.5, 0.02) },
  { id: 'grok-3', contextWindow: 131_072, capabilities: [...chatTools, 'prompt_caching'], pricing: price(3, 15, 0.75) },
  { id: 'grok-3-mini', contextWindow: 131_072, capabilities: [...chatTools, 'reasoning', 'prompt_caching'], pricing: price(0.3, 0.5, 0.075) },
]);

/** Groq hosts open models (Llama, gpt-oss, Qwen) at its own prices. */
const groq: ModelFacts[] = [
  ...models('groq', 'meta', [
    { id: 'llama-3.3-70b-versatile', contextWindow: 131_072, maxOutputTokens: 32_768, capabilities: chatTools, pricing: price(0.59, 0.79) },
    { id: 'llama-3.1-8b-instant', contextWindow: 131_072, maxOutputTokens: 131_072, capabilities: chatTools, pricing: price(0.05, 0.08) },
    { id: 'meta-llama/llama-4-scout-17b-16e-instruct', contextWindow: 131_072, maxOutputTokens: 8_192, capabilities: multimodal, pricing: price(0.11, 0.34) },
    { id: 'meta-llama/llama-4-maverick-17b-128e-instruct', contextWindow: 131_072, maxOutputTokens: 8_192, capabilities: multimodal, pricing: price(0.2, 0.6) },
  ]),
  ...models('groq', 'openai', [
    { id: 'openai/gpt-oss-120b', contextWindow: 131_072, maxOutputTokens: 65_536, capabilities: [...chatTools, 'reasoning'], pricing: price(0.15, 0.6) },
    { id: 'openai/gpt-oss-20b', contextWindow: 131_072, maxOutputTokens: 65_536, capabilities: [...chatTools, 'reasoning'], pricing: price(0.075, 0.3) },
  ]),
  ...models('groq', 'alibaba', [{ id: 'qwen/qwen3-32b', contextWindow: 131_072, maxOutputTokens: 40_960, capabilities: [...chatTools, 'reasoning'], pricing: price(0.29, 0.59) }]),
];

const together = models('together', 'meta', [
  { id: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', contextWindow: 131_072, capabilities: chatTools, pricing: price(0.88, 0.88) },
  { id: 'meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8', contextWindow: 1_048_576, capabilities: multimodal, pricing: price(0.27, 0.85) },
]);

export const catalogEntries: ModelCatalog = {
  source:
    'Public list prices and model pages of OpenAI, Anthropic, Google (Gemini API), DeepSeek, Alibaba Model Studio (international), Mistral, xAI, Groq and Together; standard tier, USD per million tokens.',
  updated: '2026-06',
  models: [...openAI, ...anthropic, ...google, ...deepSeek, ...qwen, ...mistral, ...xai, ...groq, ...together],
};
