import { describe, expect, it } from 'vitest';
import { mapOpenAIFinishReason } from './map-openai-finish-reason.js';

describe('mapOpenAIFinishReason', () => {
  it.each([
    ['stop', 'stop'],
    ['length', 'length'],
    ['tool_calls', 'tool_calls'],
    ['content_filter', 'content_filter'],
    ['function_call', 'function_call'],
  ])('keeps OpenAI’s own reason %s', (reason, expected) => {
    expect(mapOpenAIFinishReason(reason)).toBe(expected);
  });

  it.each([
    // Mistral says `tool_call`, some vLLM builds `max_tokens`; Mistral `model_length`; DeepSeek runs out of capacity.
    ['tool_call', 'tool_calls'],
    ['max_tokens', 'length'],
    ['model_length', 'length'],
    ['insufficient_system_resource', 'length'],
  ])('translates the compatible servers’ %s to %s', (reason, expected) => {
    expect(mapOpenAIFinishReason(reason)).toBe(expected);
  });

  it('reads an unfinished choice (null, missing, empty) as null', () => {
    expect(mapOpenAIFinishReason(null)).toBeNull();
    expect(mapOpenAIFinishReason(undefined)).toBeNull();
    expect(mapOpenAIFinishReason('')).toBeNull();
  });

  it('treats a reason it does not know as a finished answer', () => {
    expect(mapOpenAIFinishReason('eos')).toBe('stop');
    expect(mapOpenAIFinishReason('end_turn')).toBe('stop');
  });
});
