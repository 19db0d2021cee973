import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  CompletionUsage,
  ResponseMessage,
  ToolCall,
  ToolCallDelta,
} from '@switchyard/core';
import type { OpenAIWireChunk, OpenAIWireResponse, OpenAIWireUsage } from './openai-api.js';
import { mapOpenAIFinishReason } from './map-openai-finish-reason.js';

/** Usage with only OpenAI's fields, whatever extra timing fields a provider adds. */
export function normalizeUsage(usage: OpenAIWireUsage | null | undefined): CompletionUsage | undefined {
  if (!usage) return undefined;
  const promptTokens = usage.prompt_tokens ?? 0;
  const completionTokens = usage.completion_tokens ?? 0;
  const normalized: CompletionUsage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: usage.total_tokens ?? promptTokens + completionTokens,
  };
  if (usage.prompt_tokens_details) normalized.prompt_tokens_details = { ...usage.prompt_tokens_details, cached_tokens: usage.prompt_tokens_details.cached_tokens ?? 0 };
  if (usage.completion_tokens_details) normalized.completion_tokens_details = { ...usage.completion_tokens_details, reasoning_tokens: usage.completion_tokens_details.reasoning_tokens ?? 0 };
  return normalized;
}

/**
 * Per-stream memory for normalising chunks: OpenAI-compatible servers differ in small ways that break
 * strict clients, and each needs something remembered from earlier chunks.
 */
export interface OpenAIStreamState {
  id: string;
  model: string;
  created: number;
  /** tool call id → index, per choice: for servers that send whole tool calls without `index`. */
  toolCallIndexes: Map<number, Map<string, number>>;
}

export function createOpenAIStreamState(fallbackModel: string, fallbackId: string, now = Date.now()): OpenAIStreamState {
  return { id: fallbackId, model: fallbackModel, created: Math.floor(now / 1000), toolCallIndexes: new Map() };
}

/**
 * Turns one upstream chunk into a chunk that validates against OpenAI's schema, or null when it carries
 * nothing a client should see:
 * - Azure's first chunk (`choices: []`, `prompt_filter_results`, `object: ""`) is dropped;
 * - Qwen's empty `id` on continuation chunks takes the stream's first id;
 * - Mistral's tool calls without `index` get one, keyed by call id;
 * - Groq's usage under `x_groq` is lifted to `usage`;
 * - missing `finish_reason`, `object`, `created` and a null `system_fingerprint` are filled or removed.
 */
export function normalizeOpenAIChunk(raw: OpenAIWireChunk, state: OpenAIStreamState): ChatCompletionChunk | null {
  if (raw.id) state.id = raw.id;
  if (raw.model) state.model = raw.model;
  if (raw.created) state.created = raw.created;
  const usage = normalizeUsage(raw.usage ?? raw.x_groq?.usage);
  const rawChoices = raw.choices ?? [];
  if (rawChoices.length === 0 && !usage) return null;

  const choices: ChatCompletionChunkChoice[] = rawChoices.map((choice, position) => {
    const index = choice.index ?? position;
    const rawDelta = choice.delta ?? {};
    const { tool_calls: rawToolCalls, ...deltaRest } = rawDelta;
    const delta: ChatCompletionChunkChoice['delta'] = {};
    for (const key in deltaRest) {
      const value = (deltaRest as Record<string, unknown>)[key];
      // Nulls some servers put on every delta (`refusal: null`, `reasoning_content: null`) carry nothing.
      if (value !== null && value !== undefined) delta[key] = value;
    }
    if (delta.role !== undefined && delta.role !== 'assistant') delta.role = 'assistant';
    if (rawToolCalls && rawToolCalls.length > 0) delta.tool_calls = normalizeToolCallDeltas(rawToolCalls, index, state);
    const normalized: ChatCompletionChunkChoice = { index, delta, finish_reason: mapOpenAIFinishReason(choice.finish_reason), logprobs: choice.logprobs ?? null };
    return normalized;
  });

  const chunk: ChatCompletionChunk = {
    id: state.id,
    object: 'chat.completion.chunk',
    created: state.created,
    model: state.model,
    choices,
  };
  if (raw.system_fingerprint) chunk.system_fingerprint = raw.system_fingerprint;
  if (typeof raw.service_tier === 'string') chunk.service_tier = raw.service_tier;
  if (usage) chunk.usage = usage;
  return chunk;
}

type WireToolCallDelta = NonNullable<NonNullable<NonNullable<OpenAIWireChunk['choices']>[number]['delta']>['tool_calls']>[number];

function normalizeToolCallDeltas(calls: WireToolCallDelta[], choiceIndex: number, state: OpenAIStreamState): ToolCallDelta[] {
  let indexes = state.toolCallIndexes.get(choiceIndex);
  if (!indexes) {
    indexes = new Map();
    state.toolCallIndexes.set(choiceIndex, indexes);
  }
  return calls.map((call) => {
    let index = call.index;
    if (index === null || index === undefined) {
      if (call.id && indexes.has(call.id)) index = indexes.get(call.id)!;
      else if (call.id) index = indexes.size;
      else index = Math.max(0, indexes.size - 1);
    }
    if (call.id) indexes.set(call.id, index);
    const delta: ToolCallDelta = { index };
    // Qwen repeats an empty id on continuation deltas; an empty id is no id.
    if (call.id) delta.id = call.id;
    if (call.id || call.type) delta.type = 'function';
    if (call.function) {
      const fn: NonNullable<ToolCallDelta['function']> = {};
      if (call.function.name) fn.name = call.function.name;
      if (typeof call.function.arguments === 'string') fn.arguments = call.function.arguments;
      delta.function = fn;
    }
    return delta;
  });
}

/** Normalises a non-streamed answer the same way: `content`/`refusal` always present, usage cleaned. */
export function normalizeOpenAIResponse(raw: OpenAIWireResponse, fallbackModel: string, fallbackId: string, now = Date.now()): ChatCompletion {
  const response: ChatCompletion = {
    ...(raw as Record<string, unknown>),
    id: raw.id || fallbackId,
    object: 'chat.completion',
    created: raw.created ?? Math.floor(now / 1000),
    model: raw.model || fallbackModel,
    choices: raw.choices.map((choice, position) => {
      const { tool_calls: rawToolCalls, ...messageRest } = choice.message;
      const message: ResponseMessage = {
        ...(messageRest as Record<string, unknown>),
        role: 'assistant',
        content: choice.message.content ?? null,
        refusal: choice.message.refusal ?? null,
      };
      if (choice.message.reasoning_content == null) delete message.reasoning_content;
      if (rawToolCalls && rawToolCalls.length > 0) {
        message.tool_calls = rawToolCalls.map(
          (call, index): ToolCall => ({
            id: call.id || `call_${fallbackId}_${index}`,
            type: 'function',
            function: { name: call.function.name ?? '', arguments: call.function.arguments ?? '' },
          }),
        );
      }
      return {
        index: choice.index ?? position,
        message,
        finish_reason: mapOpenAIFinishReason(choice.finish_reason) ?? 'stop',
        logprobs: choice.logprobs ?? null,
      };
    }),
  };
  const usage = normalizeUsage(raw.usage);
  if (usage) response.usage = usage;
  else delete response.usage;
  if (!raw.system_fingerprint) delete response.system_fingerprint;
  return response;
}
