import { type ChatCompletionChunk, GatewayError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { loadOpenAISchemaValidators } from '../test-utils/openai-schema.js';
import { anthropicMessageSchema } from './anthropic-api.js';
import {
  convertAnthropicResponse,
  convertAnthropicStreamEvent,
  convertAnthropicUsage,
  createAnthropicStreamState,
  finishAnthropicStream,
  parseAnthropicStreamEvent,
} from './convert-anthropic-stream.js';
import { chunkLines, readFixture } from './__fixtures__/anthropic-wire.js';

// Validation against OpenAI's published schema runs when the shared fixtures are there.
const validators = loadOpenAISchemaValidators();
const model = 'claude-sonnet-4-5';

function convertLines(lines: readonly string[], options: { finish?: boolean } = {}): ChatCompletionChunk[] {
  const state = createAnthropicStreamState('anthropic', model, 'chatcmpl-fallback', 1_700_000_000_000);
  const chunks: ChatCompletionChunk[] = [];
  for (const line of lines) {
    const event = parseAnthropicStreamEvent(JSON.parse(line), 'anthropic');
    if (event) chunks.push(...convertAnthropicStreamEvent(event, state));
  }
  if (options.finish !== false) chunks.push(...finishAnthropicStream(state));
  for (const chunk of chunks) expect(validators?.chunk(chunk) ?? []).toEqual([]);
  return chunks;
}

const convertFixture = (name: string) => convertLines(chunkLines(readFixture(name)));

const deltas = (chunks: ChatCompletionChunk[]) => chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta));
const joined = (chunks: ChatCompletionChunk[], key: 'content' | 'reasoning_content' | 'refusal') =>
  deltas(chunks)
    .map((delta) => delta[key])
    .filter((value): value is string => typeof value === 'string')
    .join('');

function expectMalformed(run: () => unknown, message: RegExp): void {
  try {
    run();
  } catch (error) {
    expect(GatewayError.isInstance(error)).toBe(true);
    expect((error as GatewayError).status).toBe(502);
    expect((error as GatewayError).message).toMatch(message);
    return;
  }
  throw new Error('expected a GatewayError');
}

describe('convertAnthropicStreamEvent', () => {
  it('streams text: a role chunk first, text deltas, the finish chunk, then a usage chunk with `choices: []`', () => {
    const chunks = convertFixture('text.chunks.txt');
    expect(chunks[0]).toEqual({
      id: 'msg_01TextFixtureSwitchyard01',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'claude-haiku-4-5-20251001',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }],
    });
    expect(joined(chunks, 'content')).toBe('Rails meet at the switchyard, ünïcode and all.');
    expect(chunks.filter((chunk) => chunk.choices[0]?.finish_reason).map((chunk) => chunk.choices[0]!.finish_reason)).toEqual(['stop']);
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    // Cache reads and writes are prompt tokens too; reads are reported as cached.
    expect(last.usage).toEqual({
      prompt_tokens: 1213,
      completion_tokens: 14,
      total_tokens: 1227,
      prompt_tokens_details: { cached_tokens: 1200, cache_creation_tokens: 4 },
    });
    expect(chunks.every((chunk) => chunk.id === 'msg_01TextFixtureSwitchyard01')).toBe(true);
  });

  it('streams parallel tool calls with an index on every delta and JSON fragments in order', () => {
    const chunks = convertFixture('parallel-tool-calls.chunks.txt');
    expect(joined(chunks, 'content')).toBe('Checking both stations.');
    const toolDeltas = deltas(chunks).flatMap((delta) => delta.tool_calls ?? []);
    expect(toolDeltas.every((delta) => Number.isInteger(delta.index))).toBe(true);
    expect(toolDeltas.filter((delta) => delta.id)).toEqual([
      { index: 0, id: 'toolu_01DepartureBoardLyon0001', type: 'function', function: { name: 'departure_board', arguments: '' } },
      { index: 1, id: 'toolu_01DepartureBoardTurin002', type: 'function', function: { name: 'departure_board', arguments: '' } },
      { index: 2, id: 'toolu_01ClockNoArguments0000003', type: 'function', function: { name: 'station_clock', arguments: '' } },
    ]);
    const argumentsOf = (index: number) =>
      toolDeltas
        .filter((delta) => delta.index === index)
        .map((delta) => delta.function?.arguments ?? '')
        .join('');
    expect(argumentsOf(0)).toBe('{"station": "Lyon Part-Dieu", "limit": 3}');
    expect(argumentsOf(1)).toBe('{"station": "Torino Porta Nuova", "limit": 3}');
    // A tool without arguments streams only an empty fragment: clients get `{}`, which parses.
    expect(argumentsOf(2)).toBe('{}');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 512, completion_tokens: 96, total_tokens: 608 });
  });

  it('streams thinking as reasoning_content and hands back the signed blocks', () => {
    const chunks = convertFixture('thinking.chunks.txt');
    expect(joined(chunks, 'reasoning_content')).toBe('Twelve wagons, four per track: three tracks.');
    expect(joined(chunks, 'content')).toBe('Three tracks.');
    expect(deltas(chunks).flatMap((delta) => (delta.thinking_blocks as unknown[] | undefined) ?? [])).toEqual([
      { type: 'thinking', thinking: 'Twelve wagons, four per track: three tracks.', signature: 'RXhhbXBsZVNpZ25hdHVyZUZvclRoZVN3aXRjaHlhcmRUZXN0cw==' },
      { type: 'redacted_thinking', data: 'RW5jcnlwdGVkUmVhc29uaW5nQmxvY2s=' },
    ]);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!.usage).toMatchObject({ completion_tokens: 61, completion_tokens_details: { reasoning_tokens: 48 } });
  });

  it('maps a refusal to content_filter and carries the explanation as `refusal`', () => {
    const chunks = convertFixture('refusal.chunks.txt');
    expect(joined(chunks, 'content')).toBe('');
    expect(joined(chunks, 'refusal')).toBe('The request was declined under the usage policy.');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('content_filter');
  });

  it('leaves server-run tools and citations out, keeping the text around them', () => {
    const chunks = convertFixture('server-tool.chunks.txt');
    expect(deltas(chunks).some((delta) => delta.tool_calls)).toBe(false);
    expect(joined(chunks, 'content')).toBe('The night train departs at 22:10.');
    // message_delta repeats input counts; the later, larger count wins.
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 900, completion_tokens: 40 });
  });

  it('emits whole tool calls from a message that arrives complete in message_start', () => {
    const message = {
      id: 'msg_complete',
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'tool_use', id: 'toolu_complete', name: 'roll', input: { sides: 6 } }],
      stop_reason: 'tool_use',
      usage: { input_tokens: 0, output_tokens: 0 },
    };
    const chunks = convertLines([JSON.stringify({ type: 'message_start', message }), '{"type":"message_stop"}']);
    expect(deltas(chunks).flatMap((delta) => delta.tool_calls ?? [])).toEqual([
      { index: 0, id: 'toolu_complete', type: 'function', function: { name: 'roll', arguments: '{"sides":6}' } },
    ]);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('takes the tool input from content_block_start when no fragments follow', () => {
    const lines = [
      '{"type":"message_start","message":{"id":"m","model":"x","content":[],"usage":{"input_tokens":1,"output_tokens":1}}}',
      '{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_x","name":"roll","input":{"player":"one"}}}',
      '{"type":"content_block_stop","index":0}',
      '{"type":"message_stop"}',
    ];
    const toolDeltas = deltas(convertLines(lines)).flatMap((delta) => delta.tool_calls ?? []);
    expect(toolDeltas.map((delta) => delta.function?.arguments).join('')).toBe('{"player":"one"}');
  });

  it('checks deltas in any shape: the documented ones pass, others are validated or refused', () => {
    const textDelta = { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'x' } };
    expect(parseAnthropicStreamEvent(textDelta, 'anthropic')).toEqual(textDelta);
    const citation = { type: 'content_block_delta', index: 0, delta: { type: 'citations_delta', citation: { type: 'web_search_result_location' } } };
    expect(parseAnthropicStreamEvent(citation, 'anthropic')).toEqual(citation);
    expectMalformed(() => parseAnthropicStreamEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 5 } }, 'anthropic'), /documented shape/);
    expectMalformed(() => parseAnthropicStreamEvent({ type: 'content_block_delta', index: -1, delta: { type: 'text_delta', text: 'x' } }, 'anthropic'), /documented shape/);
    expectMalformed(() => parseAnthropicStreamEvent({ type: 'content_block_delta', index: 0 }, 'anthropic'), /documented shape/);
  });

  it('ignores ping and event types it does not know', () => {
    const state = createAnthropicStreamState('anthropic', model, 'id');
    expect(parseAnthropicStreamEvent({ type: 'content_block_future', index: 0 }, 'anthropic')).toBeUndefined();
    const ping = parseAnthropicStreamEvent({ type: 'ping' }, 'anthropic')!;
    expect(convertAnthropicStreamEvent(ping, state)).toEqual([]);
  });

  it('fails cleanly on spliced or corrupted streams', () => {
    const start = '{"type":"message_start","message":{"id":"m","model":"x","content":[],"usage":{"input_tokens":1,"output_tokens":1}}}';
    const textStart = '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}';
    expectMalformed(() => convertLines([start, start]), /second message_start/);
    expectMalformed(() => convertLines([textStart]), /before message_start/);
    expectMalformed(() => convertLines([start, '{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}}']), /never started/);
    expectMalformed(() => convertLines([start, textStart, textStart]), /started twice/);
    expectMalformed(() => convertLines([start, textStart, '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}}']), /input_json_delta/);
    expectMalformed(() => convertLines([start, textStart, '{"type":"content_block_stop","index":0}', '{"type":"content_block_stop","index":0}']), /already stopped/);
    expectMalformed(() => parseAnthropicStreamEvent({ type: 'content_block_delta', index: 'zero' }, 'anthropic'), /documented shape/);
    expectMalformed(() => parseAnthropicStreamEvent({ no: 'type' }, 'anthropic'), /no type/);
    expectMalformed(() => convertLines([]), /without a message_start/);
  });

  it('reports a stream cut before message_delta as a retryable failure, and completes one cut after it', () => {
    const lines = chunkLines(readFixture('text.chunks.txt'));
    try {
      convertLines(lines.slice(0, 5));
      throw new Error('expected a GatewayError');
    } catch (error) {
      expect(GatewayError.isInstance(error)).toBe(true);
      expect((error as GatewayError).isRetryable).toBe(true);
      expect((error as GatewayError).message).toMatch(/before the answer was complete/);
    }
    const withoutStop = convertLines(lines.slice(0, -1));
    expect(withoutStop.at(-1)!.choices).toEqual([]);
    expect(withoutStop.at(-1)!.usage?.completion_tokens).toBe(14);
  });

  it('turns an error event into the OpenAI error its type stands for', () => {
    const start = '{"type":"message_start","message":{"id":"m","model":"x","content":[],"usage":{"input_tokens":1,"output_tokens":1}}}';
    try {
      convertLines([start, '{"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"} }']);
      throw new Error('expected a GatewayError');
    } catch (error) {
      const gatewayError = error as GatewayError;
      expect(gatewayError.toJSON()).toEqual({ error: { message: 'Overloaded', type: 'service_unavailable', param: null, code: 'overloaded' } });
      expect(gatewayError.status).toBe(503);
      expect(gatewayError.isRetryable).toBe(true);
      expect(validators?.error(gatewayError.toJSON()) ?? []).toEqual([]);
    }
  });
});

describe('convertAnthropicResponse', () => {
  const convert = (name: string) => {
    const response = convertAnthropicResponse(anthropicMessageSchema.parse(JSON.parse(readFixture(name))), model, 'chatcmpl-fallback', 1_700_000_000_000);
    expect(validators?.response(response) ?? []).toEqual([]);
    return response;
  };

  it('converts a text answer with cached prompt tokens', () => {
    expect(convert('text.json')).toEqual({
      id: 'msg_01TextJsonFixtureSwitchyar',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'claude-haiku-4-5-20251001',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Rails meet at the switchyard.', refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 1213, completion_tokens: 8, total_tokens: 1221, prompt_tokens_details: { cached_tokens: 1200, cache_creation_tokens: 4 } },
    });
  });

  it('converts tool calls with their input as JSON arguments', () => {
    const response = convert('tool-calls.json');
    expect(response.choices[0]!.finish_reason).toBe('tool_calls');
    expect(response.choices[0]!.message.content).toBe('Checking both stations.');
    expect(response.choices[0]!.message.tool_calls).toEqual([
      { id: 'toolu_01DepartureBoardLyon0001', type: 'function', function: { name: 'departure_board', arguments: '{"station":"Lyon Part-Dieu","limit":3}' } },
      { id: 'toolu_01ClockNoArguments0000003', type: 'function', function: { name: 'station_clock', arguments: '{}' } },
    ]);
  });

  it('converts thinking to reasoning_content and signed thinking_blocks', () => {
    const message = convert('thinking.json').choices[0]!;
    expect(message.finish_reason).toBe('stop');
    expect(message.message.reasoning_content).toBe('Twelve wagons, four per track: three tracks.');
    expect(message.message.content).toBe('Three tracks.');
    expect(message.message.thinking_blocks).toHaveLength(2);
  });

  it('converts a refusal', () => {
    const choice = convert('refusal.json').choices[0]!;
    expect(choice).toMatchObject({ finish_reason: 'content_filter', message: { content: null, refusal: 'The request was declined under the usage policy.' } });
  });
});

describe('convertAnthropicUsage', () => {
  it('counts missing fields as zero and reports reasoning tokens only when Anthropic does', () => {
    expect(convertAnthropicUsage(undefined)).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0, cache_creation_tokens: 0 } });
    expect(convertAnthropicUsage({ input_tokens: 5, output_tokens: 7, output_tokens_details: { thinking_tokens: 3 } })).toMatchObject({
      prompt_tokens: 5,
      completion_tokens: 7,
      total_tokens: 12,
      completion_tokens_details: { reasoning_tokens: 3 },
    });
  });
});
