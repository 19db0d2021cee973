import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ChunkAggregator, type ChatCompletion, type ChatCompletionChunk, GatewayError, type ProviderV1 } from '@switchyard/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockHandler, type MockUpstream, sendJson, startMockUpstream } from '../test-utils/mock-upstream.js';
import { loadOpenAISchemaValidators, sharedFixturesDir } from '../test-utils/openai-schema.js';
import { createGemini } from './gemini-provider.js';

/*
 * Replays every recorded Gemini stream and response from ../shared/fixtures through a mock upstream and
 * the adapter, and checks what clients would get against the recording itself: valid OpenAI chunks, the
 * same text, thoughts and tool-call arguments, the finish reason and usage mapped. Expectations are read
 * from the recordings independently of the adapter's code. Skipped when the folder is absent.
 */

const providerDir = sharedFixturesDir ? join(sharedFixturesDir, 'providers', 'google') : undefined;
const errorDir = sharedFixturesDir ? join(sharedFixturesDir, 'errors', 'google') : undefined;
const available = providerDir !== undefined && existsSync(providerDir);

const listFiles = (dir: string | undefined, suffix: string) => (dir && existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith(suffix)).sort() : []);
const streamFiles = listFiles(providerDir, '.chunks.txt');
const responseFiles = listFiles(providerDir, '.json');
const errorFiles = listFiles(errorDir, '.json').filter((name) => !name.endsWith('.headers.json'));

type Json = Record<string, any>;

interface ExpectedCall {
  name: string;
  args: Json;
  /** Vertex partial arguments: path → the value the pieces add up to. */
  partial: Map<string, unknown>;
}

interface Expected {
  text: Map<number, string>;
  reasoning: Map<number, string>;
  calls: Map<number, ExpectedCall[]>;
  finishReasons: Map<number, string>;
  usage: Json | undefined;
}

/** What a client should end up with, read straight from the recorded events. */
function expectationsFrom(events: Json[]): Expected {
  const expected: Expected = { text: new Map(), reasoning: new Map(), calls: new Map(), finishReasons: new Map(), usage: undefined };
  const open = new Map<number, ExpectedCall | undefined>();
  for (const event of events) {
    if (event.usageMetadata?.promptTokenCount !== undefined) expected.usage = event.usageMetadata;
    (event.candidates ?? []).forEach((candidate: Json, position: number) => {
      const index = candidate.index ?? position;
      for (const part of candidate.content?.parts ?? []) {
        if (typeof part.text === 'string') {
          const target = part.thought ? expected.reasoning : expected.text;
          target.set(index, (target.get(index) ?? '') + part.text);
        }
        const call = part.functionCall;
        if (!call) continue;
        if (call.name) {
          const created: ExpectedCall = { name: call.name, args: call.args ?? {}, partial: new Map() };
          expected.calls.set(index, [...(expected.calls.get(index) ?? []), created]);
          open.set(index, created);
        }
        for (const argument of call.partialArgs ?? []) {
          const current = open.get(index)!;
          const value = argument.stringValue ?? argument.numberValue ?? argument.boolValue ?? null;
          const previous = current.partial.get(argument.jsonPath);
          current.partial.set(argument.jsonPath, typeof value === 'string' && typeof previous === 'string' ? previous + value : value);
        }
      }
      if (candidate.finishReason) expected.finishReasons.set(index, candidate.finishReason);
    });
  }
  return expected;
}

function expectedFinishReason(reason: string, hasCalls: boolean): string {
  if (reason === 'MAX_TOKENS') return 'length';
  if (['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII'].includes(reason)) return 'content_filter';
  return hasCalls ? 'tool_calls' : 'stop';
}

/** Reads `$.a.b[2].c` out of parsed arguments. */
function valueAt(root: unknown, path: string): unknown {
  let current: any = root;
  for (const match of path.slice(1).matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)) {
    if (current === undefined || current === null) return undefined;
    current = match[1] !== undefined ? current[match[1]] : current[Number(match[2])];
  }
  return current;
}

function checkAgainstRecording(completion: ChatCompletion, expected: Expected): void {
  for (const [index, reason] of expected.finishReasons) {
    const choice = completion.choices.find((candidate) => candidate.index === index)!;
    expect(choice, `choice ${index}`).toBeDefined();
    const calls = expected.calls.get(index) ?? [];
    expect(choice.message.content ?? '').toBe(expected.text.get(index) ?? '');
    expect(choice.message.reasoning_content ?? '').toBe(expected.reasoning.get(index) ?? '');
    expect(choice.finish_reason).toBe(expectedFinishReason(reason, calls.length > 0));
    const toolCalls = choice.message.tool_calls ?? [];
    expect(toolCalls.map((call) => call.function.name)).toEqual(calls.map((call) => call.name));
    toolCalls.forEach((toolCall, callIndex) => {
      const recorded = calls[callIndex]!;
      const parsed: unknown = JSON.parse(toolCall.function.arguments);
      if (recorded.partial.size === 0) expect(parsed).toEqual(recorded.args);
      else for (const [path, value] of recorded.partial) expect(valueAt(parsed, path), path).toEqual(value);
      expect(toolCall.id).toMatch(/^call_[A-Za-z0-9_-]+$/);
    });
    expect(new Set(toolCalls.map((call) => call.id)).size).toBe(toolCalls.length);
  }
  if (expected.usage) {
    const thoughts = expected.usage.thoughtsTokenCount ?? 0;
    expect(completion.usage).toMatchObject({
      prompt_tokens: expected.usage.promptTokenCount + (expected.usage.toolUsePromptTokenCount ?? 0),
      completion_tokens: (expected.usage.candidatesTokenCount ?? 0) + thoughts,
      total_tokens: expected.usage.totalTokenCount,
      completion_tokens_details: { reasoning_tokens: thoughts },
    });
  }
}

/** Recorded events, or undefined when a line is not a JSON object (a hand-made broken file). */
function parseLines(text: string): Json[] | undefined {
  const events: Json[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      events.push(value as Json);
    } catch {
      return undefined;
    }
  }
  return events;
}

describe.runIf(available)('Gemini adapter against the recorded Google fixtures', () => {
  const validators = loadOpenAISchemaValidators();
  let upstream: MockUpstream;
  let provider: ProviderV1;
  let answer: MockHandler = (_request, response) => sendJson(response, 500, {});

  beforeAll(async () => {
    upstream = await startMockUpstream((request, response, raw) => answer(request, response, raw));
    provider = createGemini({ apiKey: 'conformance', baseURL: `${upstream.url}/v1beta` });
  });

  afterAll(async () => {
    await provider?.close?.();
    await upstream?.close();
  });

  const options = () => ({ signal: new AbortController().signal, requestId: 'conformance' });

  it('finds the recordings', () => {
    expect(streamFiles.length).toBeGreaterThan(0);
    expect(responseFiles.length).toBeGreaterThan(0);
  });

  for (const file of streamFiles) {
    it(`replays stream ${file}`, async () => {
      const text = readFileSync(join(providerDir!, file), 'utf8');
      const lines = text.split('\n').filter((line) => line.trim() !== '');
      // Gemini's own framing for `alt=sse`: CRLF line ends, no terminator.
      answer = (_request, response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const line of lines) response.write(`data: ${line}\r\n\r\n`);
        response.end();
      };
      const events = parseLines(text);
      const wellFormed = events !== undefined && events.length > 0 && events.at(-1)!.candidates?.some((candidate: Json) => candidate.finishReason);
      const chunks: ChatCompletionChunk[] = [];
      let failure: unknown;
      try {
        const result = await provider.chat('gemini-3-pro-preview', { model: 'gemini-3-pro-preview', messages: [{ role: 'user', content: 'replay' }], stream: true }, options());
        if (result.type !== 'stream') throw new Error('expected a stream');
        for await (const chunk of result.stream) chunks.push(chunk);
      } catch (error) {
        failure = error;
      }
      for (const chunk of chunks) if (validators) expect(validators.chunk(chunk), JSON.stringify(chunk).slice(0, 500)).toEqual([]);
      if (!wellFormed) {
        // A broken or hand-made file may fail, but only as a GatewayError, never as a crash.
        if (failure !== undefined) expect(failure).toBeInstanceOf(GatewayError);
        return;
      }
      expect(failure).toBeUndefined();
      const last = chunks.at(-1)!;
      expect(last.choices).toEqual([]);
      expect(last.usage).toBeDefined();
      for (const chunk of chunks.slice(0, -1)) expect(chunk.choices.length).toBeGreaterThan(0);
      const aggregator = new ChunkAggregator();
      for (const chunk of chunks) aggregator.add(chunk);
      checkAgainstRecording(aggregator.result(), expectationsFrom(events!));
    });
  }

  for (const file of streamFiles) {
    it(`fails cleanly on a cut-off replay of ${file}`, async () => {
      const lines = readFileSync(join(providerDir!, file), 'utf8').split('\n').filter((line) => line.trim() !== '');
      const last = lines.at(-1)!;
      // The connection drops inside the last event, then before it: neither may pass for a whole answer.
      for (const body of [[...lines.slice(0, -1), last.slice(0, Math.floor(last.length / 2))], lines.slice(0, -1)]) {
        answer = (_request, response) => {
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          for (const line of body) response.write(`data: ${line}\r\n\r\n`);
          response.end();
        };
        let failure: unknown;
        try {
          const result = await provider.chat('gemini-3-pro-preview', { model: 'gemini-3-pro-preview', messages: [{ role: 'user', content: 'replay' }], stream: true }, options());
          if (result.type !== 'stream') throw new Error('expected a stream');
          for await (const chunk of result.stream) if (validators) expect(validators.chunk(chunk)).toEqual([]);
        } catch (error) {
          failure = error;
        }
        expect(failure).toBeInstanceOf(GatewayError);
        expect((failure as GatewayError).isRetryable).toBe(true);
      }
    });
  }

  for (const file of responseFiles) {
    it(`replays response ${file}`, async () => {
      const body = JSON.parse(readFileSync(join(providerDir!, file), 'utf8')) as Json;
      const status = body.error ? Number(body.error.code) || 500 : 200;
      answer = (_request, response) => sendJson(response, status, body);
      const call = provider.chat('gemini-3-pro-preview', { model: 'gemini-3-pro-preview', messages: [{ role: 'user', content: 'replay' }] }, options());
      if (body.error) {
        await checkError(call, body);
        return;
      }
      const result = await call;
      if (result.type !== 'response') throw new Error('expected a response');
      if (validators) expect(validators.response(result.response)).toEqual([]);
      checkAgainstRecording(result.response, expectationsFrom([body]));
      expect(result.response.model).toBe(body.modelVersion);
    });
  }

  for (const file of errorFiles) {
    it(`maps error ${file}`, async () => {
      const body = JSON.parse(readFileSync(join(errorDir!, file), 'utf8')) as Json;
      const headersFile = join(errorDir!, `${basename(file, '.json')}.headers.json`);
      const recorded = existsSync(headersFile) ? (JSON.parse(readFileSync(headersFile, 'utf8')) as Json) : undefined;
      const status = recorded?.statusCode ?? body.error.code;
      const contentType = recorded?.headers?.['Content-Type'] ?? 'application/json';
      answer = (_request, response) => {
        response.writeHead(status, { 'content-type': contentType });
        response.end(JSON.stringify(body));
      };
      const stream = String(recorded?.request_url ?? '').includes('streamGenerateContent');
      await checkError(provider.chat('gemini-3-pro-preview', { model: 'gemini-3-pro-preview', messages: [{ role: 'user', content: 'replay' }], stream }, options()), body);
    });
  }

  async function checkError(call: Promise<unknown>, body: Json): Promise<void> {
    let failure: unknown;
    try {
      await call;
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(GatewayError);
    const error = failure as GatewayError;
    expect(error.message).toBe(body.error.message);
    expect(error.status).toBe(body.error.code);
    expect(error.isRetryable).toBe(body.error.code === 429 || body.error.code >= 500);
    if (validators) expect(validators.error(error.toJSON())).toEqual([]);
    const retryInfo = (body.error.details ?? []).find((detail: Json) => String(detail['@type']).endsWith('RetryInfo'));
    if (retryInfo) expect(error.retryAfterMs).toBe(Math.round(Number.parseFloat(retryInfo.retryDelay) * 1000));
    if (body.error.code === 429) expect(error.type).toBe('rate_limit_error');
  }
});
