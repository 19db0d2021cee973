import type { ChatCompletionChunk } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { loadOpenAISchemaValidators } from '../test-utils/openai-schema.js';
import { fixtureChunks, fixtureJson } from './__fixtures__/index.js';
import type { OpenAIWireChunk, OpenAIWireResponse } from './openai-api.js';
import {
  createOpenAIStreamState,
  detachUsage,
  normalizeOpenAIChunk,
  normalizeOpenAIResponse,
  normalizeUsage,
  usageChunk,
} from './convert-openai-stream.js';

const now = Date.UTC(2026, 0, 2, 3, 4, 5);
const nowSeconds = Math.floor(now / 1000);
/** Official-schema validation runs when the shared OpenAI schemas are present beside the project. */
const validators = loadOpenAISchemaValidators();

function normalizeAll(chunks: OpenAIWireChunk[], fallbackModel = 'fallback-model'): ChatCompletionChunk[] {
  const state = createOpenAIStreamState(fallbackModel, 'chatcmpl-fallback', now);
  return chunks.map((chunk) => normalizeOpenAIChunk(chunk, state)).filter((chunk): chunk is ChatCompletionChunk => chunk !== null);
}

function chunk(fields: Partial<OpenAIWireChunk> & Record<string, unknown>): OpenAIWireChunk {
  return { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1771000000, model: 'm', ...fields } as OpenAIWireChunk;
}

describe('normalizeOpenAIChunk on an OpenAI stream', () => {
  const raw = fixtureChunks<OpenAIWireChunk>('chat-text.chunks.txt');
  const normalized = normalizeAll(raw);

  it('keeps every chunk, in order, with OpenAI’s fields only', () => {
    expect(normalized).toHaveLength(raw.length);
    expect(normalized[0]).toEqual({
      id: 'chatcmpl-Sy7g1LqZr8uVb3NcX5pHk2Tw',
      object: 'chat.completion.chunk',
      created: 1771002350,
      model: 'gpt-4.1-nano-2025-04-14',
      system_fingerprint: 'fp_4c2e81a7d0',
      service_tier: 'default',
      // `refusal: null` carries nothing and is dropped; the empty first content stays.
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }],
    });
    for (const item of normalized) {
      expect(item).not.toHaveProperty('obfuscation');
      expect(item).not.toHaveProperty('usage', null);
    }
  });

  it('carries the text, the finish reason and the final usage chunk', () => {
    expect(normalized.map((item) => item.choices[0]?.delta.content ?? '').join('')).toBe('Rail yards sort freight cars.');
    expect(normalized.at(-2)!.choices).toEqual([{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null }]);
    const last = normalized.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({
      prompt_tokens: 21,
      completion_tokens: 7,
      total_tokens: 28,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    });
  });

  it.runIf(validators)('emits chunks that validate against OpenAI’s official schema', () => {
    for (const item of [...normalized, ...normalizeAll(fixtureChunks('chat-parallel-tool-calls.chunks.txt'))]) {
      expect(validators!.chunk(item)).toEqual([]);
    }
  });
});

describe('normalizeOpenAIChunk on parallel tool calls', () => {
  it('keeps each call’s index, id and argument fragments', () => {
    const normalized = normalizeAll(fixtureChunks('chat-parallel-tool-calls.chunks.txt'));
    const calls = normalized.flatMap((item) => item.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: 'call_Q1wE2rT3yU4iO5pA', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(calls[1]).toEqual({ index: 0, function: { arguments: '{"ci' } });
    const argumentsByIndex = new Map<number, string>();
    for (const call of calls) argumentsByIndex.set(call.index, (argumentsByIndex.get(call.index) ?? '') + (call.function?.arguments ?? ''));
    expect(Object.fromEntries(argumentsByIndex)).toEqual({ 0: '{"city": "Paris"}', 1: '{"city": "Tokyo", "unit": "celsius"}' });
    expect(normalized.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
    // `content: null` beside the first tool call is dropped, as OpenAI's own deltas leave it out later.
    expect(normalized[0]!.choices[0]!.delta).not.toHaveProperty('content');
  });
});

describe('normalizeOpenAIChunk quirks of compatible servers', () => {
  it('drops Azure’s empty first chunk (no choices, no usage, empty object and model)', () => {
    const state = createOpenAIStreamState('gpt-4o', 'chatcmpl-fallback', now);
    const first = normalizeOpenAIChunk(
      { id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] } as OpenAIWireChunk,
      state,
    );
    expect(first).toBeNull();
    const next = normalizeOpenAIChunk({ id: 'chatcmpl-az', object: 'chat.completion.chunk', created: 1771000001, model: 'gpt-4o-2024-11-20', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] }, state)!;
    expect(next).toEqual({
      id: 'chatcmpl-az',
      object: 'chat.completion.chunk',
      created: 1771000001,
      model: 'gpt-4o-2024-11-20',
      choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null, logprobs: null }],
    });
    expect(next).not.toHaveProperty('prompt_filter_results');
  });

  it('gives Qwen’s continuation chunks with an empty id the stream’s id', () => {
    const normalized = normalizeAll([
      chunk({ id: 'chatcmpl-qwen', choices: [{ index: 0, delta: { role: 'assistant', content: 'a' }, finish_reason: null }] }),
      chunk({ id: '', choices: [{ index: 0, delta: { content: 'b' }, finish_reason: null }] }),
    ]);
    expect(normalized.map((item) => item.id)).toEqual(['chatcmpl-qwen', 'chatcmpl-qwen']);
  });

  it('fills a missing id, model, created, object, index and finish_reason', () => {
    const [normalized] = normalizeAll([{ choices: [{ delta: { content: 'x' } }] } as OpenAIWireChunk], 'llama3.1');
    expect(normalized).toEqual({
      id: 'chatcmpl-fallback',
      object: 'chat.completion.chunk',
      created: nowSeconds,
      model: 'llama3.1',
      choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null, logprobs: null }],
    });
  });

  it('numbers Mistral’s whole tool calls that come without an index, by call id', () => {
    const normalized = normalizeAll([
      chunk({
        choices: [
          {
            index: 0,
            delta: {
              role: 'assistant',
              content: '',
              tool_calls: [
                { id: 'a1B2c3D4e', function: { name: 'lookup', arguments: '{"q":"x"}' } },
                { id: 'f5G6h7I8j', function: { name: 'lookup', arguments: '{"q":"y"}' } },
              ],
            },
            finish_reason: 'tool_calls',
          },
        ],
      }),
      // A later delta for a call already seen keeps that call's index; a delta without id continues the last call.
      chunk({ choices: [{ index: 0, delta: { tool_calls: [{ id: 'a1B2c3D4e', function: { arguments: '' } }, { function: { arguments: ' ' } }] }, finish_reason: null }] }),
    ]);
    expect(normalized[0]!.choices[0]!.delta.tool_calls).toEqual([
      { index: 0, id: 'a1B2c3D4e', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } },
      { index: 1, id: 'f5G6h7I8j', type: 'function', function: { name: 'lookup', arguments: '{"q":"y"}' } },
    ]);
    expect(normalized[1]!.choices[0]!.delta.tool_calls!.map((call) => call.index)).toEqual([0, 1]);
  });

  it('removes the empty id Qwen repeats on tool-call continuation deltas', () => {
    const [normalized] = normalizeAll([chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: '', type: 'function', function: { arguments: '"}' } }] }, finish_reason: null }] })]);
    expect(normalized!.choices[0]!.delta.tool_calls).toEqual([{ index: 0, type: 'function', function: { arguments: '"}' } }]);
  });

  it('lifts Groq’s usage from x_groq', () => {
    const [normalized] = normalizeAll([chunk({ choices: [], x_groq: { id: 'req_01', usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, queue_time: 0.01 } } })]);
    expect(normalized!.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
  });

  it('gives reasoning the name reasoning_content, whichever name the server used', () => {
    const normalized = normalizeAll([
      chunk({ choices: [{ index: 0, delta: { content: null, reasoning_content: 'DeepSeek thinks' }, finish_reason: null }] }),
      chunk({ choices: [{ index: 0, delta: { reasoning: 'Groq thinks' }, finish_reason: null }] }),
      chunk({ choices: [{ index: 0, delta: { content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'Mistral thinks' }] }, { type: 'text', text: 'Answer' }] }, finish_reason: null }] }),
    ]);
    expect(normalized.map((item) => item.choices[0]!.delta)).toEqual([
      { reasoning_content: 'DeepSeek thinks' },
      { reasoning_content: 'Groq thinks' },
      { content: 'Answer', reasoning_content: 'Mistral thinks' },
    ]);
  });

  it('maps other roles and finish reasons to OpenAI’s and removes what OpenAI’s schema does not allow', () => {
    const [normalized] = normalizeAll([
      chunk({
        system_fingerprint: null,
        service_tier: 'on_demand',
        choices: [{ index: 0, delta: { role: 'model', content: 'x' }, finish_reason: 'tool_call', logprobs: { content: [] } }],
      }),
    ]);
    expect(normalized).not.toHaveProperty('system_fingerprint');
    expect(normalized).not.toHaveProperty('service_tier');
    expect(normalized!.choices[0]).toEqual({ index: 0, delta: { role: 'assistant', content: 'x' }, finish_reason: 'tool_calls', logprobs: { content: [], refusal: null } });
  });

  it('returns null for a chunk with neither choices nor usage', () => {
    expect(normalizeOpenAIChunk(chunk({ choices: [] }), createOpenAIStreamState('m', 'id', now))).toBeNull();
    expect(normalizeOpenAIChunk(chunk({ choices: null }), createOpenAIStreamState('m', 'id', now))).toBeNull();
  });
});

describe('detachUsage and usageChunk', () => {
  const state = createOpenAIStreamState('m', 'chatcmpl-1', now);
  const usage = { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 };

  it('splits usage off a finishing chunk and drops a usage-only chunk', () => {
    const finishing = normalizeOpenAIChunk(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage }), state)!;
    const detached = detachUsage(finishing);
    expect(detached.usage).toEqual(usage);
    expect(detached.chunk).not.toHaveProperty('usage');
    expect(detached.chunk!.choices[0]!.finish_reason).toBe('stop');

    const usageOnly = normalizeOpenAIChunk(chunk({ choices: [], usage }), state)!;
    expect(detachUsage(usageOnly)).toEqual({ chunk: null, usage });

    const plain = normalizeOpenAIChunk(chunk({ choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }] }), state)!;
    expect(detachUsage(plain)).toEqual({ chunk: plain, usage: undefined });
  });

  it('builds the closing usage chunk in OpenAI’s shape', () => {
    expect(usageChunk(state, usage, 'fp_1')).toEqual({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1771000000, model: 'm', choices: [], usage, system_fingerprint: 'fp_1' });
    expect(usageChunk(state, usage)).not.toHaveProperty('system_fingerprint');
  });
});

describe('normalizeUsage', () => {
  it('fills a missing total and drops timing fields', () => {
    expect(normalizeUsage({ prompt_tokens: 5, completion_tokens: 2, queue_time: 0.2 } as never)).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
    expect(normalizeUsage(null)).toBeUndefined();
    expect(normalizeUsage(undefined)).toBeUndefined();
  });

  it('counts xAI’s reasoning tokens inside completion tokens, as OpenAI does', () => {
    const usage = normalizeUsage({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 335, completion_tokens_details: { reasoning_tokens: 320 } })!;
    expect(usage.completion_tokens).toBe(325);
    expect(usage.prompt_tokens + usage.completion_tokens).toBe(usage.total_tokens);
    // OpenAI already counts them inside: nothing is added twice.
    expect(normalizeUsage({ prompt_tokens: 10, completion_tokens: 325, total_tokens: 335, completion_tokens_details: { reasoning_tokens: 320 } })!.completion_tokens).toBe(325);
  });

  it('moves DeepSeek’s and Moonshot’s cached-token counts to prompt_tokens_details', () => {
    expect(normalizeUsage({ prompt_tokens: 100, completion_tokens: 1, total_tokens: 101, prompt_cache_hit_tokens: 64, prompt_cache_miss_tokens: 36 } as never)!.prompt_tokens_details).toEqual({ cached_tokens: 64 });
    expect(normalizeUsage({ prompt_tokens: 100, completion_tokens: 1, total_tokens: 101, cached_tokens: 32 } as never)!.prompt_tokens_details).toEqual({ cached_tokens: 32 });
    expect(normalizeUsage({ prompt_tokens: 100, completion_tokens: 1, total_tokens: 101, prompt_tokens_details: { cached_tokens: 16 }, cached_tokens: 32 } as never)!.prompt_tokens_details).toEqual({ cached_tokens: 16 });
  });
});

describe('normalizeOpenAIResponse', () => {
  it('keeps an OpenAI answer as it is', () => {
    const raw = fixtureJson<OpenAIWireResponse>('chat-text.json');
    const normalized = normalizeOpenAIResponse(raw, 'gpt-4.1-nano', 'chatcmpl-fallback', now);
    expect(normalized).toEqual(raw);
    if (validators) expect(validators.response(normalized)).toEqual([]);
  });

  it('keeps parallel tool calls with null content', () => {
    const raw = fixtureJson<OpenAIWireResponse>('chat-tool-calls.json');
    const normalized = normalizeOpenAIResponse(raw, 'gpt-4.1-mini', 'chatcmpl-fallback', now);
    expect(normalized.choices[0]!.message.content).toBeNull();
    expect(normalized.choices[0]!.message.tool_calls).toEqual(raw.choices[0]!.message.tool_calls);
    expect(normalized.choices[0]!.finish_reason).toBe('tool_calls');
    expect(normalized.usage!.prompt_tokens_details).toEqual({ cached_tokens: 64, audio_tokens: 0 });
    if (validators) expect(validators.response(normalized)).toEqual([]);
  });

  it('fills what a sparse compatible server leaves out', () => {
    const normalized = normalizeOpenAIResponse(
      {
        id: '',
        model: '',
        system_fingerprint: null,
        service_tier: 'on_demand',
        choices: [{ message: { role: 'assistant', tool_calls: [{ function: { name: 'lookup', arguments: null } }] } }],
      } as OpenAIWireResponse,
      'qwen3-max',
      'chatcmpl-fallback',
      now,
    );
    expect(normalized).toEqual({
      id: 'chatcmpl-fallback',
      object: 'chat.completion',
      created: nowSeconds,
      model: 'qwen3-max',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_chatcmpl-fallback_0', type: 'function', function: { name: 'lookup', arguments: '' } }] },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
    });
    if (validators) expect(validators.response(normalized)).toEqual([]);
  });

  it('turns reasoning under any name, and Mistral’s content parts, into content and reasoning_content', () => {
    const normalized = normalizeOpenAIResponse(
      {
        id: 'x',
        created: 1,
        model: 'magistral-medium',
        choices: [
          { index: 0, message: { role: 'assistant', content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'hmm' }] }, { type: 'text', text: '42' }] }, finish_reason: 'stop' },
          { index: 1, message: { role: 'assistant', content: '43', reasoning: 'Groq style' }, finish_reason: 'length' },
          { index: 2, message: { role: 'assistant', content: '44', reasoning_content: null }, finish_reason: 'model_length' },
        ],
      } as OpenAIWireResponse,
      'm',
      'f',
      now,
    );
    expect(normalized.choices.map((choice) => choice.message)).toEqual([
      { role: 'assistant', content: '42', refusal: null, reasoning_content: 'hmm' },
      { role: 'assistant', content: '43', refusal: null, reasoning_content: 'Groq style' },
      { role: 'assistant', content: '44', refusal: null },
    ]);
    expect(normalized.choices.map((choice) => choice.finish_reason)).toEqual(['stop', 'length', 'length']);
  });
});
