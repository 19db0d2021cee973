import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { completionTexts, maxOutputTokens, nonTextPartTokens, promptTexts, promptTokensUpperBound, WorkerTokenCounter } from './estimate.js';

const texts = [
  'What is the capital of France?',
  '東京は日本の首都です。京都は古い都です。',
  '🙂🚀🌍 emoji everywhere 👩‍👩‍👧‍👦',
  'a3f9c1e8b7d24f6a9c0e1b2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2',
  'function add(a, b) { return a + b; } // code',
];

describe('admission estimates', () => {
  it('bound the prompt tokens from above for every kind of text', () => {
    for (const text of texts) {
      const bound = promptTokensUpperBound({ model: 'm', messages: [{ role: 'user', content: text }] });
      expect(bound).toBeGreaterThanOrEqual(countTokens(text) + 4);
    }
    const withImage = promptTokensUpperBound({
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'describe' }, { type: 'image_url', image_url: { url: 'https://example.invalid/cat.png' } }] }],
    });
    expect(withImage).toBeGreaterThanOrEqual(nonTextPartTokens + 8);
    expect(promptTokensUpperBound({ model: 'e', input: ['hello', 'world'] })).toBe(10);
    expect(promptTokensUpperBound({ model: 'e', input: [[1, 2, 3], [4]] as unknown as string[] })).toBe(4);
  });

  it('take the output limit from the request, capped by the model, times the number of choices', () => {
    expect(maxOutputTokens({ model: 'm', messages: [], max_tokens: 100 }, 16_384, 4096)).toBe(100);
    expect(maxOutputTokens({ model: 'm', messages: [], max_completion_tokens: 50_000 }, 16_384, 4096)).toBe(16_384);
    expect(maxOutputTokens({ model: 'm', messages: [], n: 3, max_tokens: 10 }, undefined, 4096)).toBe(30);
    expect(maxOutputTokens({ model: 'm', messages: [] }, undefined, 4096)).toBe(4096);
    expect(maxOutputTokens({ model: 'm', messages: [] }, 8192, 4096)).toBe(8192);
  });

  it('collect the texts to count when a provider reports no usage', () => {
    expect(promptTexts({ model: 'm', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] })).toEqual({ texts: ['Be brief.', 'Hi'], extraTokens: 11 });
    expect(
      completionTexts({
        id: 'c',
        object: 'chat.completion',
        created: 0,
        model: 'm',
        choices: [
          {
            index: 0,
            finish_reason: 'tool_calls',
            logprobs: null,
            message: { role: 'assistant', content: 'Calling.', refusal: null, reasoning_content: 'Think.', tool_calls: [{ id: 't', type: 'function', function: { name: 'lookup', arguments: '{"q":1}' } }] } as never,
          },
        ],
      }),
    ).toEqual({ texts: ['Calling.', 'lookup', '{"q":1}'], reasoningTexts: ['Think.'] });
  });

  it('count tokens in a worker thread exactly as the tokenizer does', async () => {
    const counter = new WorkerTokenCounter();
    try {
      expect(await counter.count(texts)).toEqual(texts.map((text) => countTokens(text)));
      expect(await counter.count([])).toEqual([]);
    } finally {
      await counter.close();
    }
  });
});
