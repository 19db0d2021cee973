import { describe, expect, it } from 'vitest';
import { costOf, exportLiteLLMPrice, formatUsd, importLiteLLMPrices, PriceBook, priceFromCatalog, priceFromConfig, usageBreakdown, worstCaseCost } from './prices.js';

/** Entries in the shape of LiteLLM's model_prices_and_context_window.json. */
const litellmDocument = {
  sample_spec: { max_tokens: 'set to max_output_tokens if provider specifies it', input_cost_per_token: 0.0, output_cost_per_token: 0.0, litellm_provider: 'one of https://docs.litellm.ai/docs/providers' },
  'gpt-4o-mini': { max_input_tokens: 128_000, max_output_tokens: 16_384, input_cost_per_token: 1.5e-7, output_cost_per_token: 6e-7, cache_read_input_token_cost: 7.5e-8, litellm_provider: 'openai', mode: 'chat' },
  'claude-sonnet-4-5': { max_output_tokens: 64_000, input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5, cache_creation_input_token_cost: 3.75e-6, cache_read_input_token_cost: 3e-7, litellm_provider: 'anthropic' },
  'deepseek/deepseek-reasoner': { max_tokens: 8_192, input_cost_per_token: 5.5e-7, output_cost_per_token: 2.19e-6, litellm_provider: 'deepseek' },
  'gemini-2.5-pro': {
    max_output_tokens: 65_535,
    input_cost_per_token: 1.25e-6,
    input_cost_per_token_above_200k_tokens: 2.5e-6,
    output_cost_per_token: 1e-5,
    output_cost_per_token_above_200k_tokens: 1.5e-5,
    cache_read_input_token_cost: 3.1e-7,
    cache_read_input_token_cost_above_200k_tokens: 6.25e-7,
    litellm_provider: 'gemini',
  },
  'dall-e-3': { output_cost_per_image: 0.04, litellm_provider: 'openai', mode: 'image_generation' },
};

describe('prices', () => {
  it('imports LiteLLM price files under their own names and as provider/model', () => {
    const prices = importLiteLLMPrices(litellmDocument);
    expect(prices.get('gpt-4o-mini')).toEqual({ inputPerToken: 1.5e-7, outputPerToken: 6e-7, cacheReadPerToken: 7.5e-8, maxOutputTokens: 16_384 });
    expect(prices.get('openai/gpt-4o-mini')).toBe(prices.get('gpt-4o-mini'));
    expect(prices.get('anthropic/claude-sonnet-4-5')).toMatchObject({ cacheWritePerToken: 3.75e-6, cacheReadPerToken: 3e-7, maxOutputTokens: 64_000 });
    // Already prefixed: not prefixed twice; max_tokens stands in for a missing max_output_tokens.
    expect(prices.get('deepseek/deepseek-reasoner')).toMatchObject({ maxOutputTokens: 8_192 });
    expect(prices.has('deepseek/deepseek/deepseek-reasoner')).toBe(false);
    // Entries without token prices (image models, the documentation entry with strings) are skipped.
    expect(prices.has('dall-e-3')).toBe(false);
    expect(prices.get('sample_spec')).toEqual({ inputPerToken: 0, outputPerToken: 0 });
    expect(() => importLiteLLMPrices([])).toThrow(TypeError);
  });

  it('writes a price back in LiteLLM format and reads it again unchanged', () => {
    const original = importLiteLLMPrices(litellmDocument).get('claude-sonnet-4-5')!;
    const exported = exportLiteLLMPrice(original, 'anthropic');
    expect(exported).toEqual({ input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5, cache_read_input_token_cost: 3e-7, cache_creation_input_token_cost: 3.75e-6, max_output_tokens: 64_000, litellm_provider: 'anthropic' });
    expect(importLiteLLMPrices({ 'claude-sonnet-4-5': exported }).get('claude-sonnet-4-5')).toEqual(original);
  });

  it('reads long-context tiers, prices prompts past them at the dearer rates, and writes them back', () => {
    const price = importLiteLLMPrices(litellmDocument).get('gemini/gemini-2.5-pro')!;
    expect(price.longContextTiers).toEqual([{ aboveInputTokens: 200_000, inputPerToken: 2.5e-6, outputPerToken: 1.5e-5, cacheReadPerToken: 6.25e-7 }]);
    const short = { promptTokens: 200_000, cachedTokens: 0, cacheWriteTokens: 0, completionTokens: 1000, reasoningTokens: 0 };
    expect(costOf(short, price)).toBeCloseTo(200_000 * 1.25e-6 + 1000 * 1e-5, 10);
    expect(costOf({ ...short, promptTokens: 200_001 }, price)).toBeCloseTo(200_001 * 2.5e-6 + 1000 * 1.5e-5, 10);
    expect(worstCaseCost(300_000, 1000, price)).toBeCloseTo(300_000 * 2.5e-6 + 1000 * 1.5e-5, 10);
    const exported = exportLiteLLMPrice(price, 'gemini');
    expect(importLiteLLMPrices({ 'gemini-2.5-pro': exported }).get('gemini-2.5-pro')).toEqual(price);
  });

  it('takes prices from the providers\' model catalog', () => {
    expect(
      priceFromCatalog({
        maxOutputTokens: 16_384,
        pricing: { inputPerMillion: 0.15, outputPerMillion: 0.6, cachedInputPerMillion: 0.075, longContextTiers: [{ aboveInputTokens: 1000, inputPerMillion: 0.3, outputPerMillion: 1.2 }] },
      }),
    ).toEqual({
      inputPerToken: 1.5e-7,
      outputPerToken: 6e-7,
      cacheReadPerToken: 7.5e-8,
      maxOutputTokens: 16_384,
      longContextTiers: [{ aboveInputTokens: 1000, inputPerToken: 3e-7, outputPerToken: 1.2e-6 }],
    });
    expect(priceFromCatalog({ maxOutputTokens: 10 })).toBeUndefined();
    expect(priceFromCatalog(undefined)).toBeUndefined();
  });

  it('converts per-million configuration to per-token prices', () => {
    expect(priceFromConfig({ input_per_million: 2.5, output_per_million: 10, cache_read_per_million: 1.25, max_output_tokens: 16_384 })).toEqual({
      inputPerToken: 2.5e-6,
      outputPerToken: 1e-5,
      cacheReadPerToken: 1.25e-6,
      maxOutputTokens: 16_384,
    });
  });

  it('looks prices up by provider/model, then bare id; overrides win over imports, imports over the catalog', () => {
    const catalogCalls: string[] = [];
    const book = new PriceBook({
      overrides: { 'openai/gpt-4o-mini': { input_per_million: 1, output_per_million: 2 } },
      catalog: (model) => {
        catalogCalls.push(model.model);
        return model.model === 'groq/llama' ? { inputPerToken: 1e-7, outputPerToken: 2e-7 } : undefined;
      },
    });
    book.importLiteLLM(litellmDocument);
    expect(book.lookup({ model: 'openai/gpt-4o-mini', modelId: 'gpt-4o-mini', providerId: 'openai' })!.inputPerToken).toBe(1e-6);
    expect(book.lookup({ model: 'azure/gpt-4o-mini', modelId: 'gpt-4o-mini', providerId: 'azure' })!.inputPerToken).toBe(1.5e-7);
    expect(book.lookup({ model: 'groq/llama', modelId: 'llama', providerId: 'groq' })!.inputPerToken).toBe(1e-7);
    expect(book.lookup({ model: 'groq/other', modelId: 'other', providerId: 'groq' })).toBeUndefined();
    expect(catalogCalls).toEqual(['groq/llama', 'groq/other']);
  });

  it('reads cached, cache-write and reasoning tokens out of usage', () => {
    expect(
      usageBreakdown({ prompt_tokens: 1000, completion_tokens: 300, total_tokens: 1300, prompt_tokens_details: { cached_tokens: 400, cache_write_tokens: 100 }, completion_tokens_details: { reasoning_tokens: 120 } }),
    ).toEqual({ promptTokens: 1000, cachedTokens: 400, cacheWriteTokens: 100, completionTokens: 300, reasoningTokens: 120 });
    // Details larger than their totals are clamped; negative and missing values count as zero.
    expect(usageBreakdown({ prompt_tokens: 10, completion_tokens: -5, total_tokens: 5, prompt_tokens_details: { cached_tokens: 50 } })).toEqual({
      promptTokens: 10,
      cachedTokens: 10,
      cacheWriteTokens: 0,
      completionTokens: 0,
      reasoningTokens: 0,
    });
    expect(usageBreakdown({ prompt_tokens: 8, total_tokens: 8 })).toMatchObject({ promptTokens: 8, completionTokens: 0 });
    expect(usageBreakdown(undefined).promptTokens).toBe(0);
  });

  it('costs each kind of token at its own rate', () => {
    const price = { inputPerToken: 3e-6, outputPerToken: 1.5e-5, cacheReadPerToken: 3e-7, cacheWritePerToken: 3.75e-6, reasoningPerToken: 2e-5 };
    const usage = { promptTokens: 1000, cachedTokens: 400, cacheWriteTokens: 100, completionTokens: 300, reasoningTokens: 120 };
    // 500 plain input, 400 cache reads, 100 cache writes, 180 plain output, 120 reasoning.
    const expected = 500 * 3e-6 + 400 * 3e-7 + 100 * 3.75e-6 + 180 * 1.5e-5 + 120 * 2e-5;
    expect(costOf(usage, price)).toBeCloseTo(expected, 12);
    // Without special rates, cache and reasoning tokens cost like input and output.
    expect(costOf(usage, { inputPerToken: 1e-6, outputPerToken: 2e-6 })).toBeCloseTo(1000 * 1e-6 + 300 * 2e-6, 12);
  });

  it('bounds the worst case from above with the dearest rates, rounded up', () => {
    const price = { inputPerToken: 3e-6, outputPerToken: 1.5e-5, cacheWritePerToken: 3.75e-6 };
    expect(worstCaseCost(1000, 500, price)).toBeCloseTo(1000 * 3.75e-6 + 500 * 1.5e-5, 12);
    const tiny = worstCaseCost(1, 0, { inputPerToken: 1.23456789012e-11, outputPerToken: 0 });
    expect(tiny).toBe(1e-10);
  });

  it('formats dollars without float noise or exponents', () => {
    expect(formatUsd(0.1 + 0.2)).toBe('0.3');
    expect(formatUsd(0.003)).toBe('0.003');
    expect(formatUsd(1.5e-7)).toBe('0.00000015');
    expect(formatUsd(0)).toBe('0');
    expect(formatUsd(12)).toBe('12');
  });
});
