/**
 * Security properties that do not depend on keys: upstream addresses come only from configuration, and
 * request size and nesting are capped.
 */
import { createGateway, type Gateway, silentLogger } from '@switchyard/core';
import { createOpenAICompatible } from '@switchyard/providers';
import { type MockUpstream, sendJson, startMockUpstream } from '@switchyard/providers/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let configured: MockUpstream;
let attacker: MockUpstream;
let gateway: Gateway;
let url: string;

beforeAll(async () => {
  const answer = (response: Parameters<Parameters<typeof startMockUpstream>[0]>[1]) =>
    sendJson(response, 200, { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok', refusal: null }, finish_reason: 'stop', logprobs: null }] });
  configured = await startMockUpstream((_request, response) => answer(response));
  attacker = await startMockUpstream((_request, response) => answer(response));
  gateway = createGateway({ providers: [createOpenAICompatible({ id: 'openai', baseURL: `${configured.url}/v1`, apiKey: 'provider-secret' })], logger: silentLogger });
  ({ url } = await gateway.listen(0));
});

afterAll(async () => {
  await gateway.close();
  await configured.close();
  await attacker.close();
});

describe('no request can choose where the gateway connects (SSRF)', () => {
  it('ignores base-URL headers, host overrides and body fields naming another server', async () => {
    const attackerHost = new URL(attacker.url).host;
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-forwarded-host': attackerHost,
        'x-base-url': attacker.url,
        'openai-base-url': attacker.url,
        'x-switchyard-base-url': attacker.url,
        forwarded: `host=${attackerHost}`,
      },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        base_url: attacker.url,
        api_base: attacker.url,
        baseURL: attacker.url,
      }),
    });
    expect(response.status).toBe(200);
    expect(attacker.requests).toHaveLength(0);
    expect(configured.requests).toHaveLength(1);
    // The provider's key goes only to the configured upstream, and the client's headers do not go upstream.
    expect(configured.requests[0]!.headers.authorization).toBe('Bearer provider-secret');
    expect(configured.requests[0]!.headers['x-base-url']).toBeUndefined();
  });

  it('treats a model name that looks like a URL as an unknown model', async () => {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: `${attacker.url}/v1/gpt-4o`, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(404);
    expect(attacker.requests).toHaveLength(0);
  });
});
