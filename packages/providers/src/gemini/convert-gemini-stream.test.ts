import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkAggregator, GatewayError, type ChatCompletionChunk } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { loadOpenAISchemaValidators } from '../test-utils/openai-schema.js';
import {
  convertGeminiResponse,
  convertGeminiStreamEvent,
  createGeminiStreamState,
  FunctionCallAssembler,
  finishGeminiStream,
  mapGeminiUsage,
  parseJsonPath,
  type GeminiConversionOptions,
} from './convert-gemini-stream.js';
import { geminiResponseSchema, type GeminiWireResponse } from './gemini-api.js';
import { decodeThoughtSignature } from './gemini-tool-call-id.js';

const fixturesDir = join(import.meta.dirname, '__fixtures__');
const validators = loadOpenAISchemaValidators();

function readEvents(name: string): GeminiWireResponse[] {
  return readFileSync(join(fixturesDir, name), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => geminiResponseSchema.parse(JSON.parse(line)));
}

function readResponse(name: string): GeminiWireResponse {
  return geminiResponseSchema.parse(JSON.parse(readFileSync(join(fixturesDir, name), 'utf8')));
}

function options(overrides: Partial<GeminiConversionOptions> = {}): GeminiConversionOptions {
  let counter = 0;
  return { provider: 'gemini', modelId: 'gemini-test', fallbackId: 'chatcmpl-fallback', now: 1_750_000_000_000, createToolCallId: () => `call_${++counter}`, ...overrides };
}

/** Runs a whole recorded stream through the converter, checking every chunk against OpenAI's schema. */
function convertStream(events: GeminiWireResponse[], conversion = options()): ChatCompletionChunk[] {
  const state = createGeminiStreamState(conversion);
  const chunks = events.flatMap((event) => convertGeminiStreamEvent(event, state));
  chunks.push(finishGeminiStream(state));
  if (validators) for (const chunk of chunks) expect(validators.chunk(chunk), JSON.stringify(chunk)).toEqual([]);
  return chunks;
}

function aggregate(chunks: ChatCompletionChunk[]) {
  const aggregator = new ChunkAggregator();
  for (const chunk of chunks) aggregator.add(chunk);
  return aggregator.result();
}

describe('mapGeminiUsage', () => {
  it('counts thoughts as completion tokens and reports cached and reasoning tokens', () => {
    expect(
      mapGeminiUsage({ promptTokenCount: 100, candidatesTokenCount: 20, thoughtsTokenCount: 30, cachedContentTokenCount: 64, totalTokenCount: 150 }),
    ).toEqual({
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      prompt_tokens_details: { cached_tokens: 64 },
      completion_tokens_details: { reasoning_tokens: 30 },
    });
  });

  it('adds tool-use prompt tokens to the prompt and computes a missing total', () => {
    expect(mapGeminiUsage({ promptTokenCount: 10, toolUsePromptTokenCount: 5, candidatesTokenCount: 2 })).toMatchObject({ prompt_tokens: 15, completion_tokens: 2, total_tokens: 17 });
  });

  it('returns undefined for metadata without counts', () => {
    expect(mapGeminiUsage({})).toBeUndefined();
    expect(mapGeminiUsage(undefined)).toBeUndefined();
  });
});

describe('convertGeminiResponse', () => {
  it('converts a text answer with usage, id and model', () => {
    const completion = convertGeminiResponse(readResponse('gemini-text.json'), options());
    expect(completion).toMatchObject({
      id: 'chatcmpl-jSonResp0001abcd',
      object: 'chat.completion',
      created: 1_750_000_000,
      model: 'gemini-2.5-flash',
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Lighthouses use Fresnel lenses to focus a small lamp into a beam seen for miles.', refusal: null } }],
      usage: { prompt_tokens: 12, completion_tokens: 57, total_tokens: 69, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 40 } },
    });
    if (validators) expect(validators.response(completion)).toEqual([]);
  });

  it('turns function calls into tool calls whose ids carry the thought signature', () => {
    const raw = readResponse('gemini-tool-call.json');
    const completion = convertGeminiResponse(raw, options());
    const message = completion.choices[0]!.message;
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    expect(message.content).toBe('Checking both harbors.');
    expect(message.tool_calls).toHaveLength(2);
    expect(message.tool_calls![0]!.function).toEqual({ name: 'get_tide', arguments: '{"harbor":"Brest","day":"2025-06-01"}' });
    expect(message.tool_calls![1]!.function).toEqual({ name: 'get_tide', arguments: '{"harbor":"Cherbourg","day":"2025-06-01"}' });
    const signature = raw.candidates![0]!.content!.parts![1]!.thoughtSignature;
    expect(decodeThoughtSignature(message.tool_calls![0]!.id)).toBe(signature);
    expect(message.tool_calls![0]!.id).toMatch(/^call_1__thought__[A-Za-z0-9_-]+$/);
    expect(message.tool_calls![1]!.id).toBe('call_2');
    if (validators) expect(validators.response(completion)).toEqual([]);
  });

  it('maps SAFETY to content_filter', () => {
    const completion = convertGeminiResponse(readResponse('gemini-safety.json'), options());
    expect(completion.choices[0]).toMatchObject({ finish_reason: 'content_filter', message: { content: 'I can describe' } });
  });

  it('refuses a blocked prompt with a 400 content_filter error', () => {
    const error = catchError(() => convertGeminiResponse(readResponse('gemini-prompt-blocked.json'), options()));
    expect(error).toMatchObject({ status: 400, code: 'content_filter', isRetryable: false });
    expect(error.message).toContain('PROHIBITED_CONTENT');
  });

  it('refuses an answer without candidates as malformed', () => {
    expect(catchError(() => convertGeminiResponse({ usageMetadata: { promptTokenCount: 1 } }, options()))).toMatchObject({ status: 502, code: 'bad_upstream_response' });
  });

  it('puts thoughts in reasoning_content and keeps one choice per candidate', () => {
    const completion = convertGeminiResponse(
      {
        candidates: [
          { index: 0, content: { parts: [{ text: 'weighing options', thought: true }, { text: 'Answer A' }] }, finishReason: 'STOP' },
          { index: 1, content: { parts: [{ text: 'Answer B' }] }, finishReason: 'MAX_TOKENS' },
        ],
      },
      options(),
    );
    expect(completion.choices.map((choice) => [choice.index, choice.message.content, choice.message.reasoning_content, choice.finish_reason])).toEqual([
      [0, 'Answer A', 'weighing options', 'stop'],
      [1, 'Answer B', undefined, 'length'],
    ]);
    expect(completion.id).toBe('chatcmpl-fallback');
    expect(completion.model).toBe('gemini-test');
  });
});

describe('convertGeminiStreamEvent', () => {
  it('streams text, ends with the finish reason from the empty signed part, then usage', () => {
    const chunks = convertStream(readEvents('gemini-text.chunks.txt'));
    expect(chunks.map((chunk) => chunk.choices[0]?.delta)).toEqual([
      { role: 'assistant', content: 'Lighthouses use' },
      { content: ' Fresnel lenses to focus' },
      { content: ' a small lamp into a beam seen for miles.' },
      {},
      undefined,
    ]);
    expect(chunks[3]!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 57, total_tokens: 69, prompt_tokens_details: { cached_tokens: 4 } } });
    expect(new Set(chunks.map((chunk) => chunk.id))).toEqual(new Set(['chatcmpl-tXqQaa1bC2dEfGhIjKlMnOp']));
  });

  it('streams thoughts as reasoning_content', () => {
    const completion = aggregate(convertStream(readEvents('gemini-reasoning.chunks.txt')));
    expect(completion.choices[0]!.message).toMatchObject({ reasoning_content: "**Counting letters**\n\nI split the word and count each 'l'.", content: '"Parallel" has three l\'s.' });
    expect(completion.usage).toMatchObject({ completion_tokens: 59, completion_tokens_details: { reasoning_tokens: 52 } });
  });

  it('streams whole function calls with indexes and finishes with tool_calls', () => {
    const events = readEvents('gemini-tool-call.chunks.txt');
    const chunks = convertStream(events);
    const toolCalls = chunks.flatMap((chunk) => chunk.choices.flatMap((choice) => choice.delta.tool_calls ?? []));
    expect(toolCalls.map((call) => [call.index, call.function?.name, call.function?.arguments])).toEqual([
      [0, 'get_tide', '{"harbor":"Brest","day":"2025-06-01"}'],
      [1, 'get_tide', '{"harbor":"Cherbourg","day":"2025-06-01"}'],
    ]);
    expect(decodeThoughtSignature(toolCalls[0]!.id!)).toBe(events[0]!.candidates![0]!.content!.parts![0]!.thoughtSignature);
    expect(aggregate(chunks).choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('assembles Vertex partial arguments into complete calls', () => {
    const events = readEvents('gemini-stream-partial-args.chunks.txt');
    const completion = aggregate(convertStream(events));
    const calls = completion.choices[0]!.message.tool_calls!;
    expect(calls.map((call) => call.function.name)).toEqual(['plan_route', 'check_weather']);
    expect(JSON.parse(calls[0]!.function.arguments)).toEqual({
      route: { from: 'Saint-Malo', stops: [{ name: 'Jersey', nights: 2 }, { name: 'Guernsey', nights: 1 }] },
      avoidNightSailing: true,
    });
    expect(JSON.parse(calls[1]!.function.arguments)).toEqual({ area: 'Channel Islands' });
    expect(decodeThoughtSignature(calls[0]!.id)).toBe(events[0]!.candidates![0]!.content!.parts![0]!.thoughtSignature);
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    expect(completion.usage).toMatchObject({ prompt_tokens: 60, completion_tokens: 170, total_tokens: 230 });
  });

  it('keeps candidates apart as choices with their own finish reasons', () => {
    const chunks = convertStream(readEvents('gemini-two-candidates.chunks.txt'));
    for (const chunk of chunks) expect(chunk.choices.length).toBeLessThanOrEqual(1);
    const completion = aggregate(chunks);
    expect(completion.choices.map((choice) => [choice.index, choice.message.content, choice.finish_reason])).toEqual([
      [0, 'Blue harbor', 'stop'],
      [1, 'Teal tide, rising', 'length'],
    ]);
    expect(chunks.filter((chunk) => chunk.choices[0]?.delta.role === 'assistant').map((chunk) => chunk.choices[0]!.index)).toEqual([0, 1]);
  });

  it('throws when the stream ends before a finish reason', () => {
    const events = readEvents('gemini-text.chunks.txt').slice(0, 2);
    const state = createGeminiStreamState(options());
    for (const event of events) convertGeminiStreamEvent(event, state);
    expect(catchError(() => finishGeminiStream(state))).toMatchObject({ status: 502, code: 'upstream_stream_truncated', isRetryable: true });
  });

  it('throws for an empty stream and for a blocked prompt', () => {
    expect(catchError(() => finishGeminiStream(createGeminiStreamState(options())))).toMatchObject({ code: 'bad_upstream_response' });
    const state = createGeminiStreamState(options());
    expect(catchError(() => convertGeminiStreamEvent(readResponse('gemini-prompt-blocked.json'), state))).toMatchObject({ status: 400, code: 'content_filter' });
  });
});

describe('FunctionCallAssembler', () => {
  it('appends continued strings and replaces values that are not continued', () => {
    const assembler = new FunctionCallAssembler('gemini');
    assembler.accept({ functionCall: { name: 'note', willContinue: true } });
    assembler.accept({ functionCall: { partialArgs: [{ jsonPath: '$.text', stringValue: 'a', willContinue: true }], willContinue: true } });
    assembler.accept({ functionCall: { partialArgs: [{ jsonPath: '$.text', stringValue: 'b' }], willContinue: true } });
    assembler.accept({ functionCall: { partialArgs: [{ jsonPath: "$['odd key']", nullValue: null }], willContinue: true } });
    const [call] = assembler.accept({ functionCall: {} });
    expect(call).toEqual({ name: 'note', arguments: '{"text":"ab","odd key":null}' });
  });

  it('treats __proto__ in a path as a plain key', () => {
    const assembler = new FunctionCallAssembler('gemini');
    assembler.accept({ functionCall: { name: 'f', willContinue: true } });
    const [call] = assembler.accept({ functionCall: { partialArgs: [{ jsonPath: '$.__proto__.polluted', boolValue: true }] } });
    expect(JSON.parse(call!.arguments)).toEqual(JSON.parse('{"__proto__":{"polluted":true}}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects arguments without a call, bad paths and conflicting shapes', () => {
    expect(catchError(() => new FunctionCallAssembler('gemini').accept({ functionCall: { partialArgs: [{ jsonPath: '$.a', stringValue: 'x' }] } }))).toBeInstanceOf(GatewayError);
    expect(catchError(() => parseJsonPath('a.b', 'gemini'))).toMatchObject({ code: 'bad_upstream_response' });
    expect(catchError(() => parseJsonPath('$[0]', 'gemini'))).toMatchObject({ code: 'bad_upstream_response' });
    expect(catchError(() => parseJsonPath('$.a[9999999]', 'gemini'))).toMatchObject({ code: 'bad_upstream_response' });
    const assembler = new FunctionCallAssembler('gemini');
    assembler.accept({ functionCall: { name: 'f', willContinue: true } });
    assembler.accept({ functionCall: { partialArgs: [{ jsonPath: '$.a', stringValue: 'x' }], willContinue: true } });
    expect(catchError(() => assembler.accept({ functionCall: { partialArgs: [{ jsonPath: '$.a.b', stringValue: 'y' }] } }))).toMatchObject({ code: 'bad_upstream_response' });
  });

  it('parses dotted, indexed and quoted paths', () => {
    expect(parseJsonPath('$.a[2].b', 'gemini')).toEqual(['a', 2, 'b']);
    expect(parseJsonPath(`$["x.y"]['it\\'s']`, 'gemini')).toEqual(['x.y', "it's"]);
  });
});

function catchError(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('expected an error');
}
