import { type ChatCompletionRequest, GatewayError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { convertAnthropicResponse } from './convert-anthropic-stream.js';
import {
  convertToAnthropicMessages,
  convertToAnthropicRequest,
  defaultAnthropicMaxTokens,
  jsonObjectInstruction,
  thinkingBudgetForEffort,
} from './convert-to-anthropic-messages.js';
import { anthropicMessageSchema } from './anthropic-api.js';
import { readFixture } from './__fixtures__/anthropic-wire.js';

const model = 'claude-sonnet-4-5';

function request(overrides: Partial<ChatCompletionRequest>): ChatCompletionRequest {
  return { model: `anthropic/${model}`, messages: [{ role: 'user', content: 'Hello' }], ...overrides };
}

function invalid(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    expect(GatewayError.isInstance(error)).toBe(true);
    const gatewayError = error as GatewayError;
    expect(gatewayError.status).toBe(400);
    expect(gatewayError.type).toBe('invalid_request_error');
    return gatewayError;
  }
  throw new Error('expected a GatewayError');
}

describe('convertToAnthropicRequest', () => {
  it('sends the model id, the default max_tokens and plain user text', () => {
    expect(convertToAnthropicRequest(model, request({}))).toEqual({
      model,
      max_tokens: defaultAnthropicMaxTokens,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
    });
  });

  it('moves every system and developer message to `system`, in order', () => {
    const body = convertToAnthropicRequest(
      model,
      request({
        messages: [
          { role: 'system', content: 'You route trains.' },
          { role: 'user', content: 'Hi' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer briefly.' }, { type: 'text', text: '' }] },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'Which track?' },
        ],
      }),
    );
    expect(body.system).toEqual([
      { type: 'text', text: 'You route trains.' },
      { type: 'text', text: 'Answer briefly.' },
    ]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Hello.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Which track?' }] },
    ]);
  });

  it('maps sampling, stop sequences, max_completion_tokens over max_tokens, and user to metadata', () => {
    const body = convertToAnthropicRequest(
      model,
      request({ temperature: 0.3, top_p: 0.9, top_k: 40, stop: ['END', ''], max_tokens: 50, max_completion_tokens: 200, user: 'user-42', stream: true }),
    );
    expect(body).toMatchObject({ temperature: 0.3, top_p: 0.9, top_k: 40, stop_sequences: ['END'], max_tokens: 200, metadata: { user_id: 'user-42' }, stream: true });
    expect(convertToAnthropicRequest(model, request({ stop: 'STOP', max_tokens: 77 }))).toMatchObject({ stop_sequences: ['STOP'], max_tokens: 77 });
  });

  it('caps temperature at Anthropic’s maximum of 1 and drops OpenAI-only fields', () => {
    const body = convertToAnthropicRequest(model, request({ temperature: 1.7, presence_penalty: 0.5, seed: 3, stream_options: { include_usage: true } }));
    expect(body.temperature).toBe(1);
    expect(Object.keys(body).sort()).toEqual(['max_tokens', 'messages', 'model', 'temperature']);
  });

  it('honours the provider’s default max tokens', () => {
    expect(convertToAnthropicRequest(model, request({}), { defaultMaxTokens: 1000 }).max_tokens).toBe(1000);
  });

  it('converts images given as base64 data URLs and as http URLs', () => {
    const body = convertToAnthropicRequest(
      model,
      request({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is on these?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/signal.jpg', detail: 'high' } },
            ],
          },
        ],
      }),
    );
    expect(body.messages[0]!.content).toEqual([
      { type: 'text', text: 'What is on these?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/signal.jpg' } },
    ]);
  });

  it('converts PDF and plain-text files to documents', () => {
    const body = convertToAnthropicRequest(
      model,
      request({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'timetable.pdf' } },
              { type: 'file', file: { file_data: `data:text/plain;base64,${Buffer.from('platform 9').toString('base64')}` } },
            ],
          },
        ],
      }),
    );
    expect(body.messages[0]!.content).toEqual([
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' }, title: 'timetable.pdf' },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'platform 9' } },
    ]);
  });

  it('rejects content Anthropic cannot take with a 400 naming the field', () => {
    const withPart = (part: unknown) => request({ messages: [{ role: 'user', content: [part as never] }] });
    expect(invalid(() => convertToAnthropicRequest(model, withPart({ type: 'image_url', image_url: { url: 'ftp://example.com/a.png' } }))).param).toBe(
      'messages[0].content[0].image_url.url',
    );
    expect(invalid(() => convertToAnthropicRequest(model, withPart({ type: 'image_url', image_url: { url: 'data:image/png,notbase64' } }))).code).toBe('invalid_image_url');
    expect(invalid(() => convertToAnthropicRequest(model, withPart({ type: 'image_url', image_url: { url: 'data:text/html;base64,PGI+' } }))).code).toBe(
      'invalid_image_format',
    );
    expect(invalid(() => convertToAnthropicRequest(model, withPart({ type: 'input_audio', input_audio: { data: 'AA==', format: 'wav' } }))).code).toBe(
      'unsupported_content',
    );
    expect(invalid(() => convertToAnthropicRequest(model, withPart({ type: 'file', file: { file_id: 'file-1' } }))).param).toBe('messages[0].content[0].file');
    expect(invalid(() => convertToAnthropicRequest(model, request({ n: 2 }))).param).toBe('n');
    expect(invalid(() => convertToAnthropicRequest(model, request({ logprobs: true }))).param).toBe('logprobs');
    expect(invalid(() => convertToAnthropicRequest(model, request({ max_tokens: 0 }))).param).toBe('max_tokens');
    expect(invalid(() => convertToAnthropicRequest(model, request({ messages: [{ role: 'function', name: 'f', content: 'x' }] }))).param).toBe('messages[0].role');
    expect(invalid(() => convertToAnthropicRequest(model, request({ messages: [{ role: 'system', content: 'only a system prompt' }] }))).param).toBe('messages');
  });

  it('converts tools, every tool_choice and parallel_tool_calls', () => {
    const tools: ChatCompletionRequest['tools'] = [
      {
        type: 'function',
        function: {
          name: 'departure_board',
          description: 'Next departures',
          parameters: { type: 'object', properties: { station: { type: 'string' } }, required: ['station'] },
          strict: true,
        },
      },
      { type: 'function', function: { name: 'station_clock' } },
    ];
    const body = convertToAnthropicRequest(model, request({ tools }));
    expect(body.tools).toEqual([
      {
        name: 'departure_board',
        description: 'Next departures',
        input_schema: { type: 'object', properties: { station: { type: 'string' } }, required: ['station'] },
        strict: true,
      },
      { name: 'station_clock', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(body.tool_choice).toBeUndefined();
    const choice = (overrides: Partial<ChatCompletionRequest>) => convertToAnthropicRequest(model, request({ tools, ...overrides })).tool_choice;
    expect(choice({ tool_choice: 'auto' })).toEqual({ type: 'auto' });
    expect(choice({ tool_choice: 'none' })).toEqual({ type: 'none' });
    expect(choice({ tool_choice: 'required' })).toEqual({ type: 'any' });
    expect(choice({ tool_choice: { type: 'function', function: { name: 'station_clock' } } })).toEqual({ type: 'tool', name: 'station_clock' });
    expect(choice({ parallel_tool_calls: false })).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(choice({ tool_choice: 'required', parallel_tool_calls: false })).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(choice({ tool_choice: 'auto', parallel_tool_calls: true })).toEqual({ type: 'auto' });
    // A tool_choice without tools has nothing to choose from: Anthropic would reject it.
    expect(convertToAnthropicRequest(model, request({ tool_choice: 'required' })).tool_choice).toBeUndefined();
    expect(invalid(() => choice({ tool_choice: { type: 'allowed_tools' } as never })).param).toBe('tool_choice');
  });

  it('groups a tool-call round trip into Anthropic turns: tool_use, then tool_result blocks before text', () => {
    const { messages } = convertToAnthropicMessages([
      { role: 'user', content: 'Departures from Lyon and Turin?' },
      {
        role: 'assistant',
        content: 'Checking both.',
        tool_calls: [
          { id: 'toolu_01A', type: 'function', function: { name: 'departure_board', arguments: '{"station":"Lyon"}' } },
          { id: 'call:0/turin', type: 'function', function: { name: 'departure_board', arguments: '{"station":"Turin"}' } },
          { id: 'toolu_01C', type: 'function', function: { name: 'station_clock', arguments: '' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_01A', content: '08:12 TGV' },
      { role: 'tool', tool_call_id: 'call:0/turin', content: [{ type: 'text', text: '08:40 Frecciarossa' }] },
      { role: 'user', content: 'Also, the time?' },
      { role: 'tool', tool_call_id: 'toolu_01C', content: '' },
    ]);
    expect(messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Departures from Lyon and Turin?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking both.' },
          { type: 'tool_use', id: 'toolu_01A', name: 'departure_board', input: { station: 'Lyon' } },
          { type: 'tool_use', id: 'call_0_turin', name: 'departure_board', input: { station: 'Turin' } },
          { type: 'tool_use', id: 'toolu_01C', name: 'station_clock', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_01A', content: '08:12 TGV' },
          { type: 'tool_result', tool_use_id: 'call_0_turin', content: [{ type: 'text', text: '08:40 Frecciarossa' }] },
          { type: 'tool_result', tool_use_id: 'toolu_01C' },
          { type: 'text', text: 'Also, the time?' },
        ],
      },
    ]);
  });

  it('rejects tool call arguments that are not a JSON object', () => {
    const withArguments = (text: string) =>
      request({
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: text } }] },
        ],
      });
    expect(invalid(() => convertToAnthropicRequest(model, withArguments('{"unterminated'))).param).toBe('messages[1].tool_calls[0].function.arguments');
    expect(invalid(() => convertToAnthropicRequest(model, withArguments('[1,2]'))).param).toBe('messages[1].tool_calls[0].function.arguments');
  });

  it('merges consecutive turns of one role and skips empty text', () => {
    const { messages } = convertToAnthropicMessages([
      { role: 'user', content: 'First' },
      { role: 'user', content: '' },
      { role: 'user', content: [{ type: 'text', text: 'Second' }] },
      { role: 'assistant', content: '' },
      { role: 'assistant', content: [{ type: 'text', text: 'Answer' }, { type: 'refusal', refusal: 'Not that part.' }] },
    ]);
    expect(messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'First' }, { type: 'text', text: 'Second' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Answer' }, { type: 'text', text: 'Not that part.' }] },
    ]);
  });

  it('passes prompt-caching marks on parts, whole messages and tools', () => {
    const ephemeral = { type: 'ephemeral' };
    const body = convertToAnthropicRequest(
      model,
      request({
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'Long rulebook', cache_control: ephemeral }] },
          { role: 'user', content: 'Question', cache_control: ephemeral },
        ],
        tools: [{ type: 'function', function: { name: 'f' }, cache_control: ephemeral }],
      }),
    );
    expect(body.system).toEqual([{ type: 'text', text: 'Long rulebook', cache_control: ephemeral }]);
    expect(body.messages[0]!.content).toEqual([{ type: 'text', text: 'Question', cache_control: ephemeral }]);
    expect(body.tools![0]!.cache_control).toEqual(ephemeral);
  });

  it('maps response_format: json_schema to output_config, json_object to a system instruction', () => {
    const schema = { type: 'object', properties: { track: { type: 'integer' } }, required: ['track'], additionalProperties: false };
    const withSchema = convertToAnthropicRequest(model, request({ response_format: { type: 'json_schema', json_schema: { name: 'track', schema, strict: true } } }));
    expect(withSchema.output_config).toEqual({ format: { type: 'json_schema', schema } });
    expect(withSchema.system).toBeUndefined();
    const jsonObject = convertToAnthropicRequest(model, request({ messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Track?' }], response_format: { type: 'json_object' } }));
    expect(jsonObject.output_config).toBeUndefined();
    expect(jsonObject.system).toEqual([
      { type: 'text', text: 'Be terse.' },
      { type: 'text', text: jsonObjectInstruction },
    ]);
    const text = convertToAnthropicRequest(model, request({ response_format: { type: 'text' } }));
    expect(text.system).toBeUndefined();
    expect(text.output_config).toBeUndefined();
  });

  it('turns reasoning_effort into a thinking budget inside the token limit', () => {
    const high = convertToAnthropicRequest(model, request({ reasoning_effort: 'high' }));
    expect(high.thinking).toEqual({ type: 'enabled', budget_tokens: thinkingBudgetForEffort.high });
    expect(high.max_tokens).toBe(defaultAnthropicMaxTokens + thinkingBudgetForEffort.high);
    // OpenAI's limit covers reasoning and answer: the budget shrinks to fit under it.
    const limited = convertToAnthropicRequest(model, request({ reasoning_effort: 'medium', max_completion_tokens: 3000 }));
    expect(limited).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 2999 }, max_tokens: 3000 });
    const roomy = convertToAnthropicRequest(model, request({ reasoning_effort: 'low', max_tokens: 20000 }));
    expect(roomy).toMatchObject({ thinking: { type: 'enabled', budget_tokens: thinkingBudgetForEffort.low }, max_tokens: 20000 });
    expect(convertToAnthropicRequest(model, request({ reasoning_effort: 'none' })).thinking).toBeUndefined();
    expect(invalid(() => convertToAnthropicRequest(model, request({ reasoning_effort: 'low', max_tokens: 1024 }))).param).toBe('max_tokens');
    expect(invalid(() => convertToAnthropicRequest(model, request({ reasoning_effort: 'extreme' as never }))).param).toBe('reasoning_effort');
  });

  it('passes Anthropic’s own thinking object through, sizing max_tokens around its budget', () => {
    const body = convertToAnthropicRequest(model, request({ thinking: { type: 'enabled', budget_tokens: 5000 }, reasoning_effort: 'high' }));
    expect(body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 5000 }, max_tokens: defaultAnthropicMaxTokens + 5000 });
    expect(convertToAnthropicRequest(model, request({ thinking: { type: 'disabled' } })).thinking).toEqual({ type: 'disabled' });
  });

  it('continues a tool loop without thinking when the client dropped the signed thinking blocks', () => {
    const messages: ChatCompletionRequest['messages'] = [
      { role: 'user', content: 'Departures?' },
      { role: 'assistant', content: null, reasoning_content: 'I should look it up.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'board', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '08:12' },
    ];
    const withoutBlocks = convertToAnthropicRequest(model, request({ messages, reasoning_effort: 'low' }));
    expect(withoutBlocks.thinking).toBeUndefined();
    expect(withoutBlocks.max_tokens).toBe(defaultAnthropicMaxTokens);
    const thinking_blocks = [{ type: 'thinking', thinking: 'I should look it up.', signature: 'c2ln' }];
    const withBlocks = convertToAnthropicRequest(model, request({ messages: [messages[0]!, { ...messages[1]!, thinking_blocks }, messages[2]!], reasoning_effort: 'low' }));
    expect(withBlocks.thinking).toEqual({ type: 'enabled', budget_tokens: thinkingBudgetForEffort.low });
    expect(withBlocks.messages[1]!.content[0]).toEqual({ type: 'thinking', thinking: 'I should look it up.', signature: 'c2ln' });
  });
});

describe('an answer sent back as history', () => {
  it('becomes the same Anthropic blocks it came from: thinking, text and tool calls survive the round trip', () => {
    const message = anthropicMessageSchema.parse(JSON.parse(readFixture('thinking.json')));
    const completion = convertAnthropicResponse(message, model, 'fallback');
    const { messages } = convertToAnthropicMessages([{ role: 'user', content: 'How many tracks?' }, { ...completion.choices[0]!.message, content: completion.choices[0]!.message.content }]);
    expect(messages[1]!.content).toEqual(message.content.map((block) => ({ ...block })));

    const tools = anthropicMessageSchema.parse(JSON.parse(readFixture('tool-calls.json')));
    const toolCompletion = convertAnthropicResponse(tools, model, 'fallback');
    const converted = convertToAnthropicMessages([{ role: 'user', content: 'Departures?' }, toolCompletion.choices[0]!.message]);
    expect(converted.messages[1]!.content).toEqual(tools.content);
  });
});
