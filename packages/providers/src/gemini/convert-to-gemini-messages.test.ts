import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatCompletionRequest, ChatMessage, GatewayError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { convertGeminiResponse } from './convert-gemini-stream.js';
import {
  convertReasoningEffort,
  convertToGeminiMessages,
  convertToGeminiRequest,
  convertUrl,
  geminiMajorVersion,
  guessMimeType,
  skipThoughtSignature,
  toFunctionResponse,
} from './convert-to-gemini-messages.js';
import { geminiResponseSchema } from './gemini-api.js';

const fixturesDir = join(import.meta.dirname, '__fixtures__');

function request(overrides: Partial<ChatCompletionRequest>): ChatCompletionRequest {
  return { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }], ...overrides };
}

function catchError(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('expected an error');
}

describe('convertToGeminiMessages', () => {
  it('joins system and developer messages into the system instruction', () => {
    const result = convertToGeminiMessages(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hello' },
      ],
      { modelId: 'gemini-2.5-flash' },
    );
    expect(result).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] },
      contents: [{ role: 'user', parts: [{ text: 'Hello' }] }],
    });
  });

  it('sends data URLs inline, other URLs as file data, audio and files inline', () => {
    const { contents } = convertToGeminiMessages(
      [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/photos/harbor.JPG?size=large' } },
            { type: 'image_url', image_url: { url: 'https://example.com/render' } },
            { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
            { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'tides.pdf' } },
          ],
        },
      ],
      { modelId: 'gemini-2.5-flash' },
    );
    expect(contents[0]!.parts).toEqual([
      { text: 'What is in these?' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { fileUri: 'https://example.com/photos/harbor.JPG?size=large', mimeType: 'image/jpeg' } },
      { fileData: { fileUri: 'https://example.com/render' } },
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
    ]);
  });

  it('turns tool calls into function calls and tool results into function responses named after them', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Tides in Brest and Cherbourg?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_tide', arguments: '{"harbor":"Brest"}' } },
          { id: 'call_b', type: 'function', function: { name: 'get_tide_v2', arguments: '' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_a', content: '{"high":"06:12"}' },
      { role: 'tool', tool_call_id: 'call_b', content: 'High tide at 07:40' },
      { role: 'user', content: 'Thanks' },
    ];
    const { contents } = convertToGeminiMessages(messages, { modelId: 'gemini-2.5-flash' });
    expect(contents).toEqual([
      { role: 'user', parts: [{ text: 'Tides in Brest and Cherbourg?' }] },
      {
        role: 'model',
        parts: [{ functionCall: { name: 'get_tide', args: { harbor: 'Brest' } } }, { functionCall: { name: 'get_tide_v2', args: {} } }],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_tide', response: { high: '06:12' } } },
          { functionResponse: { name: 'get_tide_v2', response: { output: 'High tide at 07:40' } } },
          { text: 'Thanks' },
        ],
      },
    ]);
  });

  it('gives the first call of a Gemini 3 turn the placeholder signature when the id carries none', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        tool_calls: [
          { id: 'call_x', type: 'function', function: { name: 'weather', arguments: '{}' } },
          { id: 'call_y', type: 'function', function: { name: 'weather', arguments: '{}' } },
        ],
      },
    ];
    const gemini3 = convertToGeminiMessages(messages, { modelId: 'gemini-3-pro-preview' }).contents[1]!.parts;
    expect(gemini3.map((part) => part.thoughtSignature)).toEqual([skipThoughtSignature, undefined]);
    const gemini25 = convertToGeminiMessages(messages, { modelId: 'gemini-2.5-pro' }).contents[1]!.parts;
    expect(gemini25.map((part) => part.thoughtSignature)).toEqual([undefined, undefined]);
  });

  it('round-trips a Gemini tool call turn: the signature in the id comes back on its function call', () => {
    const raw = geminiResponseSchema.parse(JSON.parse(readFileSync(join(fixturesDir, 'gemini-tool-call.json'), 'utf8')));
    const completion = convertGeminiResponse(raw, { provider: 'gemini', modelId: 'gemini-3-pro-preview', fallbackId: 'x' });
    const answer = completion.choices[0]!.message;
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Tides?' },
      { role: 'assistant', content: answer.content, tool_calls: answer.tool_calls },
      ...answer.tool_calls!.map((call): ChatMessage => ({ role: 'tool', tool_call_id: call.id, content: '{"high":"06:12"}' })),
    ];
    const { contents } = convertToGeminiMessages(messages, { modelId: 'gemini-3-pro-preview' });
    // The model turn Gemini sent comes back as it was, apart from fields it does not need.
    expect(contents[1]).toEqual({ role: 'model', parts: raw.candidates![0]!.content!.parts });
    expect(contents[2]!.parts.map((part) => part.functionResponse?.name)).toEqual(['get_tide', 'get_tide']);
  });

  it('keeps text parts of assistant messages, refusals included, and drops empty text', () => {
    const { contents } = convertToGeminiMessages(
      [
        { role: 'user', content: '' },
        { role: 'user', content: 'Go' },
        { role: 'assistant', content: [{ type: 'text', text: 'Part one. ' }, { type: 'refusal', refusal: 'Not that.' }] },
        { role: 'assistant', content: '' },
      ],
      { modelId: 'gemini-2.5-flash' },
    );
    expect(contents).toEqual([
      { role: 'user', parts: [{ text: 'Go' }] },
      { role: 'model', parts: [{ text: 'Part one. ' }, { text: 'Not that.' }] },
    ]);
  });

  it('answers legacy function messages by their name', () => {
    const { contents } = convertToGeminiMessages(
      [
        { role: 'user', content: 'x' },
        { role: 'function', name: 'lookup', content: null },
      ],
      { modelId: 'gemini-2.5-flash' },
    );
    expect(contents).toEqual([{ role: 'user', parts: [{ text: 'x' }, { functionResponse: { name: 'lookup', response: { output: '' } } }] }]);
  });

  it('rejects unknown tool call ids, non-object arguments, bad data URLs and system-only requests', () => {
    expect(catchError(() => convertToGeminiMessages([{ role: 'tool', tool_call_id: 'call_missing', content: 'x' }], { modelId: 'g' }))).toMatchObject({
      status: 400,
      param: 'messages[0].tool_call_id',
    });
    expect(
      catchError(() =>
        convertToGeminiMessages([{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1,2]' } }] }], { modelId: 'g' }),
      ),
    ).toMatchObject({ status: 400, param: 'messages[0].tool_calls[0].function.arguments' });
    expect(
      catchError(() =>
        convertToGeminiMessages([{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }] }], { modelId: 'g' }),
      ),
    ).toMatchObject({ status: 400 });
    expect(catchError(() => convertUrl('data:image/png;base64', 'url'))).toMatchObject({ status: 400, param: 'url' });
    expect(catchError(() => convertToGeminiMessages([{ role: 'system', content: 'only me' }], { modelId: 'g' }))).toMatchObject({ status: 400, param: 'messages' });
  });
});

describe('convertToGeminiRequest', () => {
  it('maps sampling parameters to generationConfig', () => {
    const body = convertToGeminiRequest(
      'gemini-2.5-flash',
      request({ temperature: 0.3, top_p: 0.9, top_k: 40, max_tokens: 100, max_completion_tokens: 200, stop: 'END', n: 2, presence_penalty: 0.5, frequency_penalty: 0.1, seed: 7 }),
    );
    expect(body.generationConfig).toEqual({
      temperature: 0.3,
      topP: 0.9,
      topK: 40,
      maxOutputTokens: 200,
      stopSequences: ['END'],
      candidateCount: 2,
      presencePenalty: 0.5,
      frequencyPenalty: 0.1,
      seed: 7,
    });
    expect(convertToGeminiRequest('gemini-2.5-flash', request({ n: 1, stop: ['a', 'b'] })).generationConfig).toEqual({ stopSequences: ['a', 'b'] });
    expect(convertToGeminiRequest('gemini-2.5-flash', request({})).generationConfig).toBeUndefined();
  });

  it('declares tools, converting parameters to the schema subset, and maps tool_choice', () => {
    const body = convertToGeminiRequest(
      'gemini-2.5-flash',
      request({
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_tide',
              description: 'Tide times',
              parameters: { type: 'object', properties: { harbor: { type: 'string' }, day: { type: ['string', 'null'], format: 'date' } }, required: ['harbor'], additionalProperties: false },
            },
          },
          { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } },
          { type: 'function', function: { name: 'tree', parameters: { $defs: { node: { type: 'object', properties: { children: { type: 'array', items: { $ref: '#/$defs/node' } } } } }, $ref: '#/$defs/node' } } },
        ],
        tool_choice: { type: 'function', function: { name: 'get_tide' } },
      }),
    );
    expect(body.tools![0]!.functionDeclarations).toEqual([
      {
        name: 'get_tide',
        description: 'Tide times',
        parameters: { type: 'object', properties: { harbor: { type: 'string' }, day: { type: 'string', nullable: true } }, required: ['harbor'] },
      },
      { name: 'now' },
      { name: 'tree', parametersJsonSchema: expect.objectContaining({ $ref: '#/$defs/node' }) },
    ]);
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_tide'] } });
    const tools = [{ type: 'function' as const, function: { name: 'f' } }];
    expect(convertToGeminiRequest('g', request({ tools, tool_choice: 'none' })).toolConfig).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    expect(convertToGeminiRequest('g', request({ tools, tool_choice: 'required' })).toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(convertToGeminiRequest('g', request({ tools, tool_choice: 'auto' })).toolConfig).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
    expect(convertToGeminiRequest('g', request({ tool_choice: 'required' })).toolConfig).toBeUndefined();
  });

  it('asks for JSON with a converted response schema, or the JSON Schema itself when the subset cannot hold it', () => {
    expect(convertToGeminiRequest('g', request({ response_format: { type: 'json_object' } })).generationConfig).toEqual({ responseMimeType: 'application/json' });
    const schema = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false };
    expect(convertToGeminiRequest('g', request({ response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } } })).generationConfig).toEqual({
      responseMimeType: 'application/json',
      responseSchema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], propertyOrdering: ['name', 'age'] },
    });
    const mapSchema = { type: 'object', additionalProperties: { type: 'number' } };
    expect(convertToGeminiRequest('g', request({ response_format: { type: 'json_schema', json_schema: { name: 'scores', schema: mapSchema } } })).generationConfig).toEqual({
      responseMimeType: 'application/json',
      responseJsonSchema: mapSchema,
    });
    expect(convertToGeminiRequest('g', request({ response_format: { type: 'text' } })).generationConfig).toBeUndefined();
  });

  it('maps reasoning_effort to a thinking level on Gemini 3 and a budget before', () => {
    expect(convertReasoningEffort('gemini-3-pro-preview', 'medium')).toEqual({ thinkingLevel: 'high', includeThoughts: true });
    expect(convertReasoningEffort('gemini-3-flash-preview', 'minimal')).toEqual({ thinkingLevel: 'low', includeThoughts: true });
    expect(convertReasoningEffort('gemini-2.5-flash', 'none')).toEqual({ thinkingBudget: 0 });
    expect(convertReasoningEffort('gemini-2.5-flash', 'low')).toEqual({ thinkingBudget: 1024, includeThoughts: true });
    expect(convertReasoningEffort('gemini-2.5-pro', 'high')).toEqual({ thinkingBudget: 24576, includeThoughts: true });
    expect(convertToGeminiRequest('gemini-2.5-pro', request({ reasoning_effort: 'medium' })).generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 8192, includeThoughts: true } });
  });

  it('passes Gemini safety settings and cached content through', () => {
    const safetySettings = [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }];
    const body = convertToGeminiRequest('g', request({ safety_settings: safetySettings, cached_content: 'cachedContents/abc' })) as unknown as Record<string, unknown>;
    expect(body.safetySettings).toEqual(safetySettings);
    expect(body.cachedContent).toBe('cachedContents/abc');
  });
});

describe('helpers', () => {
  it('reads JSON objects as function responses and anything else as output', () => {
    expect(toFunctionResponse('{"ok":true}')).toEqual({ ok: true });
    expect(toFunctionResponse('[1,2]')).toEqual({ output: '[1,2]' });
    expect(toFunctionResponse('{not json')).toEqual({ output: '{not json' });
  });

  it('guesses media types from extensions only', () => {
    expect(guessMimeType('https://x.test/a/b.webp#frag')).toBe('image/webp');
    expect(guessMimeType('https://x.test/a.b/c')).toBeUndefined();
    expect(guessMimeType('file.unknown')).toBeUndefined();
  });

  it('decodes percent-encoded data URLs to base64', () => {
    expect(convertUrl('data:text/plain,hello%20world', 'url')).toEqual({ inlineData: { mimeType: 'text/plain', data: Buffer.from('hello world').toString('base64') } });
  });

  it('reads the major version from the model name', () => {
    expect(geminiMajorVersion('gemini-3-pro-preview')).toBe(3);
    expect(geminiMajorVersion('models/gemini-2.5-flash')).toBe(2);
    expect(geminiMajorVersion('learnlm-1.5')).toBe(0);
  });
});
