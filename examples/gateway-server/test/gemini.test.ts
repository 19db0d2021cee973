import { readFileSync } from 'node:fs';
import { silentLogger } from '@switchyard/core';
import { type MockUpstream, type RecordedRequest, sendJson, startMockUpstream, writeEventStream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/server.js';

/*
 * The example server configured for Gemini from GEMINI_API_KEY / GEMINI_BASE_URL, called with the official
 * `openai` SDK, against a mock that speaks the Generative Language API: `:generateContent`,
 * `:streamGenerateContent?alt=sse` (CRLF framing, no terminator), embeddings, `/models` and Google's
 * error bodies. The mock plays the model: it calls a tool, then answers from the tool's result, and it
 * refuses a second turn whose function call lost its thought signature, as Gemini 3 does.
 */

const fixtures = new URL('../../../packages/providers/src/gemini/__fixtures__/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, fixtures), 'utf8');
const framed = (name: string) =>
  fixture(name)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => `data: ${line}\r\n\r\n`);

/** Signatures are base64 bytes; this one has `+`, `/` and padding, which tool call ids must carry intact. */
const signature = Buffer.from([0xfb, 0xef, 0xff, 0x10, 0x20, 0x74, 0x69, 0x64, 0x65, 0x3e, 0x3f]).toString('base64');

type Part = Record<string, any>;
type Content = { role: string; parts: Part[] };

function geminiText(text: string, usage = { promptTokenCount: 20, candidatesTokenCount: 6, totalTokenCount: 26 }) {
  return { candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP', index: 0 }], usageMetadata: usage, modelVersion: 'gemini-3-pro-preview', responseId: 'mockResponse1' };
}

/** Gemini's side of a conversation with one tool. */
function answerChat(body: { contents: Content[]; tools?: unknown[] }): unknown {
  const last = body.contents.at(-1)!;
  const results = last.parts.filter((part) => part.functionResponse);
  if (results.length > 0) {
    const call = body.contents.at(-2)?.parts.find((part) => part.functionCall);
    if (call?.thoughtSignature !== signature) {
      return { status: 400, body: { error: { code: 400, message: 'Function call is missing a thought_signature in functionCall parts.', status: 'INVALID_ARGUMENT' } } };
    }
    const result = results[0]!.functionResponse;
    return { status: 200, body: geminiText(`${result.name} says high tide is at ${result.response.high}.`) };
  }
  if (body.tools) {
    return {
      status: 200,
      body: {
        candidates: [
          {
            content: { role: 'model', parts: [{ functionCall: { name: 'get_tide', args: { harbor: 'Brest' } }, thoughtSignature: signature }] },
            finishReason: 'STOP',
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 10, totalTokenCount: 70, thoughtsTokenCount: 30 },
        modelVersion: 'gemini-3-pro-preview',
        responseId: 'mockToolCall1',
      },
    };
  }
  const media = last.parts.filter((part) => part.inlineData || part.fileData);
  if (media.length > 0) {
    const described = media.map((part) => (part.inlineData ? `inline ${part.inlineData.mimeType}` : `file ${part.fileData.fileUri}`)).join(', ');
    return { status: 200, body: geminiText(`I see: ${described}.`) };
  }
  return { status: 200, body: JSON.parse(fixture('gemini-text.json')) };
}

describe('example server with Gemini', () => {
  let gemini: MockUpstream;
  let server: StartedServer;
  let client: OpenAI;

  beforeAll(async () => {
    gemini = await startMockUpstream((request: RecordedRequest, response) => {
      if (request.headers['x-goog-api-key'] !== 'gemini-test-key') return sendJson(response, 400, JSON.parse(fixture('gemini-error-400-api-key.json')));
      const url = new URL(request.url, 'http://mock');
      if (request.method === 'GET' && url.pathname === '/v1beta/models') {
        return sendJson(response, 200, {
          models: [
            { name: 'models/gemini-2.5-flash', supportedGenerationMethods: ['generateContent'] },
            { name: 'models/gemini-embedding-001', supportedGenerationMethods: ['embedContent'] },
          ],
        });
      }
      const match = /^\/v1beta\/models\/([^:]+):(\w+)$/.exec(url.pathname);
      if (!match) return sendJson(response, 404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
      const [, model, method] = match;
      if (model === 'gemini-rate-limited') return sendJson(response, 429, JSON.parse(fixture('gemini-error-429-retry-info.json')));
      if (model === 'gemini-long-prompt') return sendJson(response, 400, JSON.parse(fixture('gemini-error-400-context.json')));
      if (model === 'gemini-invalid-key') return sendJson(response, 400, JSON.parse(fixture('gemini-error-400-api-key.json')));
      if (model !== 'gemini-2.5-flash' && model !== 'gemini-3-pro-preview' && model !== 'gemini-embedding-001') {
        return sendJson(response, 404, JSON.parse(fixture('gemini-error-404-model.json')));
      }
      const body = request.json as any;
      switch (method) {
        case 'streamGenerateContent':
          if (url.searchParams.get('alt') !== 'sse') return sendJson(response, 400, { error: { code: 400, message: 'alt=sse expected', status: 'INVALID_ARGUMENT' } });
          return writeEventStream(response, framed(body.tools ? 'gemini-tool-call.chunks.txt' : 'gemini-text.chunks.txt'));
        case 'generateContent': {
          const answer = answerChat(body) as { status: number; body: unknown };
          return sendJson(response, answer.status, answer.body);
        }
        case 'embedContent':
          return sendJson(response, 200, { embedding: { values: [0.25, 0.5, 0.75] } });
        case 'batchEmbedContents':
          return sendJson(response, 200, { embeddings: body.requests.map((_item: unknown, index: number) => ({ values: [index, index + 0.5] })) });
        default:
          return sendJson(response, 404, { error: { code: 404, message: `Unknown method ${method}`, status: 'NOT_FOUND' } });
      }
    });
    server = await startServer({ PORT: '0', GEMINI_API_KEY: 'gemini-test-key', GEMINI_BASE_URL: `${gemini.url}/v1beta` }, silentLogger);
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'gateway-key', maxRetries: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await gemini?.close();
  });

  it('answers a JSON request through generateContent with the key in x-goog-api-key', async () => {
    const completion = await client.chat.completions.create({
      model: 'gemini/gemini-2.5-flash',
      messages: [
        { role: 'system', content: 'Answer in one sentence.' },
        { role: 'user', content: 'How do lighthouses work?' },
      ],
      max_tokens: 64,
    });
    expect(completion.choices[0]!.message.content).toBe('Lighthouses use Fresnel lenses to focus a small lamp into a beam seen for miles.');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 57, total_tokens: 69, completion_tokens_details: { reasoning_tokens: 40 } });
    const sent = gemini.requests.at(-1)!;
    expect(sent.url).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(sent.headers['x-goog-api-key']).toBe('gemini-test-key');
    // The client's gateway key never reaches Google.
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.json).toMatchObject({ systemInstruction: { parts: [{ text: 'Answer in one sentence.' }] }, generationConfig: { maxOutputTokens: 64 } });
  });

  it('routes a bare gemini-… model name to the Gemini provider', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.choices[0]!.message.content).toContain('Fresnel');
    expect(response.headers.get('x-switchyard-provider')).toBe('gemini');
    expect(response.headers.get('x-switchyard-model')).toBe('gemini/gemini-2.5-flash');
  });

  it('streams text and ends with usage when asked for', async () => {
    const stream = await client.chat.completions.create({
      model: 'gemini/gemini-2.5-flash',
      messages: [{ role: 'user', content: 'How do lighthouses work?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const finishReasons: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        if (choice.finish_reason) finishReasons.push(choice.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Lighthouses use Fresnel lenses to focus a small lamp into a beam seen for miles.');
    expect(finishReasons).toEqual(['stop']);
    expect(usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 57, prompt_tokens_details: { cached_tokens: 4 } });
    expect(gemini.requests.at(-1)!.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  });

  it('streams tool calls the SDK can assemble', async () => {
    const stream = client.chat.completions.stream({
      model: 'gemini/gemini-3-pro-preview',
      messages: [{ role: 'user', content: 'Tides in Brest and Cherbourg on June 1st?' }],
      tools: [{ type: 'function', function: { name: 'get_tide', parameters: { type: 'object', properties: { harbor: { type: 'string' }, day: { type: 'string' } }, required: ['harbor'] } } }],
    });
    const completion = await stream.finalChatCompletion();
    const calls = completion.choices[0]!.message.tool_calls!;
    expect(calls.map((call) => call.type === 'function' && JSON.parse(call.function.arguments))).toEqual([
      { harbor: 'Brest', day: '2025-06-01' },
      { harbor: 'Cherbourg', day: '2025-06-01' },
    ]);
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('runs a tool round trip: the call, its result, then the answer, keeping the thought signature', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: { name: 'get_tide', description: 'Tide times for a harbor', parameters: { type: 'object', properties: { harbor: { type: 'string' } }, required: ['harbor'], additionalProperties: false } },
      },
    ];
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'When is high tide in Brest?' }];
    const first = await client.chat.completions.create({ model: 'gemini/gemini-3-pro-preview', messages, tools, tool_choice: 'auto' });
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function).toEqual({ name: 'get_tide', arguments: '{"harbor":"Brest"}' });
    expect(gemini.requests.at(-1)!.json).toMatchObject({
      tools: [{ functionDeclarations: [{ name: 'get_tide', description: 'Tide times for a harbor', parameters: { type: 'object', properties: { harbor: { type: 'string' } }, required: ['harbor'] } }] }],
      toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
    });

    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"high":"06:12"}' });
    const second = await client.chat.completions.create({ model: 'gemini/gemini-3-pro-preview', messages, tools });
    expect(second.choices[0]!.message.content).toBe('get_tide says high tide is at 06:12.');
    const contents = (gemini.requests.at(-1)!.json as { contents: Content[] }).contents;
    expect(contents.map((content) => content.role)).toEqual(['user', 'model', 'user']);
    expect(contents[1]!.parts).toEqual([{ functionCall: { name: 'get_tide', args: { harbor: 'Brest' } }, thoughtSignature: signature }]);
    expect(contents[2]!.parts).toEqual([{ functionResponse: { name: 'get_tide', response: { high: '06:12' } } }]);
  });

  it('sends images: data URLs inline, web URLs as file data', async () => {
    const completion = await client.chat.completions.create({
      model: 'gemini/gemini-2.5-flash',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these pictures?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==' } },
            { type: 'image_url', image_url: { url: 'https://example.com/harbor.jpg' } },
          ],
        },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe('I see: inline image/png, file https://example.com/harbor.jpg.');
    const parts = (gemini.requests.at(-1)!.json as { contents: Content[] }).contents[0]!.parts;
    expect(parts).toEqual([
      { text: 'What is in these pictures?' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgoAAAANSUhEUg==' } },
      { fileData: { fileUri: 'https://example.com/harbor.jpg', mimeType: 'image/jpeg' } },
    ]);
  });

  it('turns 429 RESOURCE_EXHAUSTED with RetryInfo into a RateLimitError with retry-after', async () => {
    const before = gemini.requests.length;
    const error = await client.chat.completions.create({ model: 'gemini/gemini-rate-limited', messages: [{ role: 'user', content: 'Hi' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimit = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.headers?.get('retry-after')).toBe('42');
    expect(rateLimit.headers?.get('retry-after-ms')).toBe('41700');
    expect(rateLimit.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded', message: 'Resource has been exhausted (e.g. check quota).' });
    // A 41.7 s wait is longer than the server waits before retrying: one upstream call, no retry.
    expect(gemini.requests.length - before).toBe(1);
  });

  it('maps Google errors to the SDK error classes', async () => {
    const create = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] }).catch((caught: unknown) => caught);
    const missing = await create('gemini/gemini-0.9-imaginary');
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({ code: 'model_not_found' });
    const tooLong = await create('gemini/gemini-long-prompt');
    expect(tooLong).toBeInstanceOf(OpenAI.BadRequestError);
    expect((tooLong as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ code: 'context_length_exceeded' });
    expect(await create('gemini/gemini-invalid-key')).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('creates embeddings with embedContent and batchEmbedContents', async () => {
    const single = await client.embeddings.create({ model: 'gemini/gemini-embedding-001', input: 'tide tables', encoding_format: 'float' });
    expect(single.data).toEqual([{ object: 'embedding', index: 0, embedding: [0.25, 0.5, 0.75] }]);
    expect(gemini.requests.at(-1)!.url).toBe('/v1beta/models/gemini-embedding-001:embedContent');

    // The SDK asks for base64 by default and decodes it: the vectors arrive intact.
    const batch = await client.embeddings.create({ model: 'gemini/gemini-embedding-001', input: ['ebb', 'flood'], dimensions: 2 });
    expect(batch.data.map((item) => item.embedding)).toEqual([
      [0, 0.5],
      [1, 1.5],
    ]);
    expect(gemini.requests.at(-1)!.json).toEqual({
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'ebb' }] }, outputDimensionality: 2 },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'flood' }] }, outputDimensionality: 2 },
      ],
    });
  });

  it('lists Gemini models under the gemini/ prefix', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(expect.arrayContaining(['gemini/gemini-2.5-flash', 'gemini/gemini-embedding-001']));
  });
});
