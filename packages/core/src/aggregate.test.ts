import { describe, expect, it } from 'vitest';
import { chunk, usageChunk } from './__fixtures__/fakes.js';
import { ChunkAggregator, responseToChunks } from './aggregate.js';
import type { ChatCompletion, ChatCompletionChunk } from './wire/openai-types.js';

function aggregate(chunks: readonly ChatCompletionChunk[]): ChatCompletion {
  const aggregator = new ChunkAggregator();
  for (const item of chunks) aggregator.add(item);
  return aggregator.result();
}

describe('ChunkAggregator', () => {
  it('joins content and reasoning and keeps the finish reason, usage and fingerprint', () => {
    const aggregator = new ChunkAggregator();
    const usage = { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42, completion_tokens_details: { reasoning_tokens: 20 } };
    const chunks: ChatCompletionChunk[] = [
      { ...chunk({ role: 'assistant', content: '' }), system_fingerprint: 'fp_1' },
      chunk({ reasoning_content: 'Think' }),
      chunk({ reasoning_content: 'ing.' }),
      chunk({ content: 'Hello' }),
      chunk({ content: ', world' }),
      chunk({}, 'stop'),
      usageChunk(usage),
    ];
    for (const item of chunks) aggregator.add(item);
    expect(aggregator.hasFinishReason()).toBe(true);
    expect(aggregator.chunkCount).toBe(7);
    expect(aggregator.usage).toEqual(usage);
    expect(aggregator.result()).toEqual({
      id: 'chatcmpl-test',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'test-model',
      system_fingerprint: 'fp_1',
      usage,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello, world', refusal: null, reasoning_content: 'Thinking.' },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
    });
  });

  it('assembles parallel tool calls from interleaved fragments by index', () => {
    const result = aggregate([
      chunk({ role: 'assistant', content: null }),
      chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: '{"zone":"UTC"}' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    const choice = result.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toEqual([
      { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"zone":"UTC"}' } },
    ]);
  });

  it('orders tool calls by index even when a higher index arrives first', () => {
    const result = aggregate([
      chunk({ tool_calls: [{ index: 1, id: 'call_b', function: { name: 'second', arguments: '{}' } }] }),
      chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'first', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    expect(result.choices[0]!.message.tool_calls!.map((call) => call.id)).toEqual(['call_a', 'call_b']);
  });

  it('keeps several choices apart and sorts them by index', () => {
    const result = aggregate([
      chunk({ content: 'B' }, null, { index: 1 }),
      chunk({ content: 'A' }, null, { index: 0 }),
      chunk({ content: 'b' }, 'length', { index: 1 }),
      chunk({ content: 'a' }, 'stop', { index: 0 }),
    ]);
    expect(result.choices.map((choice) => [choice.index, choice.message.content, choice.finish_reason])).toEqual([
      [0, 'Aa', 'stop'],
      [1, 'Bb', 'length'],
    ]);
  });

  it('reports a stream without a finish reason as unfinished', () => {
    const aggregator = new ChunkAggregator();
    aggregator.add(chunk({ content: 'cut' }));
    expect(aggregator.hasFinishReason()).toBe(false);
    expect(aggregator.result().choices[0]!.finish_reason).toBeNull();
  });

  it('joins refusals', () => {
    const result = aggregate([chunk({ refusal: "I can't " }), chunk({ refusal: 'help with that.' }, 'stop')]);
    expect(result.choices[0]!.message).toMatchObject({ content: null, refusal: "I can't help with that." });
  });
});

describe('responseToChunks', () => {
  const response: ChatCompletion = {
    id: 'chatcmpl-round',
    object: 'chat.completion',
    created: 1_700_000_123,
    model: 'model-x',
    system_fingerprint: 'fp_9',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Let me check.', refusal: null, reasoning_content: 'The user wants weather.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          ] },
        finish_reason: 'tool_calls',
        logprobs: null,
      },
      { index: 1, message: { role: 'assistant', content: null, refusal: 'No.' }, finish_reason: 'stop', logprobs: null },
    ],
    usage: { prompt_tokens: 20, completion_tokens: 15, total_tokens: 35 },
  };

  it('streams a response that aggregates back to the same response', () => {
    const chunks = responseToChunks(response);
    expect(chunks.every((item) => item.object === 'chat.completion.chunk' && item.id === 'chatcmpl-round')).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: response.usage });
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    // The refusal-only choice opens with null content, so it aggregates back to null, not ''.
    expect(chunks.find((item) => item.choices[0]?.index === 1)!.choices[0]!.delta).toEqual({ role: 'assistant', content: null });
    expect(aggregate(chunks)).toEqual(response);
  });

  it('round-trips the other way: chunks aggregated, streamed again, aggregated again', () => {
    const original = [
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'one ' }),
      chunk({ content: 'two' }),
      chunk({}, 'length'),
      usageChunk(),
    ];
    const once = aggregate(original);
    expect(aggregate(responseToChunks(once))).toEqual(once);
    expect(once.choices[0]!.message.content).toBe('one two');
  });

  it('keeps an empty answer empty rather than null', () => {
    const empty = aggregate([chunk({ role: 'assistant', content: '' }), chunk({}, 'length')]);
    expect(empty.choices[0]!.message.content).toBe('');
    expect(aggregate(responseToChunks(empty))).toEqual(empty);
  });

  it('ends every choice with a finish reason, defaulting to stop', () => {
    const chunks = responseToChunks({ ...response, choices: [{ ...response.choices[1]!, finish_reason: null }], usage: undefined });
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.some((item) => item.usage)).toBe(false);
  });
});
