import { readFileSync } from 'node:fs';
import { silentLogger } from '@switchyard/core';
import { type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/server.js';

/*
 * The example server configured for Azure OpenAI from its environment variables, called with the official
 * `openai` SDK, against a mock Azure resource that answers in Azure's wire format.
 */

const fixtures = new URL('../../../packages/providers/src/azure/__fixtures__/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, fixtures), 'utf8');
const framed = (name: string) => [
  ...fixture(name)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => `data: ${line}\n\n`),
  'data: [DONE]\n\n',
];

const apiVersion = '2025-04-01-preview';
const deploymentPath = (deployment: string) => `/openai/deployments/${deployment}/chat/completions?api-version=${apiVersion}`;

describe('example server with Azure OpenAI', () => {
  let azure: MockUpstream;
  let server: StartedServer;
  let client: OpenAI;

  beforeAll(async () => {
    azure = await startMockUpstream((request, response) => {
      const body = request.json as { stream?: boolean };
      if (request.headers['api-key'] !== 'azure-test-key') return sendJson(response, 401, { statusCode: 401, message: 'Unauthorized.' });
      switch (request.url) {
        case deploymentPath('gpt-4o-mini'):
          if (body.stream) return writeEventStream(response, framed('azure-text.chunks.txt'));
          return sendJson(response, 200, JSON.parse(fixture('azure-text.json')));
        case deploymentPath('story-writer'):
          return writeEventStream(response, framed('azure-content-filter.chunks.txt'));
        case deploymentPath('guarded'):
          return sendJson(response, 400, JSON.parse(fixture('azure-content-filter-error.json')));
        default:
          return sendJson(response, 404, JSON.parse(fixture('azure-deployment-not-found-error.json')));
      }
    });
    server = await startServer(
      {
        PORT: '0',
        // Repeated identical requests here test the upstream path, not the cache.
        SWITCHYARD_CACHE: 'off',
        AZURE_OPENAI_API_KEY: 'azure-test-key',
        AZURE_OPENAI_ENDPOINT: azure.url,
        AZURE_OPENAI_API_VERSION: apiVersion,
        AZURE_OPENAI_DEPLOYMENTS: 'gpt-4o-mini, story-writer',
      },
      silentLogger,
    );
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'gateway-key', maxRetries: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await azure?.close();
  });

  it('answers a JSON request through the deployment URL with the api-key header', async () => {
    const completion = await client.chat.completions.create({ model: 'azure/gpt-4o-mini', messages: [{ role: 'user', content: 'What is the capital of France?' }] });
    expect(completion.choices[0]!.message.content).toBe('The capital of France is Paris.');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 14, completion_tokens: 8, total_tokens: 22 });
    const sent = azure.requests.at(-1)!;
    expect(sent.url).toBe(deploymentPath('gpt-4o-mini'));
    expect(sent.headers['api-key']).toBe('azure-test-key');
    // The client's gateway key never reaches Azure.
    expect(sent.headers.authorization).toBeUndefined();
  });

  it('streams without the empty first chunk, with usage last when asked for', async () => {
    const stream = await client.chat.completions.create({
      model: 'azure/gpt-4o-mini',
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    for (const chunk of chunks) {
      expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunk.id).toBe('chatcmpl-AzTest0001');
      expect(chunk.model).toBe('gpt-4o-mini-2024-07-18');
    }
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('The capital of France is Paris.');
    expect(chunks.filter((chunk) => chunk.choices[0]?.finish_reason).map((chunk) => chunk.choices[0]!.finish_reason)).toEqual(['stop']);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 14, completion_tokens: 8, total_tokens: 22 } });
    expect(chunks.filter((chunk) => chunk.usage)).toHaveLength(1);
  });

  it('streams to the SDK stream helper, which assembles the final answer', async () => {
    const stream = client.chat.completions.stream({ model: 'azure/gpt-4o-mini', messages: [{ role: 'user', content: 'What is the capital of France?' }] });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe('The capital of France is Paris.');
    expect(final.choices[0]!.finish_reason).toBe('stop');
  });

  it('keeps usage out of the stream when the client did not ask for it', async () => {
    const stream = await client.chat.completions.create({ model: 'azure/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((chunk) => chunk.choices.length > 0 && !chunk.usage)).toBe(true);
  });

  it('ends a stream whose answer the output filter cut with finish_reason content_filter', async () => {
    const stream = await client.chat.completions.create({ model: 'azure/story-writer', messages: [{ role: 'user', content: 'Tell a story.' }], stream: true });
    const reasons: Array<string | null> = [];
    let text = '';
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        if (choice.finish_reason) reasons.push(choice.finish_reason);
      }
    }
    expect(text).toBe('Here is the story');
    expect(reasons).toEqual(['content_filter']);
  });

  it('answers a prompt the content filter blocked with a 400 the SDK reads as content_filter', async () => {
    const failure = await client.chat.completions
      .create({ model: 'azure/guarded', messages: [{ role: 'user', content: 'Something blocked.' }] })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(OpenAI.BadRequestError);
    const error = failure as InstanceType<typeof OpenAI.BadRequestError>;
    expect(error.status).toBe(400);
    expect(error.code).toBe('content_filter');
    expect(error.param).toBe('prompt');
    expect(error.type).toBe('invalid_request_error');
  });

  it('answers an unknown deployment with a 404 model_not_found', async () => {
    const failure = await client.chat.completions.create({ model: 'azure/missing', messages: [{ role: 'user', content: 'Hi' }] }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(OpenAI.NotFoundError);
    expect((failure as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });

  it('lists the configured deployments, with the limits the catalog knows for their model', async () => {
    const models: Array<OpenAI.Model & { context_window?: number; max_output_tokens?: number }> = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((model) => model.id)).toEqual(expect.arrayContaining(['azure/gpt-4o-mini', 'azure/story-writer']));
    expect(models.find((model) => model.id === 'azure/gpt-4o-mini')).toMatchObject({ owned_by: 'azure', context_window: 128_000, max_output_tokens: 16_384 });
    expect(models.find((model) => model.id === 'azure/story-writer')).not.toHaveProperty('context_window');
  });
});
