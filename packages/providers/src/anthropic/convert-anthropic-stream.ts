import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChunkDelta,
  type CompletionUsage,
  type FinishReason,
  GatewayError,
  type ResponseMessage,
  type ToolCall,
} from '@switchyard/core';
import { malformedResponseError } from '../shared/upstream-error.js';
import {
  type AnthropicContentBlock,
  type AnthropicMessage,
  type AnthropicStreamEvent,
  anthropicStreamEventSchema,
  type AnthropicUsage,
} from './anthropic-api.js';
import { createAnthropicStreamError } from './anthropic-error.js';
import { mapAnthropicFinishReason } from './map-anthropic-finish-reason.js';

/**
 * Anthropic usage in OpenAI's terms. Anthropic counts cache reads and cache writes apart from
 * `input_tokens`; OpenAI's `prompt_tokens` is every token of the prompt, with the cached part in
 * `prompt_tokens_details.cached_tokens`. Cache writes are kept there too (`cache_creation_tokens`) because
 * they are billed at their own rate.
 */
export function convertAnthropicUsage(usage: AnthropicUsage | null | undefined): CompletionUsage {
  const inputTokens = usage?.input_tokens ?? 0;
  const cacheReadTokens = usage?.cache_read_input_tokens ?? 0;
  const cacheCreationTokens = usage?.cache_creation_input_tokens ?? 0;
  const completionTokens = usage?.output_tokens ?? 0;
  const promptTokens = inputTokens + cacheReadTokens + cacheCreationTokens;
  const converted: CompletionUsage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cacheReadTokens, cache_creation_tokens: cacheCreationTokens },
  };
  const thinkingTokens = usage?.output_tokens_details?.thinking_tokens;
  // Reported only when Anthropic counts them apart; a guessed 0 would mislead billing.
  if (typeof thinkingTokens === 'number') converted.completion_tokens_details = { reasoning_tokens: thinkingTokens };
  return converted;
}

/** A thinking block as kept on OpenAI messages, so a client can send it back on the next turn. */
export type ThinkingBlock = { type: 'thinking'; thinking: string; signature: string } | { type: 'redacted_thinking'; data: string };

/**
 * A whole Messages API answer as a chat completion. Text blocks join into `content`, thinking into
 * `reasoning_content` (and signed `thinking_blocks`), client tool calls into `tool_calls`. Server-run
 * tools (`server_tool_use`, web search and code execution results) have no OpenAI form and are left out:
 * their outcome is in the text that follows them.
 */
export function convertAnthropicResponse(message: AnthropicMessage, fallbackModel: string, fallbackId: string, now = Date.now()): ChatCompletion {
  const textParts: string[] = [];
  const reasoningParts: string[] = [];
  const thinkingBlocks: ThinkingBlock[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of message.content) {
    switch (block.type) {
      case 'text':
        if (block.text) textParts.push(block.text);
        break;
      case 'thinking':
        if (block.thinking) reasoningParts.push(block.thinking);
        if (block.signature) thinkingBlocks.push({ type: 'thinking', thinking: block.thinking ?? '', signature: block.signature });
        break;
      case 'redacted_thinking':
        if (block.data) thinkingBlocks.push({ type: 'redacted_thinking', data: block.data });
        break;
      case 'tool_use':
        toolCalls.push(toolCallFromBlock(block, `call_${fallbackId}_${toolCalls.length}`));
        break;
      default:
        break;
    }
  }
  const result: ResponseMessage = {
    role: 'assistant',
    content: textParts.length > 0 ? textParts.join('') : null,
    refusal: message.stop_reason === 'refusal' ? (message.stop_details?.explanation ?? null) : null,
  };
  if (reasoningParts.length > 0) result.reasoning_content = reasoningParts.join('');
  if (thinkingBlocks.length > 0) result.thinking_blocks = thinkingBlocks;
  if (toolCalls.length > 0) result.tool_calls = toolCalls;
  return {
    id: message.id || fallbackId,
    object: 'chat.completion',
    created: Math.floor(now / 1000),
    model: message.model || fallbackModel,
    choices: [{ index: 0, message: result, finish_reason: mapAnthropicFinishReason(message.stop_reason) ?? 'stop', logprobs: null }],
    usage: convertAnthropicUsage(message.usage),
  };
}

function toolCallFromBlock(block: AnthropicContentBlock, fallbackId: string): ToolCall {
  return {
    id: block.id || fallbackId,
    type: 'function',
    function: { name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) },
  };
}

type BlockState =
  | { kind: 'text' }
  | { kind: 'thinking'; parts: string[]; signature: string }
  | { kind: 'redacted_thinking'; data: string }
  | { kind: 'tool'; toolIndex: number; input: unknown; argumentsSent: boolean }
  /** Server tools, their results and block types this adapter does not know: nothing for the client. */
  | { kind: 'ignored' };

/** Per-stream memory: which Anthropic block is which, the usage so far, whether the end was seen. */
export interface AnthropicStreamState {
  provider: string;
  id: string;
  model: string;
  created: number;
  started: boolean;
  /** `message_stop` arrived: the stream is complete and nothing after it is read. */
  stopped: boolean;
  finishSent: boolean;
  stopReason: string | null;
  usage: AnthropicUsage;
  blocks: Map<number, BlockState & { stopped: boolean }>;
  toolCallCount: number;
}

export function createAnthropicStreamState(provider: string, fallbackModel: string, fallbackId: string, now = Date.now()): AnthropicStreamState {
  return {
    provider,
    id: fallbackId,
    model: fallbackModel,
    created: Math.floor(now / 1000),
    started: false,
    stopped: false,
    finishSent: false,
    stopReason: null,
    usage: {},
    blocks: new Map(),
    toolCallCount: 0,
  };
}

const knownEventTypes = new Set(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'ping', 'error']);

/**
 * Validates one event's JSON. Event types Anthropic may add later return undefined (its versioning policy
 * says clients must skip unknown events); a known type in the wrong shape is a malformed upstream.
 */
export function parseAnthropicStreamEvent(json: unknown, provider: string): AnthropicStreamEvent | undefined {
  const type = typeof json === 'object' && json !== null ? (json as { type?: unknown }).type : undefined;
  if (typeof type !== 'string') throw malformedResponseError(provider, 'a stream event has no type');
  if (!knownEventTypes.has(type)) return undefined;
  // Deltas are nearly every event of a stream: checked by hand, they cost a fraction of a schema parse.
  if (type === 'content_block_delta' && isWellFormedDelta(json as Record<string, unknown>)) return json as AnthropicStreamEvent;
  const parsed = anthropicStreamEventSchema.safeParse(json);
  if (!parsed.success) throw malformedResponseError(provider, `a '${type}' event does not have the documented shape`);
  return parsed.data;
}

const deltaTextField: Record<string, string> = {
  text_delta: 'text',
  thinking_delta: 'thinking',
  signature_delta: 'signature',
  input_json_delta: 'partial_json',
};

/** The common deltas in exactly their documented shape; anything else takes the schema path. */
function isWellFormedDelta(event: Record<string, unknown>): boolean {
  const index = event.index;
  const delta = event.delta as Record<string, unknown> | null | undefined;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) return false;
  if (typeof delta !== 'object' || delta === null || typeof delta.type !== 'string') return false;
  const field = deltaTextField[delta.type];
  return field !== undefined && typeof delta[field] === 'string';
}

/**
 * Turns one Anthropic stream event into the OpenAI chunks it stands for (often one, sometimes none).
 * Order violations — a second `message_start`, a delta for a block never started — throw a GatewayError:
 * such a stream is spliced or corrupted, and guessing would hand the client a mixed answer.
 */
export function convertAnthropicStreamEvent(event: AnthropicStreamEvent, state: AnthropicStreamState): ChatCompletionChunk[] {
  if (event.type === 'ping') return [];
  if (event.type === 'error') throw createAnthropicStreamError(state.provider, event);
  if (event.type === 'message_start') {
    if (state.started) throw malformedResponseError(state.provider, 'a second message_start arrived in one stream');
    state.started = true;
    const message = event.message;
    if (message.id) state.id = message.id;
    if (message.model) state.model = message.model;
    if (message.usage) state.usage = { ...message.usage };
    state.stopReason = message.stop_reason ?? null;
    const chunks = [chunk(state, { role: 'assistant', content: '' })];
    // A message may arrive already complete (tool calls made from code execution): its blocks count as streamed.
    for (const block of message.content ?? []) chunks.push(...completeBlockChunks(block, state));
    return chunks;
  }
  if (!state.started) throw malformedResponseError(state.provider, `a '${event.type}' event arrived before message_start`);
  if (state.stopped) throw malformedResponseError(state.provider, `a '${event.type}' event arrived after message_stop`);

  switch (event.type) {
    case 'content_block_start': {
      if (state.blocks.has(event.index)) throw malformedResponseError(state.provider, `content block ${event.index} started twice`);
      const block = event.content_block;
      switch (block.type) {
        case 'text':
          state.blocks.set(event.index, { kind: 'text', stopped: false });
          return block.text ? [chunk(state, { content: block.text })] : [];
        case 'thinking':
          state.blocks.set(event.index, { kind: 'thinking', parts: block.thinking ? [block.thinking] : [], signature: block.signature ?? '', stopped: false });
          return block.thinking ? [chunk(state, { reasoning_content: block.thinking })] : [];
        case 'redacted_thinking':
          state.blocks.set(event.index, { kind: 'redacted_thinking', data: block.data ?? '', stopped: false });
          return [];
        case 'tool_use': {
          const toolIndex = state.toolCallCount++;
          state.blocks.set(event.index, { kind: 'tool', toolIndex, input: block.input, argumentsSent: false, stopped: false });
          const id = block.id || `call_${state.id}_${toolIndex}`;
          return [chunk(state, { tool_calls: [{ index: toolIndex, id, type: 'function', function: { name: block.name ?? '', arguments: '' } }] })];
        }
        default:
          state.blocks.set(event.index, { kind: 'ignored', stopped: false });
          return [];
      }
    }
    case 'content_block_delta': {
      const block = openBlock(state, event.index, 'delta');
      const delta = event.delta;
      if (block.kind === 'ignored') return [];
      switch (delta.type) {
        case 'text_delta':
          expectKind(state, block, 'text', delta.type);
          return delta.text ? [chunk(state, { content: delta.text })] : [];
        case 'thinking_delta':
          if (block.kind !== 'thinking') return unexpectedDelta(state, delta.type, block.kind);
          if (!delta.thinking) return [];
          block.parts.push(delta.thinking);
          return [chunk(state, { reasoning_content: delta.thinking })];
        case 'signature_delta':
          if (block.kind !== 'thinking') return unexpectedDelta(state, delta.type, block.kind);
          block.signature += delta.signature ?? '';
          return [];
        case 'input_json_delta':
          if (block.kind !== 'tool') return unexpectedDelta(state, delta.type, block.kind);
          if (!delta.partial_json) return [];
          block.argumentsSent = true;
          return [chunk(state, { tool_calls: [{ index: block.toolIndex, function: { arguments: delta.partial_json } }] })];
        default:
          // citations_delta and later additions: nothing an OpenAI client reads.
          return [];
      }
    }
    case 'content_block_stop': {
      const block = openBlock(state, event.index, 'stop');
      block.stopped = true;
      if (block.kind === 'tool' && !block.argumentsSent) {
        // No fragments streamed: the arguments are the start event's input, `{}` for a tool without any.
        return [chunk(state, { tool_calls: [{ index: block.toolIndex, function: { arguments: JSON.stringify(block.input ?? {}) } }] })];
      }
      if (block.kind === 'thinking' && block.signature !== '') {
        const thinkingBlock: ThinkingBlock = { type: 'thinking', thinking: block.parts.join(''), signature: block.signature };
        return [chunk(state, { thinking_blocks: [thinkingBlock] })];
      }
      if (block.kind === 'redacted_thinking' && block.data !== '') {
        return [chunk(state, { thinking_blocks: [{ type: 'redacted_thinking', data: block.data }] })];
      }
      return [];
    }
    case 'message_delta': {
      if (event.delta.stop_reason) state.stopReason = event.delta.stop_reason;
      if (event.usage) mergeUsage(state.usage, event.usage);
      if (state.finishSent) return [];
      state.finishSent = true;
      const delta: ChunkDelta = {};
      if (state.stopReason === 'refusal' && event.delta.stop_details?.explanation) delta.refusal = event.delta.stop_details.explanation;
      return [chunk(state, delta, finishReason(state))];
    }
    case 'message_stop': {
      state.stopped = true;
      const chunks: ChatCompletionChunk[] = [];
      if (!state.finishSent) {
        state.finishSent = true;
        chunks.push(chunk(state, {}, finishReason(state)));
      }
      chunks.push(usageChunk(state));
      return chunks;
    }
  }
}

/**
 * What to emit when the upstream body ends. After `message_stop`: nothing more. After the final
 * `message_delta` the answer is complete, only the closing event was lost: the usage chunk still goes out.
 * Earlier, the answer was cut off, which is a retryable upstream failure, not a finished answer.
 */
export function finishAnthropicStream(state: AnthropicStreamState): ChatCompletionChunk[] {
  if (state.stopped) return [];
  if (state.finishSent) {
    state.stopped = true;
    return [usageChunk(state)];
  }
  if (!state.started) throw malformedResponseError(state.provider, 'the stream ended without a message_start');
  throw GatewayError.badGateway(`The upstream provider '${state.provider}' ended the stream before the answer was complete.`, state.provider);
}

function openBlock(state: AnthropicStreamState, index: number, what: 'delta' | 'stop') {
  const block = state.blocks.get(index);
  if (!block) throw malformedResponseError(state.provider, `a content block ${what} arrived for block ${index}, which was never started`);
  if (block.stopped) throw malformedResponseError(state.provider, `a content block ${what} arrived for block ${index}, which had already stopped`);
  return block;
}

function expectKind(state: AnthropicStreamState, block: BlockState, kind: BlockState['kind'], deltaType: string): void {
  if (block.kind !== kind) unexpectedDelta(state, deltaType, block.kind);
}

function unexpectedDelta(state: AnthropicStreamState, deltaType: string, blockKind: string): never {
  throw malformedResponseError(state.provider, `a '${deltaType}' arrived for a ${blockKind} block`);
}

function completeBlockChunks(block: AnthropicContentBlock, state: AnthropicStreamState): ChatCompletionChunk[] {
  switch (block.type) {
    case 'text':
      return block.text ? [chunk(state, { content: block.text })] : [];
    case 'thinking': {
      const chunks = block.thinking ? [chunk(state, { reasoning_content: block.thinking })] : [];
      if (block.signature) chunks.push(chunk(state, { thinking_blocks: [{ type: 'thinking', thinking: block.thinking ?? '', signature: block.signature }] }));
      return chunks;
    }
    case 'tool_use': {
      const toolIndex = state.toolCallCount++;
      const call = toolCallFromBlock(block, `call_${state.id}_${toolIndex}`);
      return [chunk(state, { tool_calls: [{ index: toolIndex, id: call.id, type: 'function', function: call.function }] })];
    }
    default:
      return [];
  }
}

/** `message_delta` usage is cumulative and may repeat the input counts (updated): later values win. */
function mergeUsage(target: AnthropicUsage, update: AnthropicUsage): void {
  for (const key of Object.keys(update) as Array<keyof AnthropicUsage>) {
    const value = update[key];
    if (value !== null && value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
}

function finishReason(state: AnthropicStreamState): FinishReason {
  return mapAnthropicFinishReason(state.stopReason) ?? 'stop';
}

function chunk(state: AnthropicStreamState, delta: ChunkDelta, finish: FinishReason | null = null): ChatCompletionChunk {
  return {
    id: state.id,
    object: 'chat.completion.chunk',
    created: state.created,
    model: state.model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  };
}

function usageChunk(state: AnthropicStreamState): ChatCompletionChunk {
  return {
    id: state.id,
    object: 'chat.completion.chunk',
    created: state.created,
    model: state.model,
    choices: [],
    usage: convertAnthropicUsage(state.usage),
  };
}
