import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatCompletion, ChatCompletionChunk, ProviderV1 } from '@switchyard/core';
import { GatewayError } from '@switchyard/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzureOpenAI } from '../azure/azure-provider.js';
import { loadOpenAISchemaValidators, sharedFixturesDir } from '../test-utils/openai-schema.js';
import { type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '../test-utils/mock-upstream.js';
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
