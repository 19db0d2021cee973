import type {
  ChatCompletion,
  ChatCompletionChoice,
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  CompletionUsage,
  ResponseMessage,
  ToolCall,
  ToolCallDelta,
} from '@switchyard/core';
import type { OpenAIWireChunk, OpenAIWireResponse, OpenAIWireUsage } from './openai-api.js';
import { mapOpenAIFinishReason } from './map-openai-finish-reason.js';
import { isRecord } from './openai-wire-check.js';

/** Usage with only OpenAI's fields, whatever extra timing fields a provider adds. */
export function normalizeUsage(usage: OpenAIWireUsage | null | undefined): CompletionUsage | undefined {
  if (!usage) return undefined;
  const promptTokens = usage.prompt_tokens ?? 0;
  let completionTokens = usage.completion_tokens ?? 0;
  const reasoningTokens = usage.completion_tokens_details?.reasoning_tokens ?? 0;
  const totalTokens = usage.total_tokens ?? promptTokens + completionTokens;
  // xAI counts reasoning outside `completion_tokens` (total = prompt + completion + reasoning); OpenAI
  // counts it inside. Folding it in keeps `prompt + completion = total`, which billing relies on.
  if (reasoningTokens > 0 && totalTokens === promptTokens + completionTokens + reasoningTokens) completionTokens += reasoningTokens;
  const normalized: CompletionUsage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: totalTokens,
  };
  // Cached prompt tokens arrive in three places: OpenAI's details, Moonshot's top-level `cached_tokens`,
  // DeepSeek's `prompt_cache_hit_tokens`. Clients and billing read only the first.
  const cachedElsewhere = numberOrUndefined(usage.cached_tokens) ?? numberOrUndefined(usage.prompt_cache_hit_tokens);
  if (usage.prompt_tokens_details) {
    normalized.prompt_tokens_details = { ...usage.prompt_tokens_details, cached_tokens: usage.prompt_tokens_details.cached_tokens ?? cachedElsewhere ?? 0 };
  } else if (cachedElsewhere !== undefined) {
    normalized.prompt_tokens_details = { cached_tokens: cachedElsewhere };
  }
  if (usage.completion_tokens_details) normalized.completion_tokens_details = { ...usage.completion_tokens_details, reasoning_tokens: reasoningTokens };
  return normalized;
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function numberOrUndefined(value: unknown): number | undefined {
  return isFiniteNumber(value) ? value : undefined;
}

/** The service tiers OpenAI's schema allows; others (Groq's `on_demand`) mean nothing to OpenAI clients. */
const openAIServiceTiers = new Set(['auto', 'default', 'flex', 'scale', 'priority', 'fast']);

function serviceTierOf(value: unknown): string | undefined {
  return typeof value === 'string' && openAIServiceTiers.has(value) ? value : undefined;
}

/**
 * Splits message content into answer text and reasoning. OpenAI sends a string; Mistral's reasoning
 * models send parts: `{type:'text', text}` and `{type:'thinking', thinking:[{type:'text', text}]}`.
 */
export function splitContentParts(content: unknown): { text: string | null; reasoning: string | null } {
  if (typeof content === 'string') return { text: content, reasoning: null };
  if (!Array.isArray(content)) return { text: null, reasoning: null };
  let text: string | null = null;
  let reasoning: string | null = null;
  for (const part of content as unknown[]) {
    if (typeof part !== 'object' || part === null) continue;
    const record = part as Record<string, unknown>;
    if (record.type === 'thinking') {
      reasoning = (reasoning ?? '') + textOfThinking(record.thinking);
    } else if (typeof record.text === 'string') {
      text = (text ?? '') + record.text;
    }
  }
  return { text, reasoning };
}

function textOfThinking(thinking: unknown): string {
  if (typeof thinking === 'string') return thinking;
  if (!Array.isArray(thinking)) return '';
  let text = '';
  for (const part of thinking as unknown[]) {
    if (typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string') text += (part as { text: string }).text;
  }
  return text;
}

/**
 * Reasoning text under the name the gateway uses, `reasoning_content` (DeepSeek, xAI, Qwen, Moonshot);
 * Groq, OpenRouter and vLLM call it `reasoning`.
 */
function reasoningOf(fields: Record<string, unknown>, fromParts: string | null): string | null {
  if (typeof fields.reasoning_content === 'string') return fields.reasoning_content + (fromParts ?? '');
  if (typeof fields.reasoning === 'string') return fields.reasoning + (fromParts ?? '');
  return fromParts;
}

/** Logprobs in OpenAI's shape: an object with both `content` and `refusal` (null when absent), or null. */
function normalizeLogprobs(logprobs: unknown): unknown {
  if (typeof logprobs !== 'object' || logprobs === null) return null;
  const record = logprobs as Record<string, unknown>;
  return { ...record, content: record.content ?? null, refusal: record.refusal ?? null };
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
  /** Keep Azure's `prompt_filter_results` and per-choice `content_filter_results` on chunks. */
  keepContentFilterResults: boolean;
  /** `prompt_filter_results` of a dropped chunk, waiting for the next chunk that reaches the client. */
  pendingPromptFilterResults?: unknown;
}

export interface OpenAIStreamStateOptions {
  /** Keep Azure's content-filter annotations (extra fields OpenAI's schema allows). Default false. */
  keepContentFilterResults?: boolean;
}

export function createOpenAIStreamState(
  fallbackModel: string,
  fallbackId: string,
  now = Date.now(),
  options: OpenAIStreamStateOptions = {},
): OpenAIStreamState {
  return {
    id: fallbackId,
    model: fallbackModel,
    created: Math.floor(now / 1000),
    toolCallIndexes: new Map(),
    keepContentFilterResults: options.keepContentFilterResults ?? false,
  };
}

/**
 * Turns one upstream chunk into a chunk that validates against OpenAI's schema, or null when it carries
 * nothing a client should see:
 * - Azure's first chunk (`choices: []`, `prompt_filter_results`, `object: ""`) is dropped; with
 *   `keepContentFilterResults` its `prompt_filter_results` moves to the next chunk;
 * - Qwen's empty `id` on continuation chunks takes the stream's first id;
 * - Mistral's tool calls without `index` get one, keyed by call id;
 * - Mistral's content parts become `content` and `reasoning_content`; Groq's `reasoning` becomes
 *   `reasoning_content`;
 * - Groq's usage under `x_groq` is lifted to `usage`;
 * - missing `finish_reason`, `object`, `created`, partial `logprobs`, a null `system_fingerprint` and
 *   service tiers OpenAI does not know are filled or removed.
 */
export function normalizeOpenAIChunk(raw: OpenAIWireChunk, state: OpenAIStreamState): ChatCompletionChunk | null {
  if (raw.id) state.id = raw.id;
  if (raw.model) state.model = raw.model;
  if (raw.created) state.created = raw.created;
  const usage = normalizeUsage(raw.usage ?? raw.x_groq?.usage);
  const rawChoices = raw.choices ?? [];
  if (state.keepContentFilterResults && raw.prompt_filter_results != null) state.pendingPromptFilterResults = raw.prompt_filter_results;
  if (rawChoices.length === 0 && !usage) return null;

  const choices: ChatCompletionChunkChoice[] = rawChoices.map((choice, position) => {
    const index = choice.index ?? position;
    const rawDelta = (choice.delta ?? {}) as Record<string, unknown> & NonNullable<typeof choice.delta>;
    const { tool_calls: rawToolCalls, content: rawContent, reasoning: _reasoning, reasoning_content: _reasoningContent, ...deltaRest } = rawDelta;
    const delta: ChatCompletionChunkChoice['delta'] = {};
    for (const key in deltaRest) {
      const value = (deltaRest as Record<string, unknown>)[key];
      // Nulls some servers put on every delta (`refusal: null`, `reasoning_content: null`) carry nothing.
      if (value !== null && value !== undefined) delta[key] = value;
    }
    if (delta.role !== undefined && delta.role !== 'assistant') delta.role = 'assistant';
    const parts = splitContentParts(rawContent);
    if (parts.text !== null) delta.content = parts.text;
    const reasoning = reasoningOf(rawDelta, parts.reasoning);
    if (reasoning !== null) delta.reasoning_content = reasoning;
    if (rawToolCalls && rawToolCalls.length > 0) delta.tool_calls = normalizeToolCallDeltas(rawToolCalls, index, state);
    const normalized: ChatCompletionChunkChoice = { index, delta, finish_reason: mapOpenAIFinishReason(choice.finish_reason), logprobs: normalizeLogprobs(choice.logprobs) };
    if (state.keepContentFilterResults && choice.content_filter_results != null) normalized.content_filter_results = choice.content_filter_results;
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
  const serviceTier = serviceTierOf(raw.service_tier);
  if (serviceTier) chunk.service_tier = serviceTier;
  if (usage) chunk.usage = usage;
  if (state.pendingPromptFilterResults !== undefined) {
    chunk.prompt_filter_results = state.pendingPromptFilterResults;
    state.pendingPromptFilterResults = undefined;
  }
  return chunk;
}

/**
 * Separates usage from a chunk that also carries choices (Groq, Mistral, DeepSeek and Moonshot put it on
 * the finishing chunk). OpenAI sends usage only in a final chunk with `choices: []`, and the provider
 * contract promises that shape, so the reader keeps the usage and sends it last (see `usageChunk`).
 * Returns the chunk to send now (null when nothing is left) and the usage it carried.
 */
export function detachUsage(chunk: ChatCompletionChunk): { chunk: ChatCompletionChunk | null; usage: CompletionUsage | undefined } {
  if (!chunk.usage) return { chunk, usage: undefined };
  const { usage, ...rest } = chunk;
  if (chunk.choices.length === 0) {
    // A usage-only chunk: only its annotations (Azure's filter results) are worth sending on their own.
    return { chunk: null, usage: usage ?? undefined };
  }
  return { chunk: rest as ChatCompletionChunk, usage: usage ?? undefined };
}

/** The closing usage chunk, in OpenAI's shape. */
export function usageChunk(state: OpenAIStreamState, usage: CompletionUsage, systemFingerprint?: string): ChatCompletionChunk {
  const chunk: ChatCompletionChunk = { id: state.id, object: 'chat.completion.chunk', created: state.created, model: state.model, choices: [], usage };
  if (systemFingerprint) chunk.system_fingerprint = systemFingerprint;
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
export function normalizeOpenAIResponse(
  raw: OpenAIWireResponse,
  fallbackModel: string,
  fallbackId: string,
  now = Date.now(),
  options: OpenAIStreamStateOptions = {},
): ChatCompletion {
  const response: ChatCompletion = {
    ...(raw as Record<string, unknown>),
    id: raw.id || fallbackId,
    object: 'chat.completion',
    created: raw.created ?? Math.floor(now / 1000),
    model: raw.model || fallbackModel,
    choices: raw.choices.map((choice, position) => {
      const { tool_calls: rawToolCalls, reasoning: _reasoning, ...messageRest } = choice.message as typeof choice.message & { reasoning?: unknown };
      const parts = splitContentParts(choice.message.content);
      const message: ResponseMessage = {
        ...(messageRest as Record<string, unknown>),
        role: 'assistant',
        content: parts.text,
        refusal: choice.message.refusal ?? null,
      };
      const reasoning = reasoningOf(choice.message as Record<string, unknown>, parts.reasoning);
      if (reasoning === null) delete message.reasoning_content;
      else message.reasoning_content = reasoning;
      if (rawToolCalls && rawToolCalls.length > 0) {
        message.tool_calls = rawToolCalls.map(
          (call, index): ToolCall => ({
            id: call.id || `call_${fallbackId}_${index}`,
            type: 'function',
            function: { name: call.function.name ?? '', arguments: call.function.arguments ?? '' },
          }),
        );
      }
      const normalized: ChatCompletionChoice = {
        index: choice.index ?? position,
        message,
        finish_reason: mapOpenAIFinishReason(choice.finish_reason) ?? 'stop',
        logprobs: normalizeLogprobs(choice.logprobs),
      };
      if (options.keepContentFilterResults && choice.content_filter_results != null) normalized.content_filter_results = choice.content_filter_results;
      return normalized;
    }),
  };
  const usage = normalizeUsage(raw.usage);
  if (usage) response.usage = usage;
  else delete response.usage;
  if (!raw.system_fingerprint) delete response.system_fingerprint;
  const serviceTier = serviceTierOf(raw.service_tier);
  if (serviceTier) response.service_tier = serviceTier;
  else delete response.service_tier;
  return response;
}

/*
 * Whether an answer is already what normalizeOpenAIResponse would make of it, checked in one pass over
 * the parsed JSON: then the answer is the parsed value itself and its JSON is the upstream's own bytes,
 * with no wire check, no normalised copy and no second serialisation. OpenAI's own answers are all like
 * this. Each rule below mirrors one step of the wire check (openai-wire-check.ts) or of the normaliser;
 * a property test holds them to it: whatever this accepts, the wire check accepts as it is, and
 * normalising it gives the same JSON.
 */

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** True when `raw` needs no normalising: `normalizeOpenAIResponse(raw)` would give the same JSON. */
export function isNormalOpenAIResponse(raw: unknown, options: OpenAIStreamStateOptions = {}): raw is ChatCompletion {
  if (!isRecord(raw)) return false;
  if (!isNonEmptyString(raw.id) || raw.object !== 'chat.completion' || !isFiniteNumber(raw.created) || !isNonEmptyString(raw.model)) return false;
  // Normalising drops an empty fingerprint and a service tier OpenAI's schema does not know.
  if (raw.system_fingerprint !== undefined && !isNonEmptyString(raw.system_fingerprint)) return false;
  if (raw.service_tier !== undefined && serviceTierOf(raw.service_tier) === undefined) return false;
  if (raw.usage !== undefined && !isNormalUsage(raw.usage)) return false;
  const choices = raw.choices;
  if (!Array.isArray(choices)) return false;
  const keepFilterResults = options.keepContentFilterResults === true;
  for (let position = 0; position < choices.length; position++) {
    if (!isNormalChoice(choices[position], keepFilterResults)) return false;
  }
  return true;
}

function isNormalChoice(choice: unknown, keepFilterResults: boolean): boolean {
  if (!isRecord(choice)) return false;
  // The normalised choice has these fields only (and the filter results when they are kept).
  let fields = 0;
  for (const key in choice) {
    if (key === 'content_filter_results') {
      if (!keepFilterResults || choice[key] == null) return false;
    } else if (key !== 'index' && key !== 'message' && key !== 'finish_reason' && key !== 'logprobs') {
      return false;
    } else {
      fields++;
    }
  }
  if (fields !== 4 || !isFiniteNumber(choice.index)) return false;
  const finishReason = choice.finish_reason;
  if (typeof finishReason !== 'string' || mapOpenAIFinishReason(finishReason) !== finishReason) return false;
  const logprobs = choice.logprobs;
  if (logprobs !== null && !(isRecord(logprobs) && logprobs.content !== undefined && logprobs.refusal !== undefined)) return false;
  return isNormalMessage(choice.message);
}

function isNormalMessage(message: unknown): boolean {
  if (!isRecord(message) || message.role !== 'assistant') return false;
  const { content, refusal } = message;
  if (content !== null && typeof content !== 'string') return false;
  if (refusal !== null && typeof refusal !== 'string') return false;
  // `reasoning` is renamed, a null `reasoning_content` dropped.
  if (message.reasoning !== undefined) return false;
  if (message.reasoning_content !== undefined && typeof message.reasoning_content !== 'string') return false;
  const toolCalls = message.tool_calls;
  if (toolCalls === undefined) return true;
  if (!Array.isArray(toolCalls) || toolCalls.length === 0) return false;
  for (const call of toolCalls) if (!isNormalToolCall(call)) return false;
  return true;
}

function isNormalToolCall(call: unknown): boolean {
  if (!isRecord(call) || !isNonEmptyString(call.id) || call.type !== 'function' || !hasKeysExactly(call, 3)) return false;
  const fn = call.function;
  return isRecord(fn) && typeof fn.name === 'string' && typeof fn.arguments === 'string' && hasKeysExactly(fn, 2);
}

function hasKeysExactly(record: Record<string, unknown>, count: number): boolean {
  let keys = 0;
  for (const _key in record) keys++;
  return keys === count;
}

function isNormalUsage(usage: unknown): boolean {
  if (!isRecord(usage)) return false;
  const { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total } = usage;
  if (!isFiniteNumber(prompt) || !isFiniteNumber(completion) || !isFiniteNumber(total)) return false;
  let fields = 0;
  for (const key in usage) {
    if (key === 'prompt_tokens_details' || key === 'completion_tokens_details') continue;
    if (key !== 'prompt_tokens' && key !== 'completion_tokens' && key !== 'total_tokens') return false;
    fields++;
  }
  if (fields !== 3) return false;
  const promptDetails = usage.prompt_tokens_details;
  if (promptDetails !== undefined && !(isRecord(promptDetails) && isFiniteNumber(promptDetails.cached_tokens))) return false;
  const completionDetails = usage.completion_tokens_details;
  if (completionDetails === undefined) return true;
  if (!isRecord(completionDetails) || !isFiniteNumber(completionDetails.reasoning_tokens)) return false;
  // Reasoning counted outside the completion tokens is folded in by the normaliser.
  const reasoning = completionDetails.reasoning_tokens;
  return !(reasoning > 0 && total === prompt + completion + reasoning);
}
