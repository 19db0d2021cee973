import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  ChatResult,
  EmbeddingRequest,
  EmbeddingResponse,
  ProviderCallOptions,
  ProviderV1,
} from '@switchyard/core';
import { randomId } from '@switchyard/core';

export interface EchoProviderOptions {
  /** Provider id. Default `demo`, so the model is `demo/echo`. */
  id?: string;
  /** Pause between streamed words, to make streaming visible. Default 0. */
  chunkDelayMs?: number;
}

function textOf(message: ChatMessage | undefined): string {
  if (!message || message.content == null) return '';
  if (typeof message.content === 'string') return message.content;
  return message.content.map((part) => ('text' in part && typeof part.text === 'string' ? part.text : '')).join('');
}

/** A rough token count (words and punctuation), enough for a demo's usage figures. */
function countTokens(text: string): number {
  return text.match(/\w+|[^\s\w]/g)?.length ?? 0;
}

/**
 * A provider that answers locally by repeating the last user message: a gateway with no provider key
 * configured still has one model to try, streamed or not. Not a model: it never calls anything.
 */
export function createEchoProvider(options: EchoProviderOptions = {}): ProviderV1 {
  const id = options.id ?? 'demo';
  const delay = options.chunkDelayMs ?? 0;

  function answer(modelId: string, request: ChatCompletionRequest) {
    const lastUser = [...request.messages].reverse().find((message) => message.role === 'user');
    const content = `Echo: ${textOf(lastUser) || '(no user message)'}`;
    const promptTokens = request.messages.reduce((sum, message) => sum + countTokens(textOf(message)) + 4, 0);
    const completionTokens = countTokens(content);
    return {
      id: randomId('chatcmpl-'),
      created: Math.floor(Date.now() / 1000),
      model: modelId,
      content,
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
  }

  return {
    specificationVersion: 'v1',
    id,

    async chat(modelId: string, request: ChatCompletionRequest, callOptions: ProviderCallOptions): Promise<ChatResult> {
      const result = answer(modelId, request);
      if (request.stream !== true) {
        const response: ChatCompletion = {
          id: result.id,
          object: 'chat.completion',
          created: result.created,
          model: result.model,
          choices: [{ index: 0, message: { role: 'assistant', content: result.content, refusal: null }, finish_reason: 'stop', logprobs: null }],
          usage: result.usage,
        };
        return { type: 'response', response };
      }
      const base = { id: result.id, object: 'chat.completion.chunk' as const, created: result.created, model: result.model };
      async function* stream(): AsyncGenerator<ChatCompletionChunk> {
        yield { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] };
        for (const word of result.content.split(/(?<=\s)/)) {
          if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
          callOptions.signal.throwIfAborted();
          yield { ...base, choices: [{ index: 0, delta: { content: word }, finish_reason: null }] };
        }
        yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] };
        yield { ...base, choices: [], usage: result.usage };
      }
      return { type: 'stream', stream: stream() };
    },

    async embeddings(modelId: string, request: EmbeddingRequest): Promise<EmbeddingResponse> {
      const inputs = typeof request.input === 'string' ? [request.input] : (request.input as unknown[]).map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
      const dimensions = request.dimensions ?? 8;
      // A deterministic vector from the text's characters: equal inputs, equal vectors.
      const embed = (text: string) => {
        const vector = new Array<number>(dimensions).fill(0);
        for (let index = 0; index < text.length; index++) vector[index % dimensions]! += text.charCodeAt(index) / 1000;
        const norm = Math.hypot(...vector) || 1;
        return vector.map((value) => value / norm);
      };
      const tokens = inputs.reduce((sum, text) => sum + countTokens(text), 0);
      return {
        object: 'list',
        data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: embed(text) })),
        model: modelId,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      };
    },

    async listModels() {
      return [{ id: 'echo', ownedBy: id }];
    },
  };
}
