import { describe, expect, it } from 'vitest';
import {
  catalogModelsFor,
  estimateCost,
  findModel,
  findModelByName,
  listCatalogModels,
  modelCatalog,
  modelIdCandidates,
  ratesFor,
  withCatalogFacts,
} from './model-catalog.js';

describe('findModel', () => {
  it('finds models by id, alias and dated snapshot id', () => {
    expect(findModel('openai', 'gpt-4o-mini')?.id).toBe('gpt-4o-mini');
    expect(findModel('openai', 'gpt-4o-mini-2024-07-18')?.id).toBe('gpt-4o-mini');
    expect(findModel('openai', 'GPT-4o-Mini')?.id).toBe('gpt-4o-mini');
    expect(findModel('openai', 'o3-2025-04-16')?.id).toBe('o3');
    expect(findModel('anthropic', 'claude-haiku-4-5-20251001')?.id).toBe('claude-haiku-4-5');
    expect(findModel('anthropic', 'claude-sonnet-4-5@20250929')?.id).toBe('claude-sonnet-4-5');
    expect(findModel('anthropic', 'claude-3-5-haiku-latest')?.id).toBe('claude-3-5-haiku');
    expect(findModel('anthropic', 'claude-sonnet-4-20250514')?.id).toBe('claude-sonnet-4-0');
    expect(findModel('mistral', 'mistral-large-latest')?.id).toBe('mistral-large');
    expect(findModel('mistral', 'mistral-small-2506')?.id).toBe('mistral-small');
    expect(findModel('xai', 'grok-4-0709')?.id).toBe('grok-4');
    expect(findModel('google', 'models/gemini-2.5-flash')?.id).toBe('gemini-2.5-flash');
    expect(findModel('google', 'gemini-2.0-flash-001')?.id).toBe('gemini-2.0-flash');
    expect(findModel('dashscope', 'qwen3-max-2025-09-23')?.id).toBe('qwen3-max');
    expect(findModel('groq', 'meta-llama/llama-4-scout-17b-16e-instruct')?.vendor).toBe('meta');
  });

  it('resolves provider ids that serve another provider catalog', () => {
    expect(findModel('azure', 'gpt-4.1-2025-04-14')?.provider).toBe('openai');
    expect(findModel('gemini', 'gemini-2.5-pro')?.provider).toBe('google');
    expect(findModel('alibaba', 'qwen-plus')?.provider).toBe('dashscope');
  });

  it('does not guess: other families, other providers and unknown ids find nothing', () => {
    expect(findModel('openai', 'gpt-4o-mini-search-preview')).toBeUndefined();
    expect(findModel('openai', 'gpt-4o-mini-tts')).toBeUndefined();
    expect(findModel('anthropic', 'gpt-4o')).toBeUndefined();
    expect(findModel('nobody', 'gpt-4o')).toBeUndefined();
    expect(findModel('openai', '')).toBeUndefined();
  });

  it('lists the candidates it tries, most specific first', () => {
    expect(modelIdCandidates('claude-3-5-haiku-20241022')).toEqual(['claude-3-5-haiku-20241022', 'claude-3-5-haiku']);
    expect(modelIdCandidates('gemini-2.5-flash-preview-09-2025')).toEqual(['gemini-2.5-flash-preview-09-2025', 'gemini-2.5-flash-preview']);
    expect(modelIdCandidates('gpt-4o')).toEqual(['gpt-4o']);
  });
});

describe('findModelByName', () => {
  it('uses the provider prefix, or the maker of the model for bare names', () => {
    expect(findModelByName('openai/gpt-4o')?.provider).toBe('openai');
    expect(findModelByName('azure/gpt-4o')?.provider).toBe('openai');
    expect(findModelByName('gpt-5-mini')?.provider).toBe('openai');
    expect(findModelByName('claude-opus-4-1-20250805')?.provider).toBe('anthropic');
    expect(findModelByName('deepseek-v4-flash')?.provider).toBe('deepseek');
    expect(findModelByName('groq/llama-3.3-70b-versatile')?.provider).toBe('groq');
    // Hosts of other makers' models are only used when named.
    expect(findModelByName('llama-3.3-70b-versatile')).toBeUndefined();
  });
});

describe('catalog data', () => {
  it('has a source and a check date', () => {
    expect(modelCatalog.source.length).toBeGreaterThan(20);
    expect(modelCatalog.updated).toMatch(/^\d{4}-\d{2}$/);
  });

  it('covers the current GPT, Claude, Gemini, DeepSeek, Qwen, Mistral and Llama models', () => {
    const ids = modelCatalog.models.map((facts) => facts.id);
    for (const family of [/^gpt-5/, /^claude-/, /^gemini-/, /^deepseek-/, /^qwen/, /^mistral-/, /llama/i]) {
      expect(ids.some((id) => family.test(id)), String(family)).toBe(true);
    }
  });

  it('holds consistent facts for every model', () => {
    const seen = new Set<string>();
    for (const facts of modelCatalog.models) {
      const label = `${facts.provider}/${facts.id}`;
      for (const id of [facts.id, ...(facts.aliases ?? [])]) {
        const key = `${facts.provider}/${id.toLowerCase()}`;
        expect(seen.has(key), `duplicate ${key}`).toBe(false);
        seen.add(key);
      }
      expect(facts.contextWindow, label).toBeGreaterThan(0);
      if (facts.maxOutputTokens !== undefined) expect(facts.maxOutputTokens, label).toBeLessThanOrEqual(facts.contextWindow);
      expect(facts.capabilities.includes('embeddings'), label).toBe(facts.kind === 'embedding');
      const pricing = facts.pricing;
      expect(pricing, label).toBeDefined();
      expect(pricing!.inputPerMillion, label).toBeGreaterThan(0);
      if (facts.kind === 'chat') expect(pricing!.outputPerMillion, label).toBeGreaterThan(0);
      if (pricing!.cachedInputPerMillion !== undefined) expect(pricing!.cachedInputPerMillion, label).toBeLessThan(pricing!.inputPerMillion);
      let previous = 0;
      for (const tier of pricing!.longContextTiers ?? []) {
        expect(tier.aboveInputTokens, label).toBeGreaterThan(previous);
        expect(tier.aboveInputTokens, label).toBeLessThan(facts.contextWindow);
        expect(tier.inputPerMillion, label).toBeGreaterThan(pricing!.inputPerMillion);
        previous = tier.aboveInputTokens;
      }
      // Every model must be reachable by its own id.
      expect(findModel(facts.provider, facts.id), label).toBe(facts);
    }
  });
});

describe('prices', () => {
  it('estimates a cost with cached prompt tokens at the cache rate', () => {
    const pricing = findModel('openai', 'gpt-4o-mini')!.pricing!;
    const cost = estimateCost(pricing, { prompt_tokens: 1_000_000, completion_tokens: 100_000, prompt_tokens_details: { cached_tokens: 200_000 } });
    expect(cost.input).toBeCloseTo(0.12, 10);
    expect(cost.cachedInput).toBeCloseTo(0.015, 10);
    expect(cost.output).toBeCloseTo(0.06, 10);
    expect(cost.total).toBeCloseTo(0.195, 10);
  });

  it('bills cached tokens as input when the provider publishes no cache rate', () => {
    const cost = estimateCost({ inputPerMillion: 2, outputPerMillion: 4 }, { prompt_tokens: 1_000, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 400 } });
    expect(cost.total).toBeCloseTo(0.002, 10);
  });

  it('applies long-context tiers by prompt length', () => {
    const gemini = findModel('google', 'gemini-2.5-pro')!.pricing!;
    expect(ratesFor(gemini, 200_000)).toMatchObject({ inputPerMillion: 1.25, outputPerMillion: 10, cachedInputPerMillion: 0.125 });
    expect(ratesFor(gemini, 200_001)).toMatchObject({ inputPerMillion: 2.5, outputPerMillion: 15, cachedInputPerMillion: 0.25 });
    const qwen = findModel('dashscope', 'qwen3-max')!.pricing!;
    expect(ratesFor(qwen, 10_000).inputPerMillion).toBe(1.2);
    expect(ratesFor(qwen, 50_000).inputPerMillion).toBe(2.4);
    expect(ratesFor(qwen, 150_000).inputPerMillion).toBe(3);
  });
});

describe('model lists', () => {
  it('lists a provider without a model endpoint from the catalog, leaving out retired models', () => {
    const models = catalogModelsFor('anthropic');
    expect(models.map((model) => model.id)).toContain('claude-sonnet-4-5');
    expect(models.map((model) => model.id)).not.toContain('claude-3-5-haiku');
    expect(models.find((model) => model.id === 'claude-haiku-4-5')).toEqual({ id: 'claude-haiku-4-5', ownedBy: 'anthropic', contextWindow: 200_000, maxOutputTokens: 64_000 });
    expect(catalogModelsFor('gemini').length).toBe(listCatalogModels('google').filter((facts) => !facts.deprecated).length);
  });

  it('adds limits to models a provider listed, keeping what it said itself', () => {
    expect(
      withCatalogFacts('openai', [
        { id: 'gpt-4o-2024-08-06', ownedBy: 'system' },
        { id: 'ft:gpt-4o-mini:acme', ownedBy: 'acme' },
        { id: 'gpt-4o', contextWindow: 64_000 },
      ]),
    ).toEqual([
      { id: 'gpt-4o-2024-08-06', ownedBy: 'system', contextWindow: 128_000, maxOutputTokens: 16_384 },
      { id: 'ft:gpt-4o-mini:acme', ownedBy: 'acme' },
      { id: 'gpt-4o', contextWindow: 64_000, maxOutputTokens: 16_384 },
    ]);
  });
});
