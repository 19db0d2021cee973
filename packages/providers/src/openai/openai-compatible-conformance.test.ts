import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatCompletion, ChatCompletionChunk, ProviderV1 } from '@switchyard/core';
import { GatewayError } from '@switchyard/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzureOpenAI } from '../azure/azure-provider.js';
import { loadOpenAISchemaValidators, sharedFixturesDir } from '../test-utils/openai-schema.js';
import { type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '../test-utils/mock-upstream.js';
import { createOpenAIStreamState, detachUsage, normalizeOpenAIChunk, normalizeOpenAIResponse, normalizeUsage } from './convert-openai-stream.js';
import { openAIChunkSchema, openAIResponseSchema } from './openai-api.js';
import { createOpenAICompatible } from './openai-provider.js';

/*
 * Replays every recorded chat answer of the OpenAI-compatible family (real streams and bodies from
 * OpenAI, Azure, DeepSeek, Groq, Mistral, Qwen, xAI, Moonshot) through a mock upstream and the adapter,
 * and checks what a client would receive: each chunk valid against OpenAI's official schema, and the
 * text, reasoning, tool calls, finish reason and usage equal to what the recording carries. The expected
 * values are read from the recordings by the small independent reader below, not by the adapter's code.
 */

const providerDirectories = ['openai-chat', 'deepseek', 'groq', 'mistral', 'alibaba', 'xai', 'moonshotai', 'openai-compatible'];

interface Recording {
  directory: string;
  file: string;
  path: string;
  kind: 'stream' | 'sse' | 'response' | 'error';
}

function findRecordings(): Recording[] {
  if (!sharedFixturesDir) return [];
  const recordings: Recording[] = [];
  for (const directory of providerDirectories) {
    const folder = join(sharedFixturesDir, 'providers', directory);
    if (!existsSync(folder)) continue;
    for (const file of readdirSync(folder).sort()) {
      const path = join(folder, file);
      if (file.endsWith('.chunks.txt')) {
        const first = JSON.parse(readFileSync(path, 'utf8').split('\n')[0]!) as { object?: string };
        // Legacy completions (`text_completion`) are not Chat Completions.
        if (first.object === 'text_completion') continue;
        recordings.push({ directory, file, path, kind: 'stream' });
      } else if (file.endsWith('.sse')) {
        recordings.push({ directory, file, path, kind: 'sse' });
      } else if (file.endsWith('.json')) {
        const body = JSON.parse(readFileSync(path, 'utf8')) as { choices?: unknown; error?: unknown; object?: string };
        if (body.error !== undefined) recordings.push({ directory, file, path, kind: 'error' });
        // Transcriptions and legacy completions carry no chat choices.
        else if (Array.isArray(body.choices) && body.object !== 'text_completion') recordings.push({ directory, file, path, kind: 'response' });
      }
    }
  }
  return recordings;
}

/** The JSON payloads of a recorded stream, one per SSE event. */
function recordedEvents(recording: Recording): Array<Record<string, any>> {
  const text = readFileSync(recording.path, 'utf8');
  const lines =
    recording.kind === 'sse'
      ? text
          .split('\n')
          .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
          .map((line) => line.slice('data: '.length))
      : text.split('\n').filter((line) => line.trim() !== '');
  return lines.map((line) => JSON.parse(line) as Record<string, any>);
}

/** Text and reasoning of content that is a string or Mistral's `text` / `thinking` parts. */
function readContent(content: unknown): { text: string; reasoning: string } {
  if (typeof content === 'string') return { text: content, reasoning: '' };
  if (!Array.isArray(content)) return { text: '', reasoning: '' };
  let text = '';
  let reasoning = '';
  for (const part of content as Array<Record<string, any>>) {
    if (part.type === 'text') text += part.text;
    if (part.type === 'thinking') {
      reasoning += typeof part.thinking === 'string' ? part.thinking : (part.thinking as Array<{ text: string }>).map((inner) => inner.text).join('');
    }
  }
  return { text, reasoning };
}

interface Expected {
  text: string;
  reasoning: string;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  finishReason: string | null;
  usage: Record<string, any> | undefined;
}

const openAIFinishReasons = new Set(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);

/** What the recorded stream says, read event by event (first choice only: the recordings have one). */
function expectedFromStream(events: Array<Record<string, any>>): Expected {
  const expected: Expected = { text: '', reasoning: '', toolCalls: [], finishReason: null, usage: undefined };
  const callsByKey = new Map<string, { id: string; name: string; arguments: string }>();
  for (const event of events) {
    const usage = event.usage ?? event.x_groq?.usage;
    if (usage) expected.usage = usage;
    for (const choice of (event.choices ?? []) as Array<Record<string, any>>) {
      const delta = choice.delta ?? {};
      const content = readContent(delta.content);
      expected.text += content.text;
      expected.reasoning += (typeof delta.reasoning_content === 'string' ? delta.reasoning_content : '') + (typeof delta.reasoning === 'string' ? delta.reasoning : '') + content.reasoning;
      for (const call of (delta.tool_calls ?? []) as Array<Record<string, any>>) {
        const key = call.index !== undefined && call.index !== null ? `index:${call.index}` : `id:${call.id}`;
        let entry = callsByKey.get(key);
        if (!entry) {
          entry = { id: '', name: '', arguments: '' };
          callsByKey.set(key, entry);
          expected.toolCalls.push(entry);
        }
        if (call.id) entry.id = call.id;
        if (call.function?.name) entry.name += call.function.name;
        if (call.function?.arguments) entry.arguments += call.function.arguments;
      }
      if (choice.finish_reason) expected.finishReason = openAIFinishReasons.has(choice.finish_reason) ? choice.finish_reason : 'stop';
    }
  }
  return expected;
}

function expectedFromResponse(body: Record<string, any>): Expected {
  const message = body.choices[0].message;
  const content = readContent(message.content);
  return {
    text: content.text,
    reasoning: (message.reasoning_content ?? message.reasoning ?? '') + content.reasoning,
    toolCalls: ((message.tool_calls ?? []) as Array<Record<string, any>>).map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })),
    finishReason: body.choices[0].finish_reason,
    usage: body.usage,
  };
}

/** Usage as clients must see it: OpenAI's totals, consistent, with cached tokens where OpenAI puts them. */
function checkUsage(actual: ChatCompletion['usage'] | null | undefined, recorded: Record<string, any> | undefined): void {
  if (!recorded) {
    expect(actual).toBeUndefined();
    return;
  }
  expect(actual).toBeDefined();
  expect(actual!.prompt_tokens).toBe(recorded.prompt_tokens);
  expect(actual!.total_tokens).toBe(recorded.total_tokens);
  // Reasoning counted outside completion tokens (xAI) is folded in, so the sum always holds.
  expect(actual!.prompt_tokens + actual!.completion_tokens).toBe(actual!.total_tokens);
  expect(actual!.completion_tokens).toBeGreaterThanOrEqual(recorded.completion_tokens);
  const recordedCached = recorded.prompt_tokens_details?.cached_tokens ?? recorded.cached_tokens ?? recorded.prompt_cache_hit_tokens;
  if (recordedCached !== undefined) expect(actual!.prompt_tokens_details?.cached_tokens).toBe(recordedCached);
  const recordedReasoning = recorded.completion_tokens_details?.reasoning_tokens;
  if (recordedReasoning !== undefined) expect(actual!.completion_tokens_details?.reasoning_tokens).toBe(recordedReasoning);
}

const recordings = findRecordings();
const validators = loadOpenAISchemaValidators();

describe.runIf(sharedFixturesDir && validators && recordings.length > 0)('OpenAI-compatible family: recorded answers through the adapter', () => {
  let upstream: MockUpstream;
  let compatible: ProviderV1;
  let azure: ProviderV1;

  beforeAll(async () => {
    // The recording to replay travels in a header, so one mock serves every case.
    upstream = await startMockUpstream(async (request, response) => {
      const recording = recordings.find((candidate) => candidate.path === request.headers['x-recording']);
      if (!recording) return sendJson(response, 404, { error: { message: 'no such recording', type: 'invalid_request_error' } });
      const text = readFileSync(recording.path, 'utf8');
      if (recording.kind === 'sse') return writeEventStream(response, [text]);
      if (recording.kind === 'stream') {
        const events = text.split('\n').filter((line) => line.trim() !== '').map((line) => `data: ${line}\n\n`);
        return writeEventStream(response, [...events, 'data: [DONE]\n\n']);
      }
      sendJson(response, recording.kind === 'error' ? 400 : 200, JSON.parse(text));
    });
    compatible = createOpenAICompatible({ id: 'recorded', baseURL: `${upstream.url}/v1`, apiKey: 'test-key' });
    azure = createAzureOpenAI({ endpoint: upstream.url, apiKey: 'test-key' });
  });

  afterAll(async () => {
    await compatible?.close?.();
    await azure?.close?.();
    await upstream?.close();
  });

  const providerFor = (recording: Recording) => (recording.file.startsWith('azure-') ? azure : compatible);
  const call = (recording: Recording, stream: boolean) =>
    providerFor(recording).chat(
      'recorded-model',
      { model: 'recorded/recorded-model', messages: [{ role: 'user', content: 'Replay.' }], stream },
      { signal: AbortSignal.timeout(10_000), requestId: 'conformance', headers: { 'x-recording': recording.path } },
    );

  const streams = recordings.filter((recording) => recording.kind === 'stream' || recording.kind === 'sse');
  it.each(streams.map((recording) => [`${recording.directory}/${recording.file}`, recording] as const))('stream %s', async (_name, recording) => {
    const result = await call(recording, true);
    expect(result.type).toBe('stream');
    if (result.type !== 'stream') return;
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of result.stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(0);

    for (const [position, chunk] of chunks.entries()) {
      expect(validators!.chunk(chunk), `chunk ${position}: ${JSON.stringify(chunk).slice(0, 300)}`).toEqual([]);
    }
    // One id and one timestamp for the whole stream, as OpenAI sends.
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);

    const expected = expectedFromStream(recordedEvents(recording));
    const choiceChunks = chunks.filter((chunk) => chunk.choices.length > 0);
    const deltas = choiceChunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta));
    expect(deltas.map((delta) => delta.content ?? '').join('')).toBe(expected.text);
    expect(deltas.map((delta) => delta.reasoning_content ?? '').join('')).toBe(expected.reasoning);

    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    for (const delta of deltas) {
      for (const toolCall of delta.tool_calls ?? []) {
        const entry = calls.get(toolCall.index) ?? { id: '', name: '', arguments: '' };
        if (toolCall.id) entry.id = toolCall.id;
        entry.name += toolCall.function?.name ?? '';
        entry.arguments += toolCall.function?.arguments ?? '';
        calls.set(toolCall.index, entry);
      }
    }
    expect([...calls.entries()].sort(([a], [b]) => a - b).map(([, entry]) => entry)).toEqual(expected.toolCalls);

    const finishReasons = choiceChunks.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason)).filter((reason) => reason !== null);
    expect(finishReasons).toEqual([expected.finishReason]);

    // Usage arrives once, last, in a chunk without choices, whichever chunk the provider put it on.
    const usageChunks = chunks.filter((chunk) => chunk.usage);
    if (expected.usage) {
      expect(usageChunks).toHaveLength(1);
      expect(chunks.at(-1)).toBe(usageChunks[0]);
      expect(usageChunks[0]!.choices).toEqual([]);
    } else {
      expect(usageChunks).toHaveLength(0);
    }
    checkUsage(usageChunks[0]?.usage, expected.usage);
  });

  const responses = recordings.filter((recording) => recording.kind === 'response');
  it.each(responses.map((recording) => [`${recording.directory}/${recording.file}`, recording] as const))('response %s', async (_name, recording) => {
    const result = await call(recording, false);
    expect(result.type).toBe('response');
    if (result.type !== 'response') return;
    const response = result.response;
    expect(validators!.response(response), JSON.stringify(response).slice(0, 500)).toEqual([]);

    const expected = expectedFromResponse(JSON.parse(readFileSync(recording.path, 'utf8')) as Record<string, any>);
    const message = response.choices[0]!.message;
    expect(message.content ?? '').toBe(expected.text);
    expect(message.reasoning_content ?? '').toBe(expected.reasoning);
    expect((message.tool_calls ?? []).map((toolCall) => ({ id: toolCall.id, name: toolCall.function.name, arguments: toolCall.function.arguments }))).toEqual(expected.toolCalls);
    expect(response.choices[0]!.finish_reason).toBe(expected.finishReason);
    checkUsage(response.usage, expected.usage);
  });

  const errors = recordings.filter((recording) => recording.kind === 'error');
  it.each(errors.map((recording) => [`${recording.directory}/${recording.file}`, recording] as const))('error %s', async (_name, recording) => {
    const recorded = JSON.parse(readFileSync(recording.path, 'utf8')) as { error: { message: string; code: string | null; param: string | null } };
    const failure = await call(recording, false).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(GatewayError.isInstance(failure)).toBe(true);
    const error = failure as GatewayError;
    expect(error.status).toBe(400);
    expect(error.isRetryable).toBe(false);
    expect(validators!.error(error.toJSON())).toEqual([]);
    expect(error.toJSON().error).toMatchObject({ message: recorded.error.message, code: recorded.error.code, param: recorded.error.param });
  });
});

/*
 * The same quirks in the project's own words, so they stay covered where the recordings are absent.
 */
describe('OpenAI-compatible family: normalisation of provider quirks', () => {
  const base = { id: 'chatcmpl-own', object: 'chat.completion.chunk', created: 1_767_225_600, model: 'own-model' };
  const normalize = (raw: unknown, state = createOpenAIStreamState('fallback-model', 'chatcmpl-fallback', 0)) =>
    normalizeOpenAIChunk(openAIChunkSchema.parse(raw), state);
  const expectValid = (chunk: ChatCompletionChunk | null) => {
    if (validators && chunk) expect(validators.chunk(chunk)).toEqual([]);
  };

  it("turns Mistral's text and thinking parts into content and reasoning_content", () => {
    const chunk = normalize({
      ...base,
      choices: [{ index: 0, delta: { content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'Two plus two.' }] }, { type: 'text', text: 'Four.' }] }, finish_reason: null }],
    });
    expect(chunk!.choices[0]!.delta).toEqual({ content: 'Four.', reasoning_content: 'Two plus two.' });
    expectValid(chunk);
    const thinkingOnly = normalize({ ...base, choices: [{ index: 0, delta: { content: [{ type: 'thinking', thinking: 'Hmm.' }] }, finish_reason: null }] });
    expect(thinkingOnly!.choices[0]!.delta).toEqual({ reasoning_content: 'Hmm.' });
  });

  it("renames Groq's reasoning to reasoning_content and drops nulls", () => {
    const chunk = normalize({ ...base, choices: [{ index: 0, delta: { reasoning: 'Let me think', content: null, refusal: null }, finish_reason: null, logprobs: null }] });
    expect(chunk!.choices[0]!.delta).toEqual({ reasoning_content: 'Let me think' });
    expectValid(chunk);
  });

  it("gives Qwen's continuation deltas the stream id and drops their empty tool-call ids", () => {
    const state = createOpenAIStreamState('fallback-model', 'chatcmpl-fallback', 0);
    normalize({ ...base, id: 'chatcmpl-qwen', system_fingerprint: null, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } }] }, finish_reason: null }] }, state);
    const continuation = normalize({ ...base, id: '', system_fingerprint: null, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: '', type: 'function', function: { arguments: '{"city":"Paris"}' } }] } }] }, state);
    expect(continuation!.id).toBe('chatcmpl-qwen');
    expect(continuation!.system_fingerprint).toBeUndefined();
    expect(continuation!.choices[0]).toEqual({ index: 0, delta: { tool_calls: [{ index: 0, type: 'function', function: { arguments: '{"city":"Paris"}' } }] }, finish_reason: null, logprobs: null });
    expectValid(continuation);
  });

  it("numbers Mistral's whole tool calls that arrive without index", () => {
    const state = createOpenAIStreamState('fallback-model', 'chatcmpl-fallback', 0);
    const chunk = normalize(
      {
        ...base,
        choices: [
          {
            index: 0,
            delta: { content: null, tool_calls: [{ id: 'first', function: { name: 'a', arguments: '{}' } }, { id: 'second', function: { name: 'b', arguments: '{"x":1}' } }] },
            finish_reason: 'tool_calls',
          },
        ],
      },
      state,
    );
    expect(chunk!.choices[0]!.delta.tool_calls).toEqual([
      { index: 0, id: 'first', type: 'function', function: { name: 'a', arguments: '{}' } },
      { index: 1, id: 'second', type: 'function', function: { name: 'b', arguments: '{"x":1}' } },
    ]);
    expect(chunk!.choices[0]!.finish_reason).toBe('tool_calls');
    expectValid(chunk);
  });

  it("drops Azure's empty first chunk and, when asked, carries its prompt filter results forward", () => {
    const azureFirst = { choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] };
    const content = { ...base, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null, content_filter_results: { hate: { filtered: false } } }] };
    const plain = createOpenAIStreamState('fallback-model', 'chatcmpl-fallback', 0);
    expect(normalize(azureFirst, plain)).toBeNull();
    expect(normalize(content, plain)).toEqual({ ...base, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null, logprobs: null }] });

    const keeping = createOpenAIStreamState('fallback-model', 'chatcmpl-fallback', 0, { keepContentFilterResults: true });
    expect(normalize(azureFirst, keeping)).toBeNull();
    const first = normalize(content, keeping)!;
    expect(first.prompt_filter_results).toEqual(azureFirst.prompt_filter_results);
    expect(first.choices[0]!.content_filter_results).toEqual({ hate: { filtered: false } });
    expect(normalize(content, keeping)!.prompt_filter_results).toBeUndefined();
    expectValid(first);
  });

  it('removes service tiers and partial logprobs OpenAI clients would reject', () => {
    const chunk = normalize({ ...base, service_tier: 'on_demand', choices: [{ index: 0, delta: { content: 'a' }, finish_reason: null, logprobs: { content: [] } }] });
    expect(chunk!.service_tier).toBeUndefined();
    expect(chunk!.choices[0]!.logprobs).toEqual({ content: [], refusal: null });
    expect(normalize({ ...base, service_tier: 'default', choices: [] , usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })!.service_tier).toBe('default');
    expectValid(chunk);
  });

  it("lifts Groq's x_groq usage and separates usage from a chunk that carries choices", () => {
    const chunk = normalize({
      ...base,
      choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
      x_groq: { id: 'req_1', usage: { queue_time: 0.1, prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } },
    })!;
    expect(chunk.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    const detached = detachUsage(chunk);
    expect(detached.chunk).toEqual({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null }] });
    expect(detached.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    expect(detachUsage({ ...base, object: 'chat.completion.chunk', choices: [], usage: detached.usage })).toEqual({ chunk: null, usage: detached.usage });
    const withoutUsage = { ...base, object: 'chat.completion.chunk' as const, choices: [] };
    expect(detachUsage(withoutUsage)).toEqual({ chunk: withoutUsage, usage: undefined });
  });

  it('normalises usage: reasoning counted apart, cached tokens in three places', () => {
    // xAI: total = prompt + completion + reasoning.
    expect(normalizeUsage({ prompt_tokens: 12, completion_tokens: 2, total_tokens: 354, completion_tokens_details: { reasoning_tokens: 340 } })).toEqual({
      prompt_tokens: 12,
      completion_tokens: 342,
      total_tokens: 354,
      completion_tokens_details: { reasoning_tokens: 340 },
    });
    // OpenAI: reasoning already inside completion tokens, nothing changes.
    expect(normalizeUsage({ prompt_tokens: 15, completion_tokens: 78, total_tokens: 93, completion_tokens_details: { reasoning_tokens: 64 } })).toMatchObject({ completion_tokens: 78 });
    // Moonshot and DeepSeek report cache hits outside prompt_tokens_details.
    expect(normalizeUsage({ prompt_tokens: 20, completion_tokens: 30, total_tokens: 50, cached_tokens: 10 })).toEqual({ prompt_tokens: 20, completion_tokens: 30, total_tokens: 50, prompt_tokens_details: { cached_tokens: 10 } });
    expect(normalizeUsage({ prompt_tokens: 495, completion_tokens: 144, total_tokens: 639, prompt_cache_hit_tokens: 320, prompt_cache_miss_tokens: 175 })).toMatchObject({ prompt_tokens_details: { cached_tokens: 320 } });
    expect(normalizeUsage({ prompt_tokens: 5, completion_tokens: 1 })).toEqual({ prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 });
  });

  it('normalises whole answers: content parts, reasoning, missing fields', () => {
    const mistral = normalizeOpenAIResponse(
      openAIResponseSchema.parse({
        id: 'own-1',
        object: 'chat.completion',
        created: 1,
        model: 'magistral-medium',
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'Sum.' }] }, { type: 'text', text: '4' }] } }],
      }),
      'fallback',
      'fallback-id',
    );
    expect(mistral.choices[0]).toEqual({ index: 0, message: { role: 'assistant', content: '4', refusal: null, reasoning_content: 'Sum.' }, finish_reason: 'stop', logprobs: null });

    const groq = normalizeOpenAIResponse(
      openAIResponseSchema.parse({
        id: 'own-2',
        object: 'chat.completion',
        created: 1,
        model: 'qwen/qwen3-32b',
        service_tier: 'on_demand',
        choices: [{ index: 0, finish_reason: 'tool_calls', logprobs: null, message: { role: 'assistant', reasoning: 'Call it.', tool_calls: [{ id: 'call_1', function: { name: 'f', arguments: '{}' } }] } }],
        usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, queue_time: 0.2 },
      }),
      'fallback',
      'fallback-id',
    );
    expect(groq.service_tier).toBeUndefined();
    expect(groq.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    expect(groq.choices[0]!.message).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      reasoning_content: 'Call it.',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
    });
    if (validators) {
      expect(validators.response(mistral)).toEqual([]);
      expect(validators.response(groq)).toEqual([]);
    }
  });

  it('sends usage once, last, in its own chunk when the provider put it on the finishing chunk', async () => {
    const events = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'stop' }], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } },
    ];
    const mock = await startMockUpstream((_request, response) => writeEventStream(response, [...events.map((event) => `data: ${JSON.stringify(event)}\n\n`), 'data: [DONE]\n\n']));
    const provider = createOpenAICompatible({ id: 'own', baseURL: mock.url });
    try {
      const result = await provider.chat('own-model', { model: 'own/own-model', messages: [{ role: 'user', content: 'Hi' }], stream: true }, { signal: AbortSignal.timeout(5_000), requestId: 'own' });
      if (result.type !== 'stream') throw new Error('expected a stream');
      const chunks: ChatCompletionChunk[] = [];
      for await (const chunk of result.stream) chunks.push(chunk);
      expect(chunks.map((chunk) => ({ choices: chunk.choices.length, usage: chunk.usage }))).toEqual([
        { choices: 1, usage: undefined },
        { choices: 1, usage: undefined },
        { choices: 0, usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } },
      ]);
      expect(chunks[2]).toMatchObject({ id: 'chatcmpl-own', object: 'chat.completion.chunk', model: 'own-model' });
      for (const chunk of chunks) expectValid(chunk);
    } finally {
      await provider.close?.();
      await mock.close();
    }
  });
});
