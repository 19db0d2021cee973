import type { ChatCompletionRequest } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { convertToOpenAIRequest } from './convert-to-openai-request.js';

const toolRequest: ChatCompletionRequest = {
  model: 'openai/gpt-4.1-mini',
  messages: [
    { role: 'developer', content: 'Answer with tools when you can.' },
    { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Tokyo?' }] },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
  ],
  tools: [
    {
      type: 'function',
      function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true },
    },
  ],
  tool_choice: 'auto',
  parallel_tool_calls: true,
  temperature: 0.2,
  max_completion_tokens: 256,
  response_format: { type: 'json_object' },
  seed: 7,
  user: 'user-42',
};

describe('convertToOpenAIRequest', () => {
  it('sends the request as the client wrote it, with the provider’s model id', () => {
    const body = convertToOpenAIRequest('gpt-4.1-mini', toolRequest, { streamUsage: true });
    expect(body).toEqual({ ...toolRequest, model: 'gpt-4.1-mini' });
    // The exact bytes that go upstream: field order kept, model replaced in place.
    expect(JSON.stringify(body)).toBe(JSON.stringify(toolRequest).replace('"openai/gpt-4.1-mini"', '"gpt-4.1-mini"'));
  });

  it('does not change the client’s request object', () => {
    const request: ChatCompletionRequest = { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: false } };
    const copy = structuredClone(request);
    convertToOpenAIRequest('gpt-4o', request, { streamUsage: true });
    expect(request).toEqual(copy);
  });

  it('passes fields it does not know through untouched', () => {
    const request = {
      model: 'openai/gpt-4o',
      messages: [{ role: 'user', content: 'hi', cache_hint: 'long' }],
      store: true,
      metadata: { team: 'search' },
      prediction: { type: 'content', content: 'draft' },
      web_search_options: { search_context_size: 'low' },
      a_future_parameter: { nested: [1, { deep: null }] },
    } as unknown as ChatCompletionRequest;
    const body = convertToOpenAIRequest('gpt-4o', request, { streamUsage: true });
    expect(body).toEqual({ ...request, model: 'gpt-4o' });
    expect(body).not.toHaveProperty('stream_options');
  });

  it('asks for the usage chunk on every stream, keeping the client’s other stream options', () => {
    const notAsked = convertToOpenAIRequest('gpt-4o', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true }, { streamUsage: true });
    expect(notAsked.stream_options).toEqual({ include_usage: true });

    const refused = convertToOpenAIRequest(
      'gpt-4o',
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: false, include_obfuscation: false } },
      { streamUsage: true },
    );
    expect(refused.stream_options).toEqual({ include_usage: true, include_obfuscation: false });

    const nullOptions = convertToOpenAIRequest('gpt-4o', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: null }, { streamUsage: true });
    expect(nullOptions.stream_options).toEqual({ include_usage: true });
  });

  it('leaves stream options as sent when usage on streams is turned off or the request is not a stream', () => {
    const streamed: ChatCompletionRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: false } };
    expect(convertToOpenAIRequest('m', streamed, { streamUsage: false })).toEqual({ ...streamed });
    const plain: ChatCompletionRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: false };
    expect(convertToOpenAIRequest('m', plain, { streamUsage: true })).toEqual(plain);
    expect(convertToOpenAIRequest('m', { model: 'm', messages: [] }, { streamUsage: true })).not.toHaveProperty('stream_options');
  });
});
