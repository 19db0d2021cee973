import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainChatCompletionRequest } from './request-check.js';
import { chatCompletionRequestSchema, parseChatCompletionRequest } from './schemas.js';

/** What the fast path accepts, zod accepts too, and zod's copy equals the value the fast path hands back. */
function expectAgreement(value: unknown): boolean {
  if (!isPlainChatCompletionRequest(value)) return false;
  const parsed = chatCompletionRequestSchema.safeParse(value);
  expect(parsed.success, JSON.stringify(value)).toBe(true);
  expect(parsed.data, JSON.stringify(value)).toEqual(value);
  return true;
}

// Mostly what a client sends, now and then a value of another kind or just past a limit.
const odd = fc.constantFrom<unknown>(null, '', 'x', 0, -1, 0.5, 3, 129, 2 ** 53, -2.5, true, false, [], ['a'], {}, { a: 1 });
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid as fc.Arbitrary<unknown>, weight: 40 }, { arbitrary: odd, weight: 1 });
const maybe = (arbitrary: fc.Arbitrary<unknown>) => fc.option(arbitrary, { nil: undefined });

const textPart = fc.record({ type: mostly(fc.constant('text')), text: mostly(fc.string({ maxLength: 5 })) }, { requiredKeys: [] });
const imagePart = fc.record(
  {
    type: mostly(fc.constant('image_url')),
    image_url: mostly(fc.record({ url: mostly(fc.constantFrom('https://x/y.png', '')), detail: maybe(mostly(fc.constantFrom('auto', 'low', 'high', 'max'))) }, { requiredKeys: [] })),
  },
  { requiredKeys: [] },
);
const otherPart = fc.constantFrom<unknown>({ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }, { type: 'refusal', refusal: 'no' }, { type: 'file', file: {} });
const parts = fc.array(fc.oneof({ arbitrary: textPart, weight: 4 }, { arbitrary: imagePart, weight: 2 }, { arbitrary: otherPart, weight: 1 }), { maxLength: 3 });
const content = mostly(fc.oneof({ arbitrary: fc.string({ maxLength: 8 }), weight: 6 }, { arbitrary: parts, weight: 3 }, { arbitrary: fc.constant(null), weight: 1 }));
const toolCall = fc.record(
  { id: mostly(fc.constant('call_1')), type: mostly(fc.constant('function')), function: mostly(fc.record({ name: mostly(fc.constant('f')), arguments: mostly(fc.constant('{}')) }, { requiredKeys: [] })) },
  { requiredKeys: [] },
);
const message = fc.record(
  {
    role: mostly(fc.constantFrom('system', 'developer', 'user', 'user', 'user', 'assistant', 'tool', 'function', 'robot')),
    content: maybe(content),
    name: maybe(mostly(fc.string({ maxLength: 4 }))),
    refusal: maybe(mostly(fc.oneof(fc.string({ maxLength: 4 }), fc.constant(null)))),
    tool_calls: maybe(mostly(fc.array(toolCall, { maxLength: 2 }))),
    tool_call_id: maybe(mostly(fc.constant('call_1'))),
    reasoning_content: maybe(mostly(fc.oneof(fc.string({ maxLength: 4 }), fc.constant(null)))),
    extra: maybe(odd),
  },
  { requiredKeys: [] },
);
const number = (minimum: number, maximum: number) =>
  mostly(
    fc.oneof(
      { arbitrary: fc.double({ min: minimum, max: maximum, noNaN: true }), weight: 6 },
      { arbitrary: fc.integer({ min: Math.ceil(minimum), max: Math.floor(maximum) }), weight: 6 },
      { arbitrary: fc.constantFrom(minimum - 1, maximum + 1, minimum - 1e-9, maximum + 1e-9), weight: 1 },
      { arbitrary: fc.constant(null), weight: 1 },
    ),
  );
const integer = (minimum: number, maximum: number) =>
  mostly(
    fc.oneof(
      { arbitrary: fc.integer({ min: minimum, max: maximum }), weight: 12 },
      { arbitrary: fc.constantFrom(minimum - 1, maximum + 1, minimum + 0.5), weight: 1 },
      { arbitrary: fc.constant(null), weight: 1 },
    ),
  );
const request = fc.record(
  {
    model: mostly(fc.constantFrom('openai/gpt-4o', 'm', '')),
    messages: mostly(fc.array(message, { minLength: 1, maxLength: 3 })),
    stream: maybe(mostly(fc.boolean())),
    stream_options: maybe(mostly(fc.record({ include_usage: maybe(mostly(fc.boolean())) }, { requiredKeys: [] }))),
    temperature: maybe(number(0, 2)),
    top_p: maybe(number(0, 1)),
    n: maybe(integer(1, 128)),
    max_tokens: maybe(integer(1, 5000)),
    max_completion_tokens: maybe(integer(1, 5000)),
    stop: maybe(mostly(fc.oneof(fc.string({ maxLength: 3 }), fc.array(fc.string({ maxLength: 3 }), { maxLength: 5 })))),
    presence_penalty: maybe(number(-2, 2)),
    frequency_penalty: maybe(number(-2, 2)),
    logprobs: maybe(mostly(fc.boolean())),
    top_logprobs: maybe(integer(0, 20)),
    parallel_tool_calls: maybe(mostly(fc.boolean())),
    seed: maybe(mostly(fc.oneof({ arbitrary: fc.integer(), weight: 10 }, { arbitrary: fc.constantFrom(2 ** 53, -(2 ** 53), 1.5), weight: 1 }))),
    user: maybe(mostly(fc.string({ maxLength: 4 }))),
    reasoning_effort: maybe(mostly(fc.constantFrom('low', 'high', 'xhigh', 'extreme'))),
    service_tier: maybe(mostly(fc.constantFrom('auto', 'flex'))),
    tools: maybe(fc.constant([{ type: 'function', function: { name: 'f' } }])),
    a_future_parameter: maybe(odd),
  },
  { requiredKeys: [] },
);

describe('isPlainChatCompletionRequest', () => {
  it('accepts nothing the schema refuses and means the same value, over generated requests', () => {
    let plain = 0;
    fc.assert(
      fc.property(request, (generated) => {
        // Through JSON, as the gateway gets it.
        if (expectAgreement(JSON.parse(JSON.stringify(generated)))) plain++;
      }),
      { numRuns: 20_000 },
    );
    // It has to take ordinary requests, or it saves nothing.
    expect(plain).toBeGreaterThan(80);
  });

  it('takes ordinary requests, with image parts, tool calls and tool results', () => {
    const ordinary = [
      { model: 'openai/gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], max_tokens: 64, temperature: 0.2 },
      { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA', detail: 'low' } }] }], stream: true, stream_options: { include_usage: true } },
      {
        model: 'm',
        messages: [
          { role: 'user', content: 'Weather?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
        ],
        parallel_tool_calls: true,
        a_future_parameter: { nested: true },
      },
    ];
    for (const value of ordinary) expect(expectAgreement(value), JSON.stringify(value)).toBe(true);
  });

  it('leaves edges and unknown kinds to the schema', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'Hi' }] };
    const leftToSchema = [
      { ...base, seed: 2 ** 53 },
      { ...base, temperature: 2.0000001 },
      { ...base, n: 129 },
      { ...base, user: null },
      { ...base, parallel_tool_calls: null },
      { ...base, tools: [] },
      { ...base, messages: [{ role: 'function', name: 'f', content: null }] },
      { ...base, messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }] },
      JSON.parse('{"model":"m","messages":[{"role":"user","content":"Hi","__proto__":{"x":1}}]}'),
      JSON.parse('{"__proto__":{"x":1},"model":"m","messages":[{"role":"user","content":"Hi"}]}'),
    ];
    for (const value of leftToSchema) expect(isPlainChatCompletionRequest(value), JSON.stringify(value)).toBe(false);
  });

  it('treats fields named like Object.prototype members as the unknown fields they are', () => {
    const value = { model: 'm', messages: [{ role: 'user', content: 'Hi' }], constructor: 1, hasOwnProperty: 'x', toString: null };
    expect(expectAgreement(value)).toBe(true);
    expect(parseChatCompletionRequest(value)).toBe(value);
  });
});
