import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ChatCompletion, type ChatCompletionChunk, type ChatResult, GatewayError, type ProviderV1 } from '@switchyard/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '../test-utils/mock-upstream.js';
import { loadOpenAISchemaValidators, sharedFixturesDir } from '../test-utils/openai-schema.js';
import { createAnthropic } from './anthropic-provider.js';
import {
  chunkLines,
  expectedFinishReason,
  expectedUsage,
  frameAnthropicEvents,
  type RecordedAnswer,
  recordedMessageAnswer,
  recordedStreamAnswer,
  splitResponses,
} from './__fixtures__/anthropic-wire.js';

/*
 * Replays real Anthropic recordings (../shared/fixtures/providers/anthropic and errors/anthropic) through a
 * mock Messages API and the adapter, and checks what comes out against the recordings themselves: every
 * chunk valid under OpenAI's published schema, the same text, thinking and tool-call arguments, the
 * finish reason and usage mapped. Skipped when the shared folder is not there.
 */

const recordingsDir = sharedFixturesDir ? join(sharedFixturesDir, 'providers', 'anthropic') : undefined;
const errorsDir = sharedFixturesDir ? join(sharedFixturesDir, 'errors', 'anthropic') : undefined;
const available = recordingsDir !== undefined && existsSync(recordingsDir);

/** Synthetic corruption cases in the recordings: a correct adapter refuses them. */
const corruptedStreams = new Set(['duplicate-message-start.chunks.txt', 'spliced-message-start.chunks.txt']);

type Reply = { kind: 'stream'; frames: string[] } | { kind: 'json'; status: number; body: string; headers: Record<string, string> } | { kind: 'raw'; text: string };

describe.runIf(available)('Anthropic recordings replayed through the adapter', () => {
  const validators = loadOpenAISchemaValidators()!;
  const replies = new Map<string, Reply>();
  let upstream: MockUpstream;
  let provider: ProviderV1;
  let replayCount = 0;

  beforeAll(async () => {
    upstream = await startMockUpstream((request, response) => {
      // Each replay asks for its own model id, which names the reply to send.
      const reply = replies.get((request.json as { model: string }).model);
      if (!reply) return sendJson(response, 500, { type: 'error', error: { type: 'api_error', message: 'no reply registered' } });
      if (reply.kind === 'json') return sendJson(response, reply.status, JSON.parse(reply.body), reply.headers);
      if (reply.kind === 'raw') return writeEventStream(response, [reply.text]);
      return writeEventStream(response, reply.frames);
    });
    provider = createAnthropic({ apiKey: 'sk-ant-conformance', baseURL: `${upstream.url}/v1` });
  });

  afterAll(async () => {
    await provider?.close?.();
    await upstream?.close();
  });

  async function replay(reply: Reply, stream: boolean): Promise<ChatResult> {
    const modelId = `claude-replay-${++replayCount}`;
    replies.set(modelId, reply);
    return provider.chat(modelId, { model: modelId, messages: [{ role: 'user', content: 'replay' }], stream }, { signal: new AbortController().signal, requestId: modelId });
  }

  async function replayStream(lines: string[]): Promise<ChatCompletionChunk[]> {
    const result = await replay({ kind: 'stream', frames: frameAnthropicEvents(lines) }, true);
    expect(result.type).toBe('stream');
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of (result as Extract<ChatResult, { type: 'stream' }>).stream) chunks.push(chunk);
    return chunks;
  }

  const streamFiles = available ? readdirSync(recordingsDir!).filter((name) => name.endsWith('.chunks.txt')).sort() : [];
  const jsonFiles = available ? readdirSync(recordingsDir!).filter((name) => name.endsWith('.json')).sort() : [];

  it('has recordings to replay', () => {
    expect(streamFiles.length).toBeGreaterThan(5);
    expect(jsonFiles.length).toBeGreaterThan(5);
  });

  for (const file of streamFiles.filter((name) => !corruptedStreams.has(name))) {
    it(`stream ${file}`, async () => {
      const responses = splitResponses(chunkLines(readFileSync(join(recordingsDir!, file), 'utf8')));
      for (const lines of responses) {
        const chunks = await replayStream(lines);
        for (const chunk of chunks) expect(validators.chunk(chunk), JSON.stringify(chunk)).toEqual([]);
        expectStreamMatches(chunks, recordedStreamAnswer(lines));
      }
    });
  }

  for (const file of streamFiles.filter((name) => corruptedStreams.has(name))) {
    it(`corrupted stream ${file} fails with a GatewayError`, async () => {
      const lines = chunkLines(readFileSync(join(recordingsDir!, file), 'utf8'));
      let failure: unknown;
      const received: ChatCompletionChunk[] = [];
      try {
        const result = await replay({ kind: 'stream', frames: frameAnthropicEvents(lines) }, true);
        for await (const chunk of (result as Extract<ChatResult, { type: 'stream' }>).stream) received.push(chunk);
      } catch (error) {
        failure = error;
      }
      expect(GatewayError.isInstance(failure), String(failure)).toBe(true);
      expect((failure as GatewayError).status).toBe(502);
      expect((failure as GatewayError).code).toBe('bad_upstream_response');
      // Nothing from the second message reached the client, and no finish reason claimed completion.
      for (const chunk of received) expect(validators.chunk(chunk)).toEqual([]);
      expect(received.some((chunk) => chunk.choices.some((choice) => choice.finish_reason !== null))).toBe(false);
    });
  }

  for (const file of jsonFiles) {
    it(`response ${file}`, async () => {
      const body = readFileSync(join(recordingsDir!, file), 'utf8');
      const result = await replay({ kind: 'json', status: 200, body, headers: {} }, false);
      expect(result.type).toBe('response');
      const response = (result as Extract<ChatResult, { type: 'response' }>).response;
      expect(validators.response(response)).toEqual([]);
      expectResponseMatches(response, recordedMessageAnswer(JSON.parse(body)));
    });
  }

  const errorFiles = errorsDir && existsSync(errorsDir) ? readdirSync(errorsDir).filter((name) => /^\d{3}-.*(?<!\.headers)\.json$/.test(name)).sort() : [];
  for (const file of errorFiles) {
    it(`error ${file}`, async () => {
      const upstreamStatus = Number(file.slice(0, 3));
      const body = readFileSync(join(errorsDir!, file), 'utf8');
      const headersFile = join(errorsDir!, file.replace(/\.json$/, '.headers.json'));
      const recordedHeaders = existsSync(headersFile) ? (JSON.parse(readFileSync(headersFile, 'utf8')) as { headers: Record<string, string> }).headers : {};
      const headers = Object.fromEntries(Object.entries(recordedHeaders).filter(([name]) => !['content-length', 'connection', 'content-type'].includes(name)));
      const error = await rejection(replay({ kind: 'json', status: upstreamStatus, body, headers }, false));
      const anthropicError = (JSON.parse(body) as { error: { type: string; message: string } }).error;
      expect(error.status).toBe(upstreamStatus === 529 ? 503 : upstreamStatus);
      expect(error.message).toBe(anthropicError.message);
      expect(error.type).toBe(
        { invalid_request_error: 'invalid_request_error', rate_limit_error: 'rate_limit_error', overloaded_error: 'service_unavailable' }[anthropicError.type] ?? error.type,
      );
      expect(error.isRetryable).toBe(upstreamStatus === 429 || upstreamStatus >= 500);
      expect(validators.error(error.toJSON())).toEqual([]);
    });
  }

  const midstreamFiles = errorsDir && existsSync(errorsDir) ? readdirSync(errorsDir).filter((name) => name.endsWith('.sse')) : [];
  for (const file of midstreamFiles) {
    it(`mid-stream error ${file}`, async () => {
      const text = readFileSync(join(errorsDir!, file), 'utf8');
      const start = frameAnthropicEvents(['{"type":"message_start","message":{"id":"msg_replay","model":"claude-replay","content":[],"usage":{"input_tokens":3,"output_tokens":1}}}']);
      const result = await replay({ kind: 'raw', text: start.join('') + text }, true);
      const error = await rejection(
        (async () => {
          for await (const _chunk of (result as Extract<ChatResult, { type: 'stream' }>).stream);
        })(),
      );
      expect([error.status, error.type, error.isRetryable]).toEqual([503, 'service_unavailable', true]);
      expect(validators.error(error.toJSON())).toEqual([]);
    });
  }
});

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    expect(GatewayError.isInstance(error), String(error)).toBe(true);
    return error as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

function expectStreamMatches(chunks: ChatCompletionChunk[], recorded: RecordedAnswer): void {
  const deltas = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta));
  const text = deltas.map((delta) => delta.content ?? '').join('');
  const reasoning = deltas.map((delta) => delta.reasoning_content ?? '').join('');
  expect(text).toBe(recorded.text);
  expect(reasoning).toBe(recorded.reasoning);

  const toolDeltas = deltas.flatMap((delta) => delta.tool_calls ?? []);
  for (const delta of toolDeltas) expect(Number.isInteger(delta.index)).toBe(true);
  const indexes = [...new Set(toolDeltas.map((delta) => delta.index))].sort((a, b) => a - b);
  const toolCalls = indexes.map((index) => {
    const parts = toolDeltas.filter((delta) => delta.index === index);
    return {
      id: parts.find((delta) => delta.id)?.id ?? '',
      name: parts.map((delta) => delta.function?.name ?? '').join(''),
      arguments: parts.map((delta) => delta.function?.arguments ?? '').join(''),
    };
  });
  expect(toolCalls).toEqual(recorded.toolCalls.map((call) => ({ ...call, arguments: call.arguments === '' ? '{}' : call.arguments })));

  const finishReasons = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason)).filter((reason) => reason !== null);
  expect(finishReasons).toEqual([recorded.stopReason ? expectedFinishReason[recorded.stopReason] : 'stop']);

  const last = chunks[chunks.length - 1]!;
  expect(last.choices).toEqual([]);
  const usage = expectedUsage(recorded.usage);
  expect(last.usage).toMatchObject({
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.total_tokens,
    prompt_tokens_details: { cached_tokens: usage.cached_tokens },
  });
}

function expectResponseMatches(response: ChatCompletion, recorded: RecordedAnswer): void {
  const choice = response.choices[0]!;
  expect(response.choices).toHaveLength(1);
  expect(choice.message.content).toBe(recorded.text === '' ? null : recorded.text);
  expect(choice.message.reasoning_content ?? '').toBe(recorded.reasoning);
  expect((choice.message.tool_calls ?? []).map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }))).toEqual(recorded.toolCalls);
  expect(choice.finish_reason).toBe(recorded.stopReason ? expectedFinishReason[recorded.stopReason] : 'stop');
  const usage = expectedUsage(recorded.usage);
  expect(response.usage).toMatchObject({
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.total_tokens,
    prompt_tokens_details: { cached_tokens: usage.cached_tokens },
  });
}
