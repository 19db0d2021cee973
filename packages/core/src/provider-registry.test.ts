import { afterEach, describe, expect, it } from 'vitest';
import { ask, closeGateways, fakeProvider, postJson, startGateway } from './__fixtures__/fakes.js';
import { GatewayError } from './errors.js';
import type { ProviderV1 } from './provider.js';
import { ProviderRegistry } from './provider-registry.js';

afterEach(closeGateways);

const openai = fakeProvider('openai', undefined, { modelPrefixes: ['gpt-', 'o1'] });
const anthropic = fakeProvider('anthropic', undefined, { modelPrefixes: ['claude-'] });
const openrouter = fakeProvider('openrouter', undefined, { modelPrefixes: ['claude-'] });

describe('ProviderRegistry.resolve', () => {
  const registry = new ProviderRegistry([openai, anthropic, openrouter], { fast: 'openai/gpt-4o-mini', smart: 'claude-sonnet-4-5' });

  it('resolves provider/model', () => {
    const target = registry.resolve('anthropic/claude-sonnet-4-5');
    expect(target.provider).toBe(anthropic);
    expect(target.modelId).toBe('claude-sonnet-4-5');
    expect(target.model).toBe('anthropic/claude-sonnet-4-5');
  });

  it('splits at the first slash, so model ids may contain slashes', () => {
    const target = registry.resolve('openrouter/anthropic/claude-sonnet-4.5');
    expect(target.provider).toBe(openrouter);
    expect(target.modelId).toBe('anthropic/claude-sonnet-4.5');
  });

  it('resolves a bare name by prefix, the first registered provider winning', () => {
    expect(registry.resolve('gpt-4o').provider).toBe(openai);
    expect(registry.resolve('o1-mini').model).toBe('openai/o1-mini');
    const claude = registry.resolve('claude-haiku-4-5');
    expect(claude.provider).toBe(anthropic);
    expect(claude.model).toBe('anthropic/claude-haiku-4-5');
  });

  it('falls back to prefixes when the part before the slash is not a provider', () => {
    expect(registry.tryResolve('meta/llama')).toBeUndefined();
    expect(registry.resolve('claude-x/variant').provider).toBe(anthropic);
  });

  it('follows aliases to a full name or a bare name', () => {
    expect(registry.resolve('fast').model).toBe('openai/gpt-4o-mini');
    expect(registry.resolve('smart').model).toBe('anthropic/claude-sonnet-4-5');
  });

  it('throws model_not_found naming the requested model, for empty and dangling names too', () => {
    for (const name of ['mistral-large', 'openai/', '/gpt-4o', 'unknown/gpt-x', '']) {
      let thrown: unknown;
      try {
        registry.resolve(name);
      } catch (error) {
        thrown = error;
      }
      expect(GatewayError.isInstance(thrown), name).toBe(true);
      expect(thrown).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    }
    expect(() => new ProviderRegistry([openai], { broken: 'nowhere/model' }).resolve('broken')).toThrow(/'broken'/);
  });

  it('refuses providers it cannot serve', () => {
    const registry = new ProviderRegistry();
    expect(() => registry.register({ ...openai, specificationVersion: 'v2' } as unknown as ProviderV1)).toThrow(/'v2' is not supported/);
    expect(() => registry.register({ id: 'x' } as unknown as ProviderV1)).toThrow(/specificationVersion/);
    expect(() => registry.register(fakeProvider('a/b'))).toThrow(/must not contain/);
    registry.register(openai);
    expect(() => registry.register(fakeProvider('openai'))).toThrow(/registered twice/);
  });
});

describe('model resolution through the endpoint', () => {
  it('calls the resolved provider with the model id and reports it in headers', async () => {
    const alpha = fakeProvider('alpha', undefined, { modelPrefixes: ['alpha-'] });
    const beta = fakeProvider('beta');
    const { url } = await startGateway({ providers: [alpha, beta], aliases: { quick: 'beta/vendor/model-1' } });

    const byPrefix = await postJson(`${url}/v1/chat/completions`, { model: 'alpha-large', ...ask });
    expect(byPrefix.status).toBe(200);
    expect(byPrefix.headers.get('x-switchyard-provider')).toBe('alpha');
    expect(byPrefix.headers.get('x-switchyard-model')).toBe('alpha/alpha-large');
    expect(alpha.calls[0]!.modelId).toBe('alpha-large');

    const byAlias = await postJson(`${url}/v1/chat/completions`, { model: 'quick', ...ask });
    expect(byAlias.headers.get('x-switchyard-model')).toBe('beta/vendor/model-1');
    expect(beta.calls[0]!.modelId).toBe('vendor/model-1');
    // The provider receives the body as the client sent it; the model id travels separately.
    expect(beta.calls[0]!.request.model).toBe('quick');
  });

  it('answers an unknown model with 404 model_not_found', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const response = await postJson(`${url}/v1/chat/completions`, { model: 'nobody/nothing', ...ask });
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
    expect(body.error.message).toContain("'nobody/nothing'");
  });
});
