import type { ChatCompletionRequest } from '@switchyard/core';
import { GatewayError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { convertToTextGenRequest, nextUserTurn, renderPrompt } from '../src/convert-request.js';

function request(overrides: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest {
  return { model: 'textgen/tg-small', messages: [{ role: 'user', content: 'Hi' }], ...overrides };
}

function refusal(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    if (GatewayError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected the conversion to refuse the request');
}

describe('renderPrompt', () => {
  it('renders a conversation as a transcript ending with an open assistant turn', () => {
    const prompt = renderPrompt([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is a switchyard?' },
      { role: 'assistant', content: 'A rail yard.' },
      { role: 'user', content: [{ type: 'text', text: 'And ' }, { type: 'text', text: 'a gateway?' }] },
    ]);
    expect(prompt).toBe('Be brief.\n\nUser: What is a switchyard?\n\nAssistant: A rail yard.\n\nUser: And a gateway?\n\nAssistant:');
  });

  it('labels instructions given after the conversation started', () => {
    const prompt = renderPrompt([
      { role: 'user', content: 'Hello' },
      { role: 'developer', content: 'Answer in French.' },
    ]);
    expect(prompt).toBe('User: Hello\n\nSystem: Answer in French.\n\nAssistant:');
  });

  it('leaves a final assistant message open so the model continues it', () => {
    const prompt = renderPrompt([
      { role: 'user', content: 'Count to three.' },
      { role: 'assistant', content: 'One, two,' },
    ]);
    expect(prompt).toBe('User: Count to three.\n\nAssistant: One, two,');
  });

  it('refuses images with the path of the offending part', () => {
    const error = refusal(() =>
      renderPrompt([{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }]),
    );
    expect(error).toMatchObject({ status: 400, type: 'invalid_request_error', param: 'messages[0].content[1].type', code: 'unsupported_content' });
  });

  it('refuses tool results and assistant tool calls', () => {
    expect(refusal(() => renderPrompt([{ role: 'tool', tool_call_id: 'call_1', content: '42' }]))).toMatchObject({ status: 400, param: 'messages[0].role' });
    const withCall = refusal(() =>
      renderPrompt([
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
      ]),
    );
    expect(withCall).toMatchObject({ status: 400, param: 'messages[1].tool_calls' });
  });
});

describe('convertToTextGenRequest', () => {
  it('maps sampling parameters and the token budget', () => {
    const body = convertToTextGenRequest('tg-small', request({ max_tokens: 64, temperature: 0.2, top_p: 0.9, seed: 7, stream: true }));
    expect(body).toEqual({
      model: 'tg-small',
      prompt: 'User: Hi\n\nAssistant:',
      max_new_tokens: 64,
      temperature: 0.2,
      top_p: 0.9,
      seed: 7,
      stop: [nextUserTurn],
      stream: true,
    });
  });

  it('prefers max_completion_tokens over the deprecated max_tokens', () => {
    expect(convertToTextGenRequest('tg-small', request({ max_tokens: 10, max_completion_tokens: 20 })).max_new_tokens).toBe(20);
  });

  it('leaves out parameters the client left null, and streams only when asked', () => {
    const body = convertToTextGenRequest('tg-small', request({ temperature: null, max_tokens: null, stream: null }));
    expect(body).toEqual({ model: 'tg-small', prompt: 'User: Hi\n\nAssistant:', stop: [nextUserTurn], stream: false });
  });

  it("adds the client's stop sequences to the turn stop, without duplicates", () => {
    expect(convertToTextGenRequest('tg-small', request({ stop: 'END' })).stop).toEqual(['END', nextUserTurn]);
    expect(convertToTextGenRequest('tg-small', request({ stop: ['a', nextUserTurn, 'a'] })).stop).toEqual(['a', nextUserTurn]);
  });

  it('refuses what the API cannot do, naming the parameter', () => {
    const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object' } } }];
    expect(refusal(() => convertToTextGenRequest('tg-small', request({ tools })))).toMatchObject({ status: 400, param: 'tools', code: 'unsupported_parameter' });
    expect(refusal(() => convertToTextGenRequest('tg-small', request({ n: 2 })))).toMatchObject({ status: 400, param: 'n' });
    expect(refusal(() => convertToTextGenRequest('tg-small', request({ response_format: { type: 'json_object' } })))).toMatchObject({ status: 400, param: 'response_format' });
    expect(refusal(() => convertToTextGenRequest('tg-small', request({ logprobs: true })))).toMatchObject({ status: 400, param: 'logprobs' });
  });

  it('accepts what changes nothing: tools the model may not call, one choice, text output', () => {
    const tools = [{ type: 'function' as const, function: { name: 'weather' } }];
    const body = convertToTextGenRequest('tg-small', request({ tools, tool_choice: 'none', n: 1, response_format: { type: 'text' }, logprobs: false }));
    expect(body.prompt).toBe('User: Hi\n\nAssistant:');
  });
});
