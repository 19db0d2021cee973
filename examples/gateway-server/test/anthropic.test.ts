import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@switchyard/core';
import { type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/server.js';

/*
 * The example server with Anthropic enabled from ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL, called with the
 * official `openai` SDK, against a mock that speaks Anthropic's Messages API: `x-api-key`, content blocks,
 * `event:`-framed streams and Anthropic's error bodies.
 */

const fixtures = new URL('../../../packages/providers/src/anthropic/__fixtures__/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, fixtures), 'utf8');
const frame = (events: readonly unknown[]) =>
  events.map((event) => `event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`);
const framedFixture = (name: string) => frame(fixture(name).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as unknown));

type AnthropicBlock = { type: string; text?: string; source?: { type: string; media_type?: string; url?: string }; tool_use_id?: string; content?: unknown; name?: string };
type AnthropicBody = { model: string; stream?: boolean; max_tokens: number; system?: unknown; messages: Array<{ role: string; content: AnthropicBlock[] }> };

/** A whole Messages API answer carrying `text`. */
function textMessage(model: string, text: string) {
  return {
    id: `msg_01${Buffer.from(text).toString('hex').slice(0, 22)}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 30, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 12 },
  };
}

describe('example server with Anthropic', () => {
  let anthropic: MockUpstream;
  let server: StartedServer;
  let client: OpenAI;
  let configDirectory: string;

  beforeAll(async () => {
    anthropic = await startMockUpstream((request, response) => {
      if (request.headers['x-api-key'] !== 'anthropic-test-key') {
        return sendJson(response, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
      }
      if (request.url !== '/v1/messages') return sendJson(response, 404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
      const body = request.json as AnthropicBody;
      switch (body.model) {
        case 'claude-haiku-4-5':
          if (body.stream) return writeEventStream(response, framedFixture('text.chunks.txt'));
          return sendJson(response, 200, JSON.parse(fixture('text.json')));
        case 'claude-sonnet-4-5': {
          const last = body.messages.at(-1)!;
          const results = last.content.filter((block) => block.type === 'tool_result');
          if (results.length === 0) {
            if (body.stream) return writeEventStream(response, framedFixture('parallel-tool-calls.chunks.txt'));
            return sendJson(response, 200, JSON.parse(fixture('tool-calls.json')));
          }
          // The answer quotes the tool results it was given, in order, so the test sees they arrived.
          const quoted = results.map((block) => `${block.tool_use_id}=${typeof block.content === 'string' ? block.content : JSON.stringify(block.content ?? '')}`);
          return sendJson(response, 200, textMessage(body.model, quoted.join('; ')));
        }
        case 'claude-opus-4-1': {
          // Describes the images it received, so the test sees how they were sent.
          const images = body.messages.flatMap((message) => message.content).filter((block) => block.type === 'image');
          const described = images.map((block) => (block.source?.type === 'base64' ? `base64 ${block.source.media_type}` : `url ${block.source?.url}`));
          return sendJson(response, 200, textMessage(body.model, described.join(', ')));
        }
        case 'claude-rate-limited':
          return sendJson(response, 429, JSON.parse(fixture('errors/429-rate_limit_error.json')), { 'retry-after': '7' });
        case 'claude-overloaded':
          return sendJson(response, 529, JSON.parse(fixture('errors/529-overloaded_error.json')));
        case 'claude-overloaded-midstream':
          return writeEventStream(response, [fixture('errors/midstream-overloaded_error.sse')]);
        default:
          return sendJson(response, 404, JSON.parse(fixture('errors/404-not_found_error.json')));
      }
    });
    // One attempt per request: these tests look at how each upstream failure reaches the client.
    configDirectory = mkdtempSync(join(tmpdir(), 'switchyard-anthropic-'));
    const configPath = join(configDirectory, 'switchyard.json');
    writeFileSync(configPath, JSON.stringify({ fallback: { retry: { maxAttempts: 1, attemptsPerTarget: 1 } } }));
    server = await startServer(
      { PORT: '0', ANTHROPIC_API_KEY: 'anthropic-test-key', ANTHROPIC_BASE_URL: `${anthropic.url}/v1`, SWITCHYARD_CONFIG: configPath },
      silentLogger,
    );
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'gateway-key', maxRetries: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await anthropic?.close();
    if (configDirectory) rmSync(configDirectory, { recursive: true, force: true });
  });

  it('answers a JSON request for anthropic/claude-… with Anthropic’s headers and body', async () => {
    const { data: completion, response } = await client.chat.completions
      .create({ model: 'anthropic/claude-haiku-4-5', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Where do rails meet?' }] })
      .withResponse();
    expect(completion.choices[0]!.message.content).toBe('Rails meet at the switchyard.');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 1213, completion_tokens: 8, total_tokens: 1221, prompt_tokens_details: { cached_tokens: 1200 } });
    expect(response.headers.get('x-switchyard-provider')).toBe('anthropic');
    const sent = anthropic.requests.at(-1)!;
    expect(sent.headers['x-api-key']).toBe('anthropic-test-key');
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    // The client's gateway key never reaches Anthropic.
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.json).toEqual({
      model: 'claude-haiku-4-5',
      max_tokens: 4096,
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Where do rails meet?' }] }],
    });
  });

  it('serves a bare claude-… model name through the Anthropic provider', async () => {
    const { data: completion, response } = await client.chat.completions.create({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 64 }).withResponse();
    expect(completion.choices[0]!.message.content).toBe('Rails meet at the switchyard.');
    expect(response.headers.get('x-switchyard-model')).toBe('anthropic/claude-haiku-4-5');
    expect(anthropic.requests.at(-1)!.json).toMatchObject({ model: 'claude-haiku-4-5', max_tokens: 64 });
  });

  it('streams text with the usage chunk last when asked for, and without it otherwise', async () => {
    const stream = await client.chat.completions.create({
      model: 'anthropic/claude-haiku-4-5',
      messages: [{ role: 'user', content: 'Where do rails meet?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Rails meet at the switchyard, ünïcode and all.');
    expect(chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason)).filter(Boolean)).toEqual(['stop']);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 1213, completion_tokens: 14, total_tokens: 1227 });
    expect((anthropic.requests.at(-1)!.json as AnthropicBody).stream).toBe(true);

    const withoutUsage = await client.chat.completions.create({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'Again' }], stream: true });
    const plain = [];
    for await (const chunk of withoutUsage) plain.push(chunk);
    expect(plain.some((chunk) => chunk.usage)).toBe(false);
  });

  it('runs a tool round trip: parallel calls streamed, results sent back, an answer that uses them', async () => {
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'departure_board', description: 'Next departures', parameters: { type: 'object', properties: { station: { type: 'string' }, limit: { type: 'integer' } }, required: ['station'] } } },
      { type: 'function', function: { name: 'station_clock', parameters: { type: 'object', properties: {} } } },
    ];
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Next trains from Lyon and Turin, and the time?' }];
    const stream = await client.chat.completions.create({ model: 'anthropic/claude-sonnet-4-5', messages, tools, tool_choice: 'auto', stream: true });
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    let content = '';
    let finishReason: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      content += choice.delta.content ?? '';
      for (const call of choice.delta.tool_calls ?? []) {
        const current = calls.get(call.index) ?? { id: '', name: '', arguments: '' };
        current.id ||= call.id ?? '';
        current.name += call.function?.name ?? '';
        current.arguments += call.function?.arguments ?? '';
        calls.set(call.index, current);
      }
      finishReason = choice.finish_reason ?? finishReason;
    }
    expect(finishReason).toBe('tool_calls');
    expect(content).toBe('Checking both stations.');
    const toolCalls = [...calls.values()];
    expect(toolCalls.map((call) => [call.name, JSON.parse(call.arguments)])).toEqual([
      ['departure_board', { station: 'Lyon Part-Dieu', limit: 3 }],
      ['departure_board', { station: 'Torino Porta Nuova', limit: 3 }],
      ['station_clock', {}],
    ]);
    expect(anthropic.requests.at(-1)!.json).toMatchObject({
      tools: [
        { name: 'departure_board', description: 'Next departures', input_schema: { type: 'object', required: ['station'] } },
        { name: 'station_clock', input_schema: { type: 'object', properties: {} } },
      ],
      tool_choice: { type: 'auto' },
    });

    messages.push({
      role: 'assistant',
      content,
      tool_calls: toolCalls.map((call) => ({ id: call.id, type: 'function' as const, function: { name: call.name, arguments: call.arguments } })),
    });
    const results = ['08:12 TGV', '08:40 Frecciarossa', '07:58'];
    toolCalls.forEach((call, index) => messages.push({ role: 'tool', tool_call_id: call.id, content: results[index]! }));
    const answer = await client.chat.completions.create({ model: 'anthropic/claude-sonnet-4-5', messages, tools });
    expect(answer.choices[0]!.message.content).toBe(toolCalls.map((call, index) => `${call.id}=${results[index]}`).join('; '));
    const sent = anthropic.requests.at(-1)!.json as AnthropicBody;
    expect(sent.messages.map((message) => [message.role, message.content.map((block) => block.type)])).toEqual([
      ['user', ['text']],
      ['assistant', ['text', 'tool_use', 'tool_use', 'tool_use']],
      ['user', ['tool_result', 'tool_result', 'tool_result']],
    ]);
  });

  it('returns non-streamed tool calls in OpenAI’s shape', async () => {
    const completion = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'Departures from Lyon?' }],
      tools: [{ type: 'function', function: { name: 'departure_board' } }, { type: 'function', function: { name: 'station_clock' } }],
      tool_choice: { type: 'function', function: { name: 'departure_board' } },
      parallel_tool_calls: false,
    });
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    const toolCall = completion.choices[0]!.message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(toolCall.function).toEqual({ name: 'departure_board', arguments: '{"station":"Lyon Part-Dieu","limit":3}' });
    expect((anthropic.requests.at(-1)!.json as { tool_choice: unknown }).tool_choice).toEqual({ type: 'tool', name: 'departure_board', disable_parallel_tool_use: true });
  });

  it('sends images given as data URLs and as http URLs', async () => {
    const completion = await client.chat.completions.create({
      model: 'anthropic/claude-opus-4-1',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What signals are these?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' } },
            { type: 'image_url', image_url: { url: 'https://example.com/signal.jpg' } },
          ],
        },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe('base64 image/png, url https://example.com/signal.jpg');
  });

  it('answers 429 with retry-after as a RateLimitError', async () => {
    const error = await client.chat.completions.create({ model: 'anthropic/claude-rate-limited', messages: [{ role: 'user', content: 'Hi' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimited = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimited.status).toBe(429);
    expect(rateLimited.headers.get('retry-after')).toBe('7');
    expect(rateLimited.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(rateLimited.message).toContain('rate limit');
  });

  it('answers Anthropic’s 529 overloaded as a 503, for JSON and stream requests', async () => {
    for (const stream of [false, true]) {
      const error = await client.chat.completions.create({ model: 'anthropic/claude-overloaded', messages: [{ role: 'user', content: 'Hi' }], stream }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
      expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: 'service_unavailable', code: 'overloaded', message: 'Overloaded' });
    }
  });

  it('ends a stream that Anthropic breaks off with an error event by an OpenAI error frame', async () => {
    const stream = await client.chat.completions.create({ model: 'anthropic/claude-overloaded-midstream', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let content = '';
    const error = await (async () => {
      for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
    })().catch((caught: unknown) => caught);
    expect(content).toBe('The first half');
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: 'service_unavailable', code: 'overloaded' });
  });

  it('answers input Anthropic cannot take with a BadRequestError naming the field', async () => {
    const before = anthropic.requests.length;
    const error = await client.chat.completions.create({ model: 'anthropic/claude-haiku-4-5', messages: [{ role: 'user', content: 'Hi' }], n: 2 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
    expect(anthropic.requests.length).toBe(before);
  });

  it('reports a model Anthropic does not have as model_not_found', async () => {
    const error = await client.chat.completions.create({ model: 'claude-nonexistent-1', messages: [{ role: 'user', content: 'Hi' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });
});
