import { existsSync, readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { sharedFixturesDir } from '../test-utils/openai-schema.js';
import { fixtureChunks, fixtureJson } from './__fixtures__/index.js';
import { openAIChunkSchema, openAIResponseSchema } from './openai-api.js';
import { isPlainOpenAIChunk, isPlainOpenAIResponse, readOpenAIChunk, readOpenAIResponse } from './openai-wire-check.js';
import { isNormalOpenAIResponse, normalizeOpenAIResponse } from './convert-openai-stream.js';
import { isSameJson } from '../test-utils/same-json.js';

/*
 * The fast checks must never accept what zod refuses, must hand back exactly what zod would, and must
 * take every real answer (otherwise they save nothing). Checked over the adapter's fixtures, the shared
 * recordings of the OpenAI-compatible family when present, and variants of them with every field replaced
 * by values of every JSON type.
 */

const sharedProviderDirectories = ['openai-chat', 'deepseek', 'groq', 'mistral', 'alibaba', 'xai', 'moonshotai', 'openai-compatible'];

function recordedChunks(): unknown[] {
  const chunks: unknown[] = [...fixtureChunks('chat-text.chunks.txt'), ...fixtureChunks('chat-parallel-tool-calls.chunks.txt')];
  for (const folder of sharedFolders()) {
    for (const file of readdirSync(folder).filter((name) => name.endsWith('.chunks.txt'))) {
      for (const line of readFileSync(join(folder, file), 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const json = JSON.parse(line) as { object?: string };
        if (json.object !== 'text_completion') chunks.push(json);
      }
    }
  }
  return chunks;
}

function recordedResponses(): unknown[] {
  const responses: unknown[] = [fixtureJson('chat-text.json'), fixtureJson('chat-tool-calls.json')];
  for (const folder of sharedFolders()) {
    for (const file of readdirSync(folder).filter((name) => name.endsWith('.json'))) {
      const json = JSON.parse(readFileSync(join(folder, file), 'utf8')) as { choices?: unknown; object?: string };
      if (Array.isArray(json.choices) && json.object !== 'text_completion') responses.push(json);
    }
  }
  return responses;
}

function sharedFolders(): string[] {
  if (!sharedFixturesDir) return [];
  return sharedProviderDirectories.map((directory) => join(sharedFixturesDir!, 'providers', directory)).filter((folder) => existsSync(folder));
}

const replacements: unknown[] = [undefined, null, '', 'text', 0, -1, 2.5, true, false, [], ['text'], [{}], {}, { nested: 1 }];

/** Every path to a value inside `value` (object keys and array positions), parents before children. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return value.flatMap((item, index) => [[...prefix, index], ...paths(item, [...prefix, index])]);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => [[...prefix, key], ...paths(item, [...prefix, key])]);
  }
  return [];
}

function withReplaced(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let parent = copy;
  for (const segment of path.slice(0, -1)) parent = parent[segment] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (replacement === undefined && !Array.isArray(parent)) delete parent[last];
  else parent[last] = replacement;
  return copy;
}

/** The recorded value, and that value with each field in turn replaced by each kind of JSON value. */
function variants(values: unknown[], limit: number): unknown[] {
  const result: unknown[] = [];
  for (const value of values.slice(0, limit)) {
    result.push(value);
    for (const path of paths(value)) for (const replacement of replacements) result.push(withReplaced(value, path, replacement));
    // An own `__proto__` key, as JSON.parse creates it, at the top and inside the first choice.
    result.push(JSON.parse(JSON.stringify(value).replace(/^\{/, '{"__proto__":{"polluted":true},')));
    result.push(JSON.parse(JSON.stringify(value).replace('"choices":[{', '"choices":[{"__proto__":{"polluted":true},')));
  }
  return result;
}

function expectAgreement(values: unknown[], schema: z.ZodType, isPlain: (value: unknown) => boolean): { plain: number; total: number } {
  let plain = 0;
  for (const value of values) {
    if (!isPlain(value)) continue;
    plain++;
    const parsed = schema.safeParse(value);
    expect(parsed.success, JSON.stringify(value)).toBe(true);
    // What zod hands back (a copy) equals the value the fast path hands back itself.
    expect(parsed.data).toEqual(value);
  }
  return { plain, total: values.length };
}

describe('isPlainOpenAIChunk', () => {
  it('takes every recorded chunk that the schema accepts', () => {
    for (const chunk of recordedChunks()) {
      expect(isPlainOpenAIChunk(chunk), JSON.stringify(chunk)).toBe(openAIChunkSchema.safeParse(chunk).success);
    }
  });

  it('accepts nothing the schema refuses, and means the same value, for every variant of a field', () => {
    const chunks = recordedChunks();
    // The adapter's own fixtures first (always there), then a spread of the shared recordings.
    const bases = [...chunks.slice(0, 3), chunks.at(-1), ...chunks.filter((_, index) => index % 25 === 0)];
    const { plain, total } = expectAgreement(variants(bases, 40), openAIChunkSchema, isPlainOpenAIChunk);
    expect(plain).toBeGreaterThan(0);
    expect(plain).toBeLessThan(total);
  });

  it('leaves an own __proto__ key to the schema, which drops it', () => {
    const chunk = JSON.parse('{"id":"c","choices":[{"index":0,"delta":{"content":"x","__proto__":{"polluted":true}}}]}');
    expect(isPlainOpenAIChunk(chunk)).toBe(false);
    const read = readOpenAIChunk(chunk) as { choices: Array<{ delta: Record<string, unknown> }> };
    expect(Object.hasOwn(read.choices[0]!.delta, '__proto__')).toBe(false);
    expect(read.choices[0]!.delta.content).toBe('x');
  });
});

describe('isPlainOpenAIResponse', () => {
  it('takes every recorded answer that the schema accepts', () => {
    for (const response of recordedResponses()) {
      expect(isPlainOpenAIResponse(response), JSON.stringify(response).slice(0, 200)).toBe(openAIResponseSchema.safeParse(response).success);
    }
  });

  it('accepts nothing the schema refuses, and means the same value, for every variant of a field', () => {
    const { plain, total } = expectAgreement(variants(recordedResponses(), 12), openAIResponseSchema, isPlainOpenAIResponse);
    expect(plain).toBeGreaterThan(0);
    expect(plain).toBeLessThan(total);
  });
});

describe('readOpenAIChunk and readOpenAIResponse', () => {
  it('hand back the value itself on the fast path', () => {
    const chunk = fixtureChunks('chat-text.chunks.txt')[1];
    expect(readOpenAIChunk(chunk)).toBe(chunk);
    const response = fixtureJson('chat-text.json');
    expect(readOpenAIResponse(response)).toBe(response);
  });

  it('fall back to the schema for what the fast path does not take, and refuse what the schema refuses', () => {
    expect(readOpenAIChunk({ choices: [{ delta: { content: 5 } }] })).toBeUndefined();
    expect(readOpenAIChunk('text')).toBeUndefined();
    expect(readOpenAIResponse({ choices: [{ message: 'hello' }] })).toBeUndefined();
    expect(readOpenAIResponse({ id: 'x' })).toBeUndefined();
    const withProto = JSON.parse('{"choices":[{"message":{"content":"hi","__proto__":{"x":1}}}]}');
    const read = readOpenAIResponse(withProto)!;
    expect(read).not.toBe(withProto);
    expect(read.choices[0]!.message.content).toBe('hi');
  });
});

/** What isNormalOpenAIResponse decides in one pass, worked out the long way: the wire check takes it as it is, and normalising gives the same JSON. */
function needsNoNormalising(candidate: unknown, option: { keepContentFilterResults?: boolean }): boolean {
  const read = readOpenAIResponse(candidate);
  return read === candidate && isSameJson(normalizeOpenAIResponse(read, 'fallback-model', 'fallback-id', 0, option), candidate);
}

describe('isNormalOpenAIResponse', () => {
  // Answers with every optional part the normaliser looks at, as OpenAI-compatible servers send them.
  const rich = {
    id: 'chatcmpl-rich',
    object: 'chat.completion',
    created: 1771002345,
    model: 'm',
    system_fingerprint: 'fp_1',
    service_tier: 'default',
    x_server_field: { kept: [1, 2] },
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          refusal: null,
          reasoning_content: 'thinking',
          annotations: [],
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        logprobs: { content: [{ token: 'a', logprob: -0.1 }], refusal: null },
        finish_reason: 'tool_calls',
        content_filter_results: { hate: { filtered: false } },
      },
    ],
    usage: {
      prompt_tokens: 5,
      completion_tokens: 7,
      total_tokens: 12,
      prompt_tokens_details: { cached_tokens: 2, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 3 },
    },
  };
  const withExtraKeys = (value: unknown): unknown[] =>
    paths(value)
      .filter((path) => {
        let inner: unknown = value;
        for (const segment of path) inner = (inner as Record<string | number, unknown>)[segment];
        return typeof inner === 'object' && inner !== null && !Array.isArray(inner);
      })
      .map((path) => {
        const copy = structuredClone(value) as Record<string | number, unknown>;
        let inner = copy;
        for (const segment of path) inner = inner[segment] as Record<string | number, unknown>;
        inner.an_extra_field = 1;
        return copy;
      });

  const options = [{}, { keepContentFilterResults: true }];
  // xAI's way of counting: reasoning outside the completion tokens, which the normaliser folds in.
  const reasoningOutside = { ...rich, usage: { ...rich.usage, total_tokens: 15 } };
  const withLogprobs = (logprobs: unknown) => ({ ...rich, choices: [{ ...rich.choices[0], logprobs }] });
  const bases = [...recordedResponses(), rich, reasoningOutside, withLogprobs({ refusal: null }), withLogprobs({ content: [] })];
  const candidates = [...variants(bases, 20), ...bases.flatMap(withExtraKeys), { ...rich, an_extra_field: 1 }];

  it('accepts exactly what the wire check takes as it is and normalising leaves the same', () => {
    let normal = 0;
    for (const candidate of candidates) {
      for (const option of options) {
        const accepted = isNormalOpenAIResponse(candidate, option);
        expect(accepted, JSON.stringify(candidate)).toBe(needsNoNormalising(candidate, option));
        if (accepted) normal++;
      }
    }
    expect(normal).toBeGreaterThan(0);
    expect(normal).toBeLessThan(candidates.length * options.length);
  });

  it('takes OpenAI’s own answers, and the rich one with its filter results kept', () => {
    expect(isNormalOpenAIResponse(fixtureJson('chat-text.json'))).toBe(true);
    expect(isNormalOpenAIResponse(fixtureJson('chat-tool-calls.json'))).toBe(true);
    expect(isNormalOpenAIResponse(rich, { keepContentFilterResults: true })).toBe(true);
    expect(isNormalOpenAIResponse(rich)).toBe(false);
  });

  it('holds over generated answers', () => {
    const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
    const anyJson = fc.constantFrom<unknown>(null, '', 'x', 0, 3, -1, true, [], {}, { a: 1 });
    // Mostly what a server would send, now and then any JSON value: both sides of every rule get tried.
    const mostly = (valid: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: anyJson, weight: 1 });
    const number = mostly(fc.integer({ min: 0, max: 20 }));
    const usage = fc.record(
      {
        prompt_tokens: number,
        completion_tokens: number,
        total_tokens: number,
        prompt_tokens_details: maybe(mostly(fc.record({ cached_tokens: maybe(number) }, { requiredKeys: [] }))),
        completion_tokens_details: maybe(mostly(fc.record({ reasoning_tokens: maybe(number) }, { requiredKeys: [] }))),
        prompt_cache_hit_tokens: maybe(number),
      },
      { requiredKeys: [] },
    );
    const toolCall = fc.record(
      { id: mostly(fc.constant('call_1')), type: mostly(fc.constant('function')), function: mostly(fc.record({ name: fc.oneof(fc.constant('f'), anyJson), arguments: fc.oneof(fc.constant('{}'), anyJson) }, { requiredKeys: [] })) },
      { requiredKeys: [] },
    );
    const message = fc.record(
      {
        role: mostly(fc.constant('assistant')),
        content: mostly(fc.constant('hi')),
        refusal: mostly(fc.constant(null)),
        reasoning: maybe(anyJson),
        reasoning_content: maybe(mostly(fc.constant('why'))),
        tool_calls: maybe(mostly(fc.array(toolCall, { maxLength: 2 }))),
        annotations: maybe(anyJson),
      },
      { requiredKeys: [] },
    );
    const choice = fc.record(
      {
        index: number,
        message: fc.oneof(message, anyJson),
        finish_reason: mostly(fc.constantFrom('stop', 'length', 'tool_calls', 'eos', 'max_tokens')),
        logprobs: fc.oneof(fc.constant(null), fc.record({ content: maybe(anyJson), refusal: maybe(anyJson) }, { requiredKeys: [] }), anyJson),
        content_filter_results: maybe(anyJson),
        stop_reason: maybe(anyJson),
      },
      { requiredKeys: [] },
    );
    const response = fc.record(
      {
        id: mostly(fc.constant('chatcmpl-1')),
        object: mostly(fc.constant('chat.completion')),
        created: number,
        model: mostly(fc.constant('m')),
        system_fingerprint: maybe(mostly(fc.constant('fp'))),
        service_tier: maybe(mostly(fc.constantFrom('default', 'on_demand'))),
        usage: maybe(fc.oneof(usage, anyJson)),
        choices: mostly(fc.array(choice, { maxLength: 2 })),
      },
      { requiredKeys: [] },
    );
    let normal = 0;
    fc.assert(
      fc.property(response, fc.constantFrom(...options), (generated, option) => {
        // Through JSON, as the adapter gets it: no undefined fields.
        const candidate = JSON.parse(JSON.stringify(generated)) as unknown;
        const accepted = isNormalOpenAIResponse(candidate, option);
        expect(accepted).toBe(needsNoNormalising(candidate, option));
        if (accepted) normal++;
      }),
      { numRuns: 20_000 },
    );
    expect(normal).toBeGreaterThan(100);
  });
});
