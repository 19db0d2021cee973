import { readFileSync } from 'node:fs';
import type { ChatCompletionChunk, ChatCompletionRequest, ProviderV1 } from '@switchyard/core';
import { GatewayError } from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockHandler, type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '../test-utils/mock-upstream.js';
import { loadOpenAISchemaValidators } from '../test-utils/openai-schema.js';
import { extractAzureError } from './azure-error.js';
import { createAzureOpenAI, defaultAzureApiVersion } from './azure-provider.js';

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');
const fixtureJson = (name: string) => JSON.parse(fixture(name)) as Record<string, any>;
/** Azure's wire framing: `data: <json>\n\n` per event, then `data: [DONE]`. */
const framed = (name: string) => [
  ...fixture(name)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => `data: ${line}\n\n`),
  'data: [DONE]\n\n',
];

const validators = loadOpenAISchemaValidators();
const request = (extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'azure/chat-deployment',
  messages: [{ role: 'user', content: 'What is the capital of France?' }],
  ...extra,
});
const callOptions = () => ({ signal: AbortSignal.timeout(10_000), requestId: 'req-azure-1' });

let upstream: MockUpstream | undefined;
let provider: ProviderV1 | undefined;

afterEach(async () => {
  await provider?.close?.();
  await upstream?.close();
  provider = undefined;
  upstream = undefined;
});

async function setup(handler: MockHandler, options: Partial<Parameters<typeof createAzureOpenAI>[0]> = {}) {
  upstream = await startMockUpstream(handler);
  provider = createAzureOpenAI({ endpoint: upstream.url, apiKey: 'azure-key', ...options });
  return { upstream, provider };
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

async function failureOf(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(GatewayError.isInstance(error)).toBe(true);
  return error as GatewayError;
}

describe('Azure OpenAI provider', () => {
  it('calls the deployment URL with api-version and the api-key header, and keeps content-filter results', async () => {
    const { upstream, provider } = await setup((_request, response) => sendJson(response, 200, fixtureJson('azure-text.json')));
    const result = await provider.chat('chat-deployment', request(), callOptions());

    const sent = upstream.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe(`/openai/deployments/chat-deployment/chat/completions?api-version=${defaultAzureApiVersion}`);
    expect(sent.headers['api-key']).toBe('azure-key');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.json).toMatchObject({ model: 'chat-deployment', messages: [{ role: 'user', content: 'What is the capital of France?' }] });

    expect(result.type).toBe('response');
    if (result.type !== 'response') return;
    expect(result.response.choices[0]!.message.content).toBe('The capital of France is Paris.');
    expect(result.response.choices[0]!.finish_reason).toBe('stop');
    expect(result.response.usage).toMatchObject({ prompt_tokens: 14, completion_tokens: 8, total_tokens: 22 });
    expect(result.response.prompt_filter_results).toEqual(fixtureJson('azure-text.json').prompt_filter_results);
    expect(result.response.choices[0]!.content_filter_results).toMatchObject({ violence: { filtered: false } });
    if (validators) expect(validators.response(result.response)).toEqual([]);
  });

  it('drops the empty first chunk, moves its prompt filter results to the first real chunk and sends usage last', async () => {
    const { upstream, provider } = await setup((_request, response) => writeEventStream(response, framed('azure-text.chunks.txt')));
    const result = await provider.chat('chat-deployment', request({ stream: true }), callOptions());
    expect(result.type).toBe('stream');
    if (result.type !== 'stream') return;
    const chunks = await collect(result.stream);

    expect(upstream.requests[0]!.json).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    // 11 upstream events: the empty first one is gone, the other ten arrive.
    expect(chunks).toHaveLength(10);
    for (const chunk of chunks) {
      expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunk.id).toBe('chatcmpl-AzTest0001');
      if (validators) expect(validators.chunk(chunk)).toEqual([]);
    }
    expect(chunks[0]!.prompt_filter_results).toEqual([expect.objectContaining({ prompt_index: 0 })]);
    expect(chunks.slice(1).some((chunk) => 'prompt_filter_results' in chunk)).toBe(false);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('The capital of France is Paris.');
    expect(chunks[1]!.choices[0]!.content_filter_results).toMatchObject({ hate: { filtered: false } });
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 14, completion_tokens: 8, total_tokens: 22 } });
  });

  it('reports an answer cut by the output content filter with finish_reason content_filter', async () => {
    const { provider } = await setup((_request, response) => writeEventStream(response, framed('azure-content-filter.chunks.txt')));
    const result = await provider.chat('chat-deployment', request({ stream: true }), callOptions());
    if (result.type !== 'stream') throw new Error('expected a stream');
    const chunks = await collect(result.stream);
    const finishing = chunks.find((chunk) => chunk.choices[0]?.finish_reason);
    expect(finishing!.choices[0]!.finish_reason).toBe('content_filter');
    expect(finishing!.choices[0]!.content_filter_results).toMatchObject({ violence: { filtered: true, severity: 'medium' } });
    if (validators) for (const chunk of chunks) expect(validators.chunk(chunk)).toEqual([]);
  });

  it('leaves the content-filter annotations out when asked to', async () => {
    const { provider } = await setup((_request, response) => writeEventStream(response, framed('azure-text.chunks.txt')), { keepContentFilterResults: false });
    const result = await provider.chat('chat-deployment', request({ stream: true }), callOptions());
    if (result.type !== 'stream') throw new Error('expected a stream');
    const serialized = JSON.stringify(await collect(result.stream));
    expect(serialized).not.toContain('filter_results');
  });

  it('maps a prompt blocked by the content filter to a 400 with code content_filter', async () => {
    const { provider } = await setup((_request, response) => sendJson(response, 400, fixtureJson('azure-content-filter-error.json')));
    const error = await failureOf(provider.chat('chat-deployment', request(), callOptions()));
    expect(error.status).toBe(400);
    expect(error.isRetryable).toBe(false);
    expect(error.toJSON()).toEqual({
      error: {
        message: expect.stringContaining('content management policy'),
        type: 'invalid_request_error',
        param: 'prompt',
        code: 'content_filter',
      },
    });
    if (validators) expect(validators.error(error.toJSON())).toEqual([]);
  });

  it('maps rate limits, unknown deployments and rejected keys to OpenAI codes', async () => {
    const answers: Array<[number, Record<string, any>, Record<string, string>]> = [
      [429, fixtureJson('azure-rate-limit-error.json'), { 'retry-after-ms': '6000', 'retry-after': '6' }],
      [404, fixtureJson('azure-deployment-not-found-error.json'), {}],
      [401, fixtureJson('azure-unauthorized-error.json'), {}],
    ];
    let next = 0;
    const { provider } = await setup((_request, response) => {
      const [status, body, headers] = answers[next++]!;
      sendJson(response, status, body, headers);
    });

    const rateLimited = await failureOf(provider.chat('chat-deployment', request(), callOptions()));
    expect(rateLimited).toMatchObject({ status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', isRetryable: true, retryAfterMs: 6000 });

    const missing = await failureOf(provider.chat('missing-deployment', request(), callOptions()));
    expect(missing).toMatchObject({ status: 404, type: 'not_found_error', code: 'model_not_found', isRetryable: false });

    const unauthorized = await failureOf(provider.chat('chat-deployment', request(), callOptions()));
    expect(unauthorized).toMatchObject({ status: 401, type: 'authentication_error', code: 'invalid_api_key', message: expect.stringContaining('Unauthorized') });
  });

  it('creates embeddings on the deployment URL', async () => {
    const { upstream, provider } = await setup((_request, response) =>
      sendJson(response, 200, { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 3, total_tokens: 3 } }),
    );
    const result = await provider.embeddings!('embedding-deployment', { model: 'azure/embedding-deployment', input: 'hello' }, callOptions());
    expect(upstream.requests[0]!.url).toBe(`/openai/deployments/embedding-deployment/embeddings?api-version=${defaultAzureApiVersion}`);
    expect(result).toEqual({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 3, total_tokens: 3 } });
  });

  it('uses the configured api-version, escapes deployment names and accepts portal-style endpoints', async () => {
    const { upstream, provider: defaultProvider } = await setup((_request, response) => sendJson(response, 200, fixtureJson('azure-text.json')));
    await defaultProvider.close?.();
    provider = createAzureOpenAI({ endpoint: `${upstream.url}/openai/`, apiKey: 'azure-key', apiVersion: '2025-04-01-preview' });
    await provider.chat('team a/gpt', request(), callOptions());
    expect(upstream.requests[0]!.url).toBe('/openai/deployments/team%20a%2Fgpt/chat/completions?api-version=2025-04-01-preview');
  });

  it('speaks the v1 API with the deployment in the body when apiVersion is v1', async () => {
    const { upstream, provider } = await setup((_request, response) => sendJson(response, 200, fixtureJson('azure-text.json')), { apiVersion: 'v1' });
    await provider.chat('chat-deployment', request(), callOptions());
    expect(upstream.requests[0]!.url).toBe('/openai/v1/chat/completions');
    expect(upstream.requests[0]!.json).toMatchObject({ model: 'chat-deployment' });
    expect(upstream.requests[0]!.headers['api-key']).toBe('azure-key');
  });

  it('lists the configured deployments with the limits the catalog knows for their model', async () => {
    const { upstream, provider } = await setup((_request, response) => sendJson(response, 500, {}), { deployments: ['gpt-4o-mini', 'custom-name'] });
    const models = await provider.listModels!({ signal: AbortSignal.timeout(5_000) });
    expect(models).toEqual([
      { id: 'gpt-4o-mini', ownedBy: 'azure', contextWindow: 128_000, maxOutputTokens: 16_384 },
      { id: 'custom-name', ownedBy: 'azure' },
    ]);
    expect(upstream.requests).toHaveLength(0);
    const withoutDeployments = createAzureOpenAI({ endpoint: upstream.url, apiKey: 'azure-key' });
    expect(await withoutDeployments.listModels!({ signal: AbortSignal.timeout(5_000) })).toEqual([]);
    await withoutDeployments.close?.();
  });

  it('refuses a configuration without endpoint or credentials', () => {
    expect(() => createAzureOpenAI({ apiKey: 'key' })).toThrow(/endpoint/);
    expect(() => createAzureOpenAI({ endpoint: 'not a url', apiKey: 'key' })).toThrow(/not a URL/);
    expect(() => createAzureOpenAI({ endpoint: 'https://example.openai.azure.com' })).toThrow(/apiKey/);
    const withToken = createAzureOpenAI({ resourceName: 'example', headers: { Authorization: 'Bearer entra-token' } });
    expect(withToken.id).toBe('azure');
    return withToken.close?.();
  });
});

describe('extractAzureError', () => {
  it('reads OpenAI-shaped bodies and maps Azure codes to OpenAI codes', () => {
    expect(extractAzureError(fixtureJson('azure-content-filter-error.json'))).toMatchObject({ code: 'content_filter', param: 'prompt' });
    expect(extractAzureError(fixtureJson('azure-rate-limit-error.json'))).toMatchObject({ code: 'rate_limit_exceeded' });
    expect(extractAzureError({ error: { message: 'blocked', innererror: { code: 'ResponsibleAIPolicyViolation' } } })).toMatchObject({ code: 'content_filter' });
    expect(extractAzureError({ error: { message: 'odd', code: 'SomethingElse' } })).toMatchObject({ code: 'SomethingElse' });
  });

  it('reads the front-door shape and ignores bodies that carry no message', () => {
    expect(extractAzureError(fixtureJson('azure-unauthorized-error.json'))).toEqual({ message: expect.stringContaining('Unauthorized'), code: 'invalid_api_key' });
    expect(extractAzureError({ unrelated: true })).toBeUndefined();
    expect(extractAzureError('plain text')).toBeUndefined();
  });
});
