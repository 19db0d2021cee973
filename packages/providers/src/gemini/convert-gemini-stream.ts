import type {
  ChatCompletion,
  ChatCompletionChoice,
  ChatCompletionChunk,
  ChunkDelta,
  CompletionUsage,
  ResponseMessage,
  ToolCall,
  ToolCallDelta,
} from '@switchyard/core';
import { GatewayError } from '@switchyard/core';
import { malformedResponseError, truncatedStreamError } from '../shared/upstream-error.js';
import type { GeminiWireCandidate, GeminiWirePart, GeminiWirePartialArgument, GeminiWireResponse, GeminiWireUsage } from './gemini-api.js';
import { createToolCallId, encodeToolCallId } from './gemini-tool-call-id.js';
import { mapGeminiFinishReason } from './map-gemini-finish-reason.js';

export interface GeminiConversionOptions {
  /** Provider id, for errors. */
  provider: string;
  /** The model asked for, when the answer does not name its `modelVersion`. */
  modelId: string;
  /** The completion id when the answer carries no `responseId`. */
  fallbackId: string;
  now?: number;
  /** Makes tool call ids; tests pass a predictable one. */
  createToolCallId?: () => string;
}

/**
 * `usageMetadata` → OpenAI usage. OpenAI counts reasoning inside `completion_tokens`, Gemini counts
 * thoughts apart (`thoughtsTokenCount`), so they are added; prompt tokens spent on tool use count as
 * prompt. `promptTokenCount` already includes the cached tokens, as OpenAI's `prompt_tokens` does.
 * Undefined when the metadata has no counts (Vertex sends `{trafficType}` alone on early events).
 */
export function mapGeminiUsage(usage: GeminiWireUsage | null | undefined): CompletionUsage | undefined {
  if (!usage) return undefined;
  if (usage.promptTokenCount == null && usage.candidatesTokenCount == null && usage.totalTokenCount == null) return undefined;
  const thoughts = usage.thoughtsTokenCount ?? 0;
  const promptTokens = (usage.promptTokenCount ?? 0) + (usage.toolUsePromptTokenCount ?? 0);
  const completionTokens = (usage.candidatesTokenCount ?? 0) + thoughts;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: usage.totalTokenCount ?? promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedContentTokenCount ?? 0 },
    completion_tokens_details: { reasoning_tokens: thoughts },
  };
}

/** A function call once its name and all its arguments are known. */
export interface AssembledFunctionCall {
  name: string;
  /** The arguments as OpenAI carries them: a JSON object in a string. */
  arguments: string;
  thoughtSignature?: string;
}

interface PendingFunctionCall {
  name: string;
  args: Record<string, unknown>;
  /** Paths whose string value later pieces continue (`willContinue`). */
  openStrings: Set<string>;
  thoughtSignature?: string;
}

/**
 * Builds function calls from parts. Gemini sends each call whole (`name` + `args`) — except Vertex AI with
 * `streamFunctionCallArguments`, where a call starts with `name` and `willContinue`, its arguments arrive
 * as `partialArgs` (JSON path + value, strings in pieces) and a part without `willContinue` ends it. Both
 * end up here; a call is handed out only when complete, so the id carries its signature and the
 * arguments are valid JSON.
 */
export class FunctionCallAssembler {
  #pending: PendingFunctionCall | undefined;
  readonly #provider: string;

  constructor(provider: string) {
    this.#provider = provider;
  }

  /** Takes one part's `functionCall`; returns the calls it completed. */
  accept(part: GeminiWirePart): AssembledFunctionCall[] {
    const call = part.functionCall;
    if (!call) return [];
    const completed: AssembledFunctionCall[] = [];
    if (call.name) {
      const previous = this.flush();
      if (previous) completed.push(previous);
      this.#pending = { name: call.name, args: {}, openStrings: new Set() };
    } else if (!this.#pending) {
      // An empty `functionCall: {}` ends a call; with nothing open it ends nothing.
      if (call.partialArgs && call.partialArgs.length > 0) throw malformedResponseError(this.#provider, 'function call arguments arrived before the function name');
      if (call.args && Object.keys(call.args).length > 0) throw malformedResponseError(this.#provider, 'function call arguments arrived without a function name');
      return completed;
    }
    const pending = this.#pending!;
    if (part.thoughtSignature && !pending.thoughtSignature) pending.thoughtSignature = part.thoughtSignature;
    if (call.args) for (const [key, value] of Object.entries(call.args)) setOwn(pending.args, key, value);
    for (const argument of call.partialArgs ?? []) this.#applyPartialArgument(pending, argument);
    if (call.willContinue !== true) {
      const finished = this.flush();
      if (finished) completed.push(finished);
    }
    return completed;
  }

  /** Ends the open call, if any: the stream finished without the part that closes it. */
  flush(): AssembledFunctionCall | undefined {
    const pending = this.#pending;
    if (!pending) return undefined;
    this.#pending = undefined;
    const assembled: AssembledFunctionCall = { name: pending.name, arguments: JSON.stringify(pending.args) };
    if (pending.thoughtSignature) assembled.thoughtSignature = pending.thoughtSignature;
    return assembled;
  }

  #applyPartialArgument(pending: PendingFunctionCall, argument: GeminiWirePartialArgument): void {
    const path = argument.jsonPath;
    let value: unknown;
    let hasValue = true;
    if (typeof argument.stringValue === 'string') value = argument.stringValue;
    else if (typeof argument.numberValue === 'number') value = argument.numberValue;
    else if (typeof argument.boolValue === 'boolean') value = argument.boolValue;
    else if ('nullValue' in argument) value = null;
    else hasValue = false;
    if (hasValue) {
      const segments = parseJsonPath(path, this.#provider);
      const continued = typeof value === 'string' && pending.openStrings.has(path);
      updatePath(pending.args, segments, (current) => (continued && typeof current === 'string' ? current + (value as string) : value), this.#provider);
    }
    if (argument.willContinue === true) pending.openStrings.add(path);
    else pending.openStrings.delete(path);
  }
}

const maxArrayIndex = 100_000;

/** `$.recipe.ingredients[3].name` → `['recipe', 'ingredients', 3, 'name']`. */
export function parseJsonPath(path: string, provider: string): Array<string | number> {
  if (!path.startsWith('$')) throw malformedResponseError(provider, `the argument path '${path}' is not a JSON path`);
  const segments: Array<string | number> = [];
  const pattern = /\.([^.[\]]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y;
  let position = 1;
  while (position < path.length) {
    pattern.lastIndex = position;
    const match = pattern.exec(path);
    if (!match) throw malformedResponseError(provider, `the argument path '${path}' is not a JSON path`);
    if (match[1] !== undefined) segments.push(match[1]);
    else if (match[2] !== undefined) {
      const index = Number(match[2]);
      if (index > maxArrayIndex) throw malformedResponseError(provider, `the argument path '${path}' has an array index out of range`);
      segments.push(index);
    } else segments.push((match[3] ?? match[4]!).replace(/\\(.)/g, '$1'));
    position = pattern.lastIndex;
  }
  if (segments.length === 0 || typeof segments[0] !== 'string') throw malformedResponseError(provider, `the argument path '${path}' does not name an argument`);
  return segments;
}

function updatePath(root: Record<string, unknown>, segments: Array<string | number>, update: (current: unknown) => unknown, provider: string): void {
  let container: Record<string, unknown> | unknown[] = root;
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index]!;
    const isLast = index === segments.length - 1;
    if (typeof segment === 'number' ? !Array.isArray(container) : Array.isArray(container)) {
      throw malformedResponseError(provider, 'function call argument paths disagree on the shape of the arguments');
    }
    const current: unknown = Array.isArray(container) ? container[segment as number] : Object.hasOwn(container, segment) ? container[segment as string] : undefined;
    if (isLast) {
      if (Array.isArray(container)) container[segment as number] = update(current);
      else setOwn(container, segment as string, update(current));
      return;
    }
    let child = current;
    if (child === undefined || child === null) {
      child = typeof segments[index + 1] === 'number' ? [] : {};
      if (Array.isArray(container)) container[segment as number] = child;
      else setOwn(container, segment as string, child);
    }
    if (typeof child !== 'object') throw malformedResponseError(provider, 'function call argument paths disagree on the shape of the arguments');
    container = child as Record<string, unknown> | unknown[];
  }
}

/** Assignment that treats `__proto__` and friends as ordinary keys: argument names come from the model. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

interface ConvertedParts {
  text: string[];
  reasoning: string[];
  toolCalls: AssembledFunctionCall[];
}

/** Sorts one candidate's parts: answer text, thought text (`thought: true`) and function calls. */
function convertParts(parts: readonly GeminiWirePart[], assembler: FunctionCallAssembler): ConvertedParts {
  const converted: ConvertedParts = { text: [], reasoning: [], toolCalls: [] };
  for (const part of parts) {
    if (part.functionCall) converted.toolCalls.push(...assembler.accept(part));
    else if (typeof part.text === 'string' && part.text !== '') (part.thought === true ? converted.reasoning : converted.text).push(part.text);
    // Other parts (an empty text carrying only a signature, inline images, code execution) have no
    // place in a chat completion.
  }
  return converted;
}

function toToolCall(call: AssembledFunctionCall, createId: () => string): ToolCall {
  return { id: encodeToolCallId(createId(), call.thoughtSignature), type: 'function', function: { name: call.name, arguments: call.arguments } };
}

function completionId(raw: GeminiWireResponse, fallbackId: string): string {
  return raw.responseId ? `chatcmpl-${raw.responseId}` : fallbackId;
}

/** Gemini answers 200 with no candidates when it refused the prompt itself; clients get a 400 like OpenAI's content filter. */
export function promptBlockedError(provider: string, raw: GeminiWireResponse): GatewayError {
  const reason = raw.promptFeedback?.blockReason ?? 'OTHER';
  return new GatewayError({
    message: `The prompt was blocked by the provider's safety filters (${reason})${raw.promptFeedback?.blockReasonMessage ? `: ${raw.promptFeedback.blockReasonMessage}` : '.'}`,
    status: 400,
    type: 'invalid_request_error',
    code: 'content_filter',
    provider,
    upstreamStatus: 200,
    upstreamBody: raw,
  });
}

/** A whole `generateContent` answer → a ChatCompletion, one choice per candidate. */
export function convertGeminiResponse(raw: GeminiWireResponse, options: GeminiConversionOptions): ChatCompletion {
  const candidates = raw.candidates ?? [];
  if (candidates.length === 0) {
    if (raw.promptFeedback?.blockReason) throw promptBlockedError(options.provider, raw);
    throw malformedResponseError(options.provider, 'the answer has no candidates');
  }
  const createId = options.createToolCallId ?? createToolCallId;
  const choices = candidates.map((candidate, position): ChatCompletionChoice => {
    const assembler = new FunctionCallAssembler(options.provider);
    const parts = convertParts(candidate.content?.parts ?? [], assembler);
    const rest = assembler.flush();
    if (rest) parts.toolCalls.push(rest);
    const message: ResponseMessage = {
      role: 'assistant',
      content: parts.text.length > 0 ? parts.text.join('') : parts.toolCalls.length > 0 ? null : '',
      refusal: null,
    };
    if (parts.reasoning.length > 0) message.reasoning_content = parts.reasoning.join('');
    if (parts.toolCalls.length > 0) message.tool_calls = parts.toolCalls.map((call) => toToolCall(call, createId));
    return {
      index: candidate.index ?? position,
      message,
      finish_reason: mapGeminiFinishReason(candidate.finishReason, parts.toolCalls.length > 0) ?? 'stop',
      logprobs: null,
    };
  });
  const completion: ChatCompletion = {
    id: completionId(raw, options.fallbackId),
    object: 'chat.completion',
    created: Math.floor((options.now ?? Date.now()) / 1000),
    model: raw.modelVersion || options.modelId,
    choices,
  };
  const usage = mapGeminiUsage(raw.usageMetadata);
  if (usage) completion.usage = usage;
  return completion;
}

interface StreamChoiceState {
  assembler: FunctionCallAssembler;
  started: boolean;
  toolCallCount: number;
  finished: boolean;
}

/** What a stream remembers between events. */
export interface GeminiStreamState {
  readonly options: GeminiConversionOptions;
  id: string | undefined;
  model: string;
  readonly created: number;
  usage: CompletionUsage | undefined;
  readonly choices: Map<number, StreamChoiceState>;
}

export function createGeminiStreamState(options: GeminiConversionOptions): GeminiStreamState {
  return {
    options,
    id: undefined,
    model: options.modelId,
    created: Math.floor((options.now ?? Date.now()) / 1000),
    usage: undefined,
    choices: new Map(),
  };
}

/**
 * One `streamGenerateContent` event → OpenAI chunks, one per candidate that has something to say. Text
 * and thoughts go out as they arrive; function calls go out whole once complete. An event with only an
 * empty text part (Gemini's last event carries the signature and finish reason that way) yields just the
 * finish reason.
 */
export function convertGeminiStreamEvent(raw: GeminiWireResponse, state: GeminiStreamState): ChatCompletionChunk[] {
  state.id ??= completionId(raw, state.options.fallbackId);
  if (raw.modelVersion) state.model = raw.modelVersion;
  const usage = mapGeminiUsage(raw.usageMetadata);
  // Each event carries the running totals: the last one is the answer's.
  if (usage) state.usage = usage;
  const candidates = raw.candidates ?? [];
  if (candidates.length === 0 && raw.promptFeedback?.blockReason) throw promptBlockedError(state.options.provider, raw);
  const chunks: ChatCompletionChunk[] = [];
  candidates.forEach((candidate, position) => {
    const chunk = convertCandidate(candidate, candidate.index ?? position, state);
    if (chunk) chunks.push(chunk);
  });
  return chunks;
}

function convertCandidate(candidate: GeminiWireCandidate, index: number, state: GeminiStreamState): ChatCompletionChunk | undefined {
  let choice = state.choices.get(index);
  if (!choice) {
    choice = { assembler: new FunctionCallAssembler(state.options.provider), started: false, toolCallCount: 0, finished: false };
    state.choices.set(index, choice);
  }
  const parts = convertParts(candidate.content?.parts ?? [], choice.assembler);
  if (candidate.finishReason) {
    const rest = choice.assembler.flush();
    if (rest) parts.toolCalls.push(rest);
  }
  const delta: ChunkDelta = {};
  if (parts.reasoning.length > 0) delta.reasoning_content = parts.reasoning.join('');
  if (parts.text.length > 0) delta.content = parts.text.join('');
  if (parts.toolCalls.length > 0) {
    const createId = state.options.createToolCallId ?? createToolCallId;
    delta.tool_calls = parts.toolCalls.map((call): ToolCallDelta => {
      const toolCall = toToolCall(call, createId);
      return { index: choice.toolCallCount++, id: toolCall.id, type: 'function', function: toolCall.function };
    });
  }
  const finishReason = mapGeminiFinishReason(candidate.finishReason, choice.toolCallCount > 0);
  if (finishReason) choice.finished = true;
  if (Object.keys(delta).length === 0 && !finishReason) return undefined;
  // The first delta of each choice names the role, as OpenAI's do.
  const outgoing: ChunkDelta = choice.started ? delta : { role: 'assistant', ...delta };
  choice.started = true;
  return {
    id: state.id!,
    object: 'chat.completion.chunk',
    created: state.created,
    model: state.model,
    choices: [{ index, delta: outgoing, finish_reason: finishReason, logprobs: null }],
  };
}

/**
 * Ends a stream: the usage chunk (`choices: []`) every adapter sends last. Gemini has no end marker, so a
 * stream is complete only when every candidate has a finish reason; anything else was cut off.
 */
export function finishGeminiStream(state: GeminiStreamState): ChatCompletionChunk {
  const provider = state.options.provider;
  if (state.choices.size === 0) throw malformedResponseError(provider, 'the stream ended without any candidate');
  for (const choice of state.choices.values()) {
    if (!choice.finished) {
      throw truncatedStreamError(provider);
    }
  }
  return {
    id: state.id ?? state.options.fallbackId,
    object: 'chat.completion.chunk',
    created: state.created,
    model: state.model,
    choices: [],
    usage: state.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  };
}
