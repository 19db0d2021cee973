import { GatewayError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import {
  convertTextGenResponse,
  convertTextGenStreamEvent,
  createTextGenStreamState,
  mapTextGenStopReason,
} from '../src/convert-response.js';
import { textGenStreamEventSchema } from '../src/textgen-api.js';

const now = Date.UTC(2025, 0, 2, 3, 4, 5);

describe('mapTextGenStopReason', () => {
  it('reports a spent budget as length and every other reason as stop', () => {
    expect(mapTextGenStopReason('max_tokens')).toBe('length');
    expect(mapTextGenStopReason('eos')).toBe('stop');
    expect(mapTextGenStopReason('stop_sequence')).toBe('stop');
    expect(mapTextGenStopReason('a_reason_added_later')).toBe('stop');
    expect(mapTextGenStopReason(undefined)).toBe('stop');
  });
});

describe('convertTextGenResponse', () => {
  it('turns a generation into a chat completion with usage', () => {
    const completion = convertTextGenResponse(
      { id: 'gen_123', model: 'tg-small-0425', text: 'A rail yard.', tokens_in: 12, tokens_out: 4, stop_reason: 'eos', created_at: '2025-01-01T00:00:00Z' },
      'tg-small',
      'chatcmpl-fallback',
      now,
    );
    expect(completion).toEqual({
      id: 'chatcmpl-gen_123',
      object: 'chat.completion',
      created: Date.UTC(2025, 0, 1) / 1000,
      model: 'tg-small-0425',
      choices: [{ index: 0, message: { role: 'assistant', content: 'A rail yard.', refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 },
    });
  });

  it('fills what the server left out: id, model and time', () => {
    const completion = convertTextGenResponse({ text: 'Cut', tokens_in: 3, tokens_out: 1, stop_reason: 'max_tokens' }, 'tg-small', 'chatcmpl-fallback', now);
    expect(completion).toMatchObject({ id: 'chatcmpl-fallback', model: 'tg-small', created: Math.floor(now / 1000) });
    expect(completion.choices[0]!.finish_reason).toBe('length');
  });
});

describe('convertTextGenStreamEvent', () => {
  it('opens with the role chunk, streams tokens and ends with finish and usage chunks', () => {
    const state = createTextGenStreamState('tg-small', 'chatcmpl-s1', now);
    const events = ['{"event":"token","text":"Hel"}', '{"event":"token","text":"lo"}', '{"event":"done","stop_reason":"eos","tokens_in":5,"tokens_out":2}'];
    const chunks = events.flatMap((line) => convertTextGenStreamEvent(textGenStreamEventSchema.parse(JSON.parse(line)), state, 'textgen'));
    expect(chunks.map((chunk) => chunk.choices[0]?.delta ?? chunk.usage)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hel' },
      { content: 'lo' },
      {},
      { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    ]);
    expect(chunks[3]!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks[4]!.choices).toEqual([]);
    for (const chunk of chunks) expect(chunk).toMatchObject({ id: 'chatcmpl-s1', object: 'chat.completion.chunk', model: 'tg-small', created: Math.floor(now / 1000) });
    expect(state.done).toBe(true);
  });

  it('still opens with the role chunk when the answer is empty', () => {
    const state = createTextGenStreamState('tg-small', 'chatcmpl-s2', now);
    const chunks = convertTextGenStreamEvent({ event: 'done', stop_reason: 'max_tokens', tokens_in: 4, tokens_out: 0 }, state, 'textgen');
    expect(chunks.map((chunk) => (chunk.choices.length === 0 ? 'usage' : chunk.choices[0]!.finish_reason))).toEqual([null, 'length', 'usage']);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
  });

  it('throws an error event as a retryable gateway error', () => {
    const state = createTextGenStreamState('tg-small', 'chatcmpl-s3', now);
    let thrown: unknown;
    try {
      convertTextGenStreamEvent({ event: 'error', message: 'GPU pool exhausted', error_type: 'overloaded' }, state, 'textgen');
    } catch (error) {
      thrown = error;
    }
    expect(GatewayError.isInstance(thrown)).toBe(true);
    expect(thrown).toMatchObject({ message: 'GPU pool exhausted', status: 503, type: 'service_unavailable', code: 'overloaded', isRetryable: true, provider: 'textgen' });
  });
});
