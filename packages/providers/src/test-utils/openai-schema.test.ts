import { describe, expect, it } from 'vitest';
import { loadOpenAISchemaValidators, sharedFixturesDir } from './openai-schema.js';

describe.runIf(sharedFixturesDir)('official OpenAI schema validators', () => {
  const validators = loadOpenAISchemaValidators()!;
  it('accept a valid chunk and reject a chunk without finish_reason', () => {
    const chunk = { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'a' }, finish_reason: null }] };
    expect(validators.chunk(chunk)).toEqual([]);
    const broken = { ...chunk, choices: [{ index: 0, delta: { content: 'a' } }] };
    expect(validators.chunk(broken).join()).toContain('finish_reason');
  });
});
