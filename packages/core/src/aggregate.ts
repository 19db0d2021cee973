import type {
  ChatCompletion,
  ChatCompletionChunk,
  CompletionUsage,
  FinishReason,
  ResponseMessage,
  ToolCall,
} from './wire/openai-types.js';

interface ToolCallParts {
  id: string;
  name: string;
  argumentParts: string[];
}

interface ChoiceParts {
  contentParts: string[];
  reasoningParts: string[];
  refusalParts: string[];
  toolCalls: Map<number, ToolCallParts>;
  finishReason: FinishReason | null;
}

/**
 * Folds stream chunks into the ChatCompletion a non-streamed request would have returned, so plugins
 * that run after the answer (billing, cache, logs) see one shape whether the client streamed or not.
 * Parts are collected in arrays and joined once at the end: a long stream stays linear.
 */
export class ChunkAggregator {
  #id = '';
  #model = '';
  #created = 0;
  #systemFingerprint: string | undefined;
  #usage: CompletionUsage | undefined;
  readonly #choices = new Map<number, ChoiceParts>();
  #chunkCount = 0;

  get chunkCount(): number {
    return this.#chunkCount;
  }

  get usage(): CompletionUsage | undefined {
    return this.#usage;
  }

  /** Whether any choice has finished: a stream without one was cut off. */
  hasFinishReason(): boolean {
    for (const parts of this.#choices.values()) if (parts.finishReason !== null) return true;
    return false;
  }

  add(chunk: ChatCompletionChunk): void {
    this.#chunkCount += 1;
    if (this.#id === '' && chunk.id) this.#id = chunk.id;
    if (chunk.model) this.#model = chunk.model;
    if (this.#created === 0 && chunk.created) this.#created = chunk.created;
    if (chunk.system_fingerprint) this.#systemFingerprint = chunk.system_fingerprint;
    if (chunk.usage) this.#usage = chunk.usage;
    for (const choice of chunk.choices) {
      let parts = this.#choices.get(choice.index);
      if (!parts) {
        parts = { contentParts: [], reasoningParts: [], refusalParts: [], toolCalls: new Map(), finishReason: null };
        this.#choices.set(choice.index, parts);
      }
      const delta = choice.delta;
      if (delta) {
        if (typeof delta.content === 'string') parts.contentParts.push(delta.content);
        if (typeof delta.reasoning_content === 'string') parts.reasoningParts.push(delta.reasoning_content);
        if (typeof delta.refusal === 'string') parts.refusalParts.push(delta.refusal);
        if (delta.tool_calls) {
          for (const call of delta.tool_calls) {
            let toolCall = parts.toolCalls.get(call.index);
            if (!toolCall) {
              toolCall = { id: '', name: '', argumentParts: [] };
              parts.toolCalls.set(call.index, toolCall);
            }
            if (call.id) toolCall.id = call.id;
            if (call.function?.name) toolCall.name += call.function.name;
            if (call.function?.arguments) toolCall.argumentParts.push(call.function.arguments);
          }
        }
      }
      if (choice.finish_reason) parts.finishReason = choice.finish_reason;
    }
  }

  result(): ChatCompletion {
    const indexes = [...this.#choices.keys()].sort((a, b) => a - b);
    const choices = indexes.map((index) => {
      const parts = this.#choices.get(index)!;
      const message: ResponseMessage = {
        role: 'assistant',
        content: parts.contentParts.length > 0 ? parts.contentParts.join('') : null,
        refusal: parts.refusalParts.length > 0 ? parts.refusalParts.join('') : null,
      };
      if (parts.reasoningParts.length > 0) message.reasoning_content = parts.reasoningParts.join('');
      if (parts.toolCalls.size > 0) {
        message.tool_calls = [...parts.toolCalls.entries()]
          .sort(([a], [b]) => a - b)
          .map(
            ([, call]): ToolCall => ({
              id: call.id,
              type: 'function',
              function: { name: call.name, arguments: call.argumentParts.join('') },
            }),
          );
      }
      return { index, message, finish_reason: parts.finishReason, logprobs: null };
    });
    const completion: ChatCompletion = {
      id: this.#id,
      object: 'chat.completion',
      created: this.#created,
      model: this.#model,
      choices,
    };
    if (this.#usage) completion.usage = this.#usage;
    if (this.#systemFingerprint) completion.system_fingerprint = this.#systemFingerprint;
    return completion;
  }
}

/**
 * Turns a whole response into the chunks a stream of it would have carried: one chunk with the role and
 * content per choice, tool calls with their full arguments, the finish reason, then the usage chunk.
 * Used to answer a stream request from a complete answer (a cache hit, a provider without streaming).
 */
export function responseToChunks(response: ChatCompletion): ChatCompletionChunk[] {
  const base = { id: response.id, object: 'chat.completion.chunk' as const, created: response.created, model: response.model };
  const extra = response.system_fingerprint ? { system_fingerprint: response.system_fingerprint } : {};
  const chunks: ChatCompletionChunk[] = [];
  for (const choice of response.choices) {
    const message = choice.message;
    // An answer without text (tool calls only, a refusal) opens with `content: null`, as OpenAI streams it, so
    // aggregating the chunks gives back `content: null` rather than an empty string.
    const opening = message.content === null ? null : '';
    chunks.push({ ...base, ...extra, choices: [{ index: choice.index, delta: { role: 'assistant', content: opening }, finish_reason: null, logprobs: null }] });
    if (message.reasoning_content) {
      chunks.push({ ...base, ...extra, choices: [{ index: choice.index, delta: { reasoning_content: message.reasoning_content }, finish_reason: null, logprobs: null }] });
    }
    if (message.content) {
      chunks.push({ ...base, ...extra, choices: [{ index: choice.index, delta: { content: message.content }, finish_reason: null, logprobs: null }] });
    }
    if (message.refusal) {
      chunks.push({ ...base, ...extra, choices: [{ index: choice.index, delta: { refusal: message.refusal }, finish_reason: null, logprobs: null }] });
    }
    if (message.tool_calls && message.tool_calls.length > 0) {
      chunks.push({
        ...base,
        ...extra,
        choices: [
          {
            index: choice.index,
            delta: {
              tool_calls: message.tool_calls.map((call, index) => ({
                index,
                id: call.id,
                type: 'function' as const,
                function: { name: call.function.name, arguments: call.function.arguments },
              })),
            },
            finish_reason: null,
            logprobs: null,
          },
        ],
      });
    }
    chunks.push({ ...base, ...extra, choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason ?? 'stop', logprobs: null }] });
  }
  if (response.usage) chunks.push({ ...base, ...extra, choices: [], usage: response.usage });
  return chunks;
}
