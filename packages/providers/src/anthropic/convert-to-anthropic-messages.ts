import {
  type AssistantMessage,
  type ChatCompletionRequest,
  type ChatMessage,
  type FunctionTool,
  GatewayError,
  type ReasoningEffort,
  type ToolChoice,
  type UserContentPart,
} from '@switchyard/core';
import type {
  AnthropicContentBlockParam,
  AnthropicMessageParam,
  AnthropicMessagesRequest,
  AnthropicTextBlockParam,
  AnthropicToolChoice,
  AnthropicToolParam,
} from './anthropic-api.js';

/**
 * Anthropic requires `max_tokens` on every request; OpenAI makes it optional. When the client sets
 * neither `max_completion_tokens` nor `max_tokens`, this many output tokens are asked for: enough for a
 * long answer on every current Claude model, and the figure other OpenAI-to-Anthropic gateways use.
 */
export const defaultAnthropicMaxTokens = 4096;

/**
 * Extended-thinking budget for each OpenAI `reasoning_effort`. Anthropic's smallest budget is 1024 tokens;
 * each step up doubles or more, so `high` gives room for multi-step problems and `xhigh` for the hardest.
 */
export const thinkingBudgetForEffort: Record<Exclude<ReasoningEffort, 'none'>, number> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
  xhigh: 32768,
};

const minimumThinkingBudget = 1024;

/**
 * Appended to the system prompt for `response_format: json_object`. Anthropic has no schema-less JSON
 * mode: the instruction is the documented way to get one, and `json_schema` requests get the native,
 * constrained `output_config.format` instead.
 */
export const jsonObjectInstruction =
  'Respond with a single valid JSON object and nothing else: no prose before or after it and no Markdown code fences.';

export interface AnthropicRequestOptions {
  /** Output tokens asked for when the client sets no limit. Default `defaultAnthropicMaxTokens`. */
  defaultMaxTokens?: number;
}

/** The Messages API body for an OpenAI chat completion request. Throws a 400 GatewayError on input Anthropic cannot take. */
export function convertToAnthropicRequest(
  modelId: string,
  request: ChatCompletionRequest,
  options: AnthropicRequestOptions = {},
): AnthropicMessagesRequest {
  if (typeof request.n === 'number' && request.n > 1) {
    throw GatewayError.invalidRequest('Anthropic models return one choice per request: `n` must be 1.', 'n', 'unsupported_parameter');
  }
  if (request.logprobs === true) {
    throw GatewayError.invalidRequest('Anthropic models do not return log probabilities.', 'logprobs', 'unsupported_parameter');
  }
  const { system, messages } = convertToAnthropicMessages(request.messages);
  const body: AnthropicMessagesRequest = { model: modelId, max_tokens: 0, messages };

  const responseFormat = request.response_format;
  if (responseFormat?.type === 'json_schema' && responseFormat.json_schema?.schema) {
    body.output_config = { format: { type: 'json_schema', schema: responseFormat.json_schema.schema } };
  } else if (responseFormat?.type === 'json_schema' || responseFormat?.type === 'json_object') {
    system.push({ type: 'text', text: jsonObjectInstruction });
  }
  if (system.length > 0) body.system = system;

  if (request.temperature !== null && request.temperature !== undefined) {
    // OpenAI's range is 0–2, Anthropic's 0–1: a client tuned for OpenAI still gets an answer at the top of the range.
    body.temperature = Math.min(request.temperature, 1);
  }
  if (request.top_p !== null && request.top_p !== undefined) body.top_p = request.top_p;
  // `top_k` is not OpenAI's, but clients of Anthropic models send it through the OpenAI SDK's extra body.
  if (typeof request.top_k === 'number') body.top_k = request.top_k;
  if (request.stop !== null && request.stop !== undefined) {
    const stopSequences = (typeof request.stop === 'string' ? [request.stop] : request.stop).filter((sequence) => sequence !== '');
    if (stopSequences.length > 0) body.stop_sequences = stopSequences;
  }
  if (typeof request.user === 'string' && request.user !== '') body.metadata = { user_id: request.user };

  const tools = request.tools ?? [];
  if (tools.length > 0) {
    body.tools = tools.map((tool, index) => convertTool(tool, index));
    const toolChoice = convertToolChoice(request.tool_choice, request.parallel_tool_calls);
    if (toolChoice) body.tool_choice = toolChoice;
  }

  const requestedMaxTokens = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  const maxTokensParam = request.max_completion_tokens !== null && request.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  if (requestedMaxTokens !== undefined && (!Number.isInteger(requestedMaxTokens) || requestedMaxTokens < 1)) {
    throw GatewayError.invalidRequest(`\`${maxTokensParam}\` must be a positive integer.`, maxTokensParam);
  }
  const defaultMaxTokens = options.defaultMaxTokens ?? defaultAnthropicMaxTokens;
  const thinkingBudget = requestedThinkingBudget(request);
  if (thinkingBudget === undefined || !thinkingAllowed(messages)) {
    body.max_tokens = requestedMaxTokens ?? defaultMaxTokens;
    if (isRecord(request.thinking) && thinkingBudget === undefined) body.thinking = request.thinking;
  } else if (requestedMaxTokens === undefined) {
    // No limit from the client: the answer keeps the default room on top of what thinking may use.
    body.thinking = { type: 'enabled', budget_tokens: thinkingBudget };
    body.max_tokens = defaultMaxTokens + thinkingBudget;
  } else {
    // OpenAI's limit covers reasoning and answer together, and Anthropic's budget must stay below it.
    if (requestedMaxTokens <= minimumThinkingBudget) {
      throw GatewayError.invalidRequest(
        `\`${maxTokensParam}\` must be greater than ${minimumThinkingBudget} when reasoning is requested: Anthropic's smallest thinking budget is ${minimumThinkingBudget} tokens.`,
        maxTokensParam,
      );
    }
    body.thinking = { type: 'enabled', budget_tokens: Math.min(thinkingBudget, requestedMaxTokens - 1) };
    body.max_tokens = requestedMaxTokens;
  }
  if (request.stream === true) body.stream = true;
  return body;
}

/** The thinking budget asked for: Anthropic's own `thinking` object when sent through, else `reasoning_effort`. */
function requestedThinkingBudget(request: ChatCompletionRequest): number | undefined {
  if (isRecord(request.thinking)) {
    const thinking = request.thinking;
    return thinking.type === 'enabled' && typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : undefined;
  }
  const effort = request.reasoning_effort;
  if (effort === null || effort === undefined || effort === 'none') return undefined;
  const budget = thinkingBudgetForEffort[effort];
  if (budget === undefined) {
    throw GatewayError.invalidRequest(`Unknown reasoning_effort '${String(effort)}'.`, 'reasoning_effort');
  }
  return budget;
}

/**
 * With thinking on, Anthropic requires the assistant turn that made the pending tool calls to start with
 * its signed thinking block. OpenAI clients usually drop those blocks (they keep `reasoning_content` at
 * most), so such a conversation is continued without thinking rather than failing.
 */
function thinkingAllowed(messages: AnthropicMessageParam[]): boolean {
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index]!;
    if (message.role !== 'assistant') continue;
    if (!message.content.some((block) => block.type === 'tool_use')) return true;
    const first = message.content[0];
    return first?.type === 'thinking' || first?.type === 'redacted_thinking';
  }
  return true;
}

export interface ConvertedMessages {
  system: AnthropicTextBlockParam[];
  messages: AnthropicMessageParam[];
}

/**
 * OpenAI messages as Anthropic turns:
 * - system and developer messages, wherever they are, become the top-level `system` blocks;
 * - consecutive messages of one role merge into one turn, as Anthropic wants turns to alternate;
 * - tool results (`role: tool`) become `tool_result` blocks of a user turn, placed before any text that
 *   turn carries, as Anthropic requires;
 * - assistant tool calls become `tool_use` blocks with parsed arguments, after the assistant's text;
 * - `thinking_blocks` kept from an earlier answer go back as signed thinking blocks.
 */
export function convertToAnthropicMessages(messages: readonly ChatMessage[]): ConvertedMessages {
  const system: AnthropicTextBlockParam[] = [];
  const turns: AnthropicMessageParam[] = [];

  const append = (role: 'user' | 'assistant', blocks: AnthropicContentBlockParam[]) => {
    if (blocks.length === 0) return;
    const last = turns[turns.length - 1];
    if (last?.role !== role) {
      turns.push({ role, content: blocks });
      return;
    }
    for (const block of blocks) {
      if (block.type === 'tool_result') {
        // Tool results lead their user turn: insert after earlier results, before any text.
        const firstOther = last.content.findIndex((existing) => existing.type !== 'tool_result');
        if (firstOther === -1) last.content.push(block);
        else last.content.splice(firstOther, 0, block);
      } else {
        last.content.push(block);
      }
    }
  };

  messages.forEach((message, messageIndex) => {
    const path = `messages[${messageIndex}]`;
    switch (message.role) {
      case 'system':
      case 'developer': {
        const parts = typeof message.content === 'string' ? [{ type: 'text' as const, text: message.content }] : message.content;
        for (const part of parts) {
          if (part.text !== '') system.push(withCacheControl({ type: 'text', text: part.text }, part.cache_control));
        }
        applyMessageCacheControl(system, message.cache_control);
        break;
      }
      case 'user': {
        const blocks =
          typeof message.content === 'string'
            ? textBlocks(message.content)
            : message.content.flatMap((part, partIndex) => convertUserPart(part, `${path}.content[${partIndex}]`));
        applyMessageCacheControl(blocks, message.cache_control);
        append('user', blocks);
        break;
      }
      case 'assistant': {
        const blocks = convertAssistantMessage(message, path);
        applyMessageCacheControl(blocks, message.cache_control);
        append('assistant', blocks);
        break;
      }
      case 'tool': {
        const content =
          typeof message.content === 'string'
            ? message.content
            : message.content.filter((part) => part.text !== '').map((part) => withCacheControl({ type: 'text' as const, text: part.text }, part.cache_control));
        const block: AnthropicContentBlockParam = { type: 'tool_result', tool_use_id: toAnthropicToolId(message.tool_call_id) };
        if (content.length > 0) block.content = content;
        const blocks: AnthropicContentBlockParam[] = [block];
        applyMessageCacheControl(blocks, message.cache_control);
        append('user', blocks);
        break;
      }
      case 'function':
        throw GatewayError.invalidRequest(
          'Legacy `function` messages are not supported for Anthropic models: send tool calls and `tool` messages instead.',
          `${path}.role`,
        );
      default:
        throw GatewayError.invalidRequest(`Unknown message role '${String((message as { role: unknown }).role)}'.`, `${path}.role`);
    }
  });
  if (turns.length === 0) {
    throw GatewayError.invalidRequest('At least one non-empty user or assistant message is required.', 'messages');
  }
  return { system, messages: turns };
}

function convertAssistantMessage(message: AssistantMessage, path: string): AnthropicContentBlockParam[] {
  const blocks: AnthropicContentBlockParam[] = [];
  const thinkingBlocks = message.thinking_blocks;
  if (Array.isArray(thinkingBlocks)) {
    for (const block of thinkingBlocks) {
      if (!isRecord(block)) continue;
      if (block.type === 'thinking' && typeof block.thinking === 'string' && typeof block.signature === 'string' && block.signature !== '') {
        blocks.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
      } else if (block.type === 'redacted_thinking' && typeof block.data === 'string') {
        blocks.push({ type: 'redacted_thinking', data: block.data });
      }
    }
  }
  if (typeof message.content === 'string') {
    blocks.push(...textBlocks(message.content));
  } else if (Array.isArray(message.content)) {
    for (const part of message.content) {
      // A refusal part is the model's own earlier refusal: as text it keeps the conversation faithful.
      const text = part.type === 'text' ? part.text : part.refusal;
      if (text !== '') blocks.push(withCacheControl({ type: 'text', text }, part.cache_control));
    }
  }
  message.tool_calls?.forEach((call, callIndex) => {
    blocks.push({
      type: 'tool_use',
      id: toAnthropicToolId(call.id),
      name: call.function.name,
      input: parseToolArguments(call.function.arguments, `${path}.tool_calls[${callIndex}].function.arguments`),
    });
  });
  return blocks;
}

function convertUserPart(part: UserContentPart, path: string): AnthropicContentBlockParam[] {
  switch (part.type) {
    case 'text':
      return part.text === '' ? [] : [withCacheControl({ type: 'text', text: part.text }, part.cache_control)];
    case 'image_url':
      return [withCacheControl({ type: 'image', source: convertImageUrl(part.image_url.url, `${path}.image_url.url`) }, part.cache_control)];
    case 'file':
      return [withCacheControl(convertFile(part.file, `${path}.file`), part.cache_control)];
    case 'input_audio':
      throw GatewayError.invalidRequest('Anthropic models do not accept audio input.', path, 'unsupported_content');
    default:
      throw GatewayError.invalidRequest(`Unsupported content part type '${String((part as { type: unknown }).type)}'.`, `${path}.type`);
  }
}

const dataUrlPattern = /^data:([^;,]+)((?:;[^;,]*)*),(.*)$/s;

function parseDataUrl(url: string): { mediaType: string; base64: boolean; data: string } | undefined {
  const match = dataUrlPattern.exec(url);
  if (!match) return undefined;
  return { mediaType: match[1]!.toLowerCase(), base64: match[2]!.split(';').includes('base64'), data: match[3]! };
}

/** `data:image/png;base64,…` becomes a base64 source; an http(s) URL is fetched by Anthropic itself. */
function convertImageUrl(url: string, path: string) {
  if (url.startsWith('data:')) {
    const parsed = parseDataUrl(url);
    if (!parsed || !parsed.base64) {
      throw GatewayError.invalidRequest('Image data URLs must be base64: `data:image/png;base64,…`.', path, 'invalid_image_url');
    }
    if (!parsed.mediaType.startsWith('image/')) {
      throw GatewayError.invalidRequest(`'${parsed.mediaType}' is not an image type.`, path, 'invalid_image_format');
    }
    return { type: 'base64' as const, media_type: parsed.mediaType, data: parsed.data };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'url' as const, url };
  throw GatewayError.invalidRequest('Image URLs must be http(s) URLs or base64 data URLs.', path, 'invalid_image_url');
}

/** OpenAI's inline files (`file_data` as a data URL) become Anthropic documents: PDFs and plain text. */
function convertFile(file: { file_data?: string; file_id?: string; filename?: string }, path: string): AnthropicContentBlockParam {
  if (file.file_data === undefined) {
    throw GatewayError.invalidRequest('Anthropic models take files inline only: send `file_data` as a data URL, not `file_id`.', path, 'unsupported_content');
  }
  const parsed = parseDataUrl(file.file_data);
  if (!parsed || !parsed.base64) {
    throw GatewayError.invalidRequest('`file_data` must be a base64 data URL, e.g. `data:application/pdf;base64,…`.', `${path}.file_data`);
  }
  const title = file.filename ? { title: file.filename } : {};
  if (parsed.mediaType === 'application/pdf') {
    return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: parsed.data }, ...title };
  }
  if (parsed.mediaType === 'text/plain') {
    const text = Buffer.from(parsed.data, 'base64').toString('utf8');
    return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: text }, ...title };
  }
  throw GatewayError.invalidRequest(`Anthropic models accept PDF and plain-text files, not '${parsed.mediaType}'.`, `${path}.file_data`, 'unsupported_content');
}

function parseToolArguments(text: string, path: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw GatewayError.invalidRequest('Tool call arguments must be a JSON object.', path);
  }
  if (!isRecord(parsed)) throw GatewayError.invalidRequest('Tool call arguments must be a JSON object.', path);
  return parsed;
}

function convertTool(tool: FunctionTool, index: number): AnthropicToolParam {
  if (tool.type !== 'function' || !tool.function) {
    throw GatewayError.invalidRequest(`Only function tools are supported for Anthropic models, got '${String(tool.type)}'.`, `tools[${index}].type`);
  }
  const parameters = tool.function.parameters ?? {};
  const converted: AnthropicToolParam = {
    name: tool.function.name,
    // Anthropic requires an object schema; OpenAI lets a tool without parameters omit it.
    input_schema: parameters.type === undefined ? { type: 'object', properties: {}, ...parameters } : parameters,
  };
  if (tool.function.description) converted.description = tool.function.description;
  if (tool.function.strict === true) converted.strict = true;
  if (tool.cache_control !== undefined) converted.cache_control = tool.cache_control;
  return converted;
}

function convertToolChoice(choice: ToolChoice | undefined, parallelToolCalls: boolean | undefined): AnthropicToolChoice | undefined {
  const disableParallel = parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return parallelToolCalls === false ? { type: 'auto', disable_parallel_tool_use: true } : undefined;
  if (choice === 'auto') return { type: 'auto', ...disableParallel };
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...disableParallel };
  if (isRecord(choice) && choice.type === 'function' && isRecord(choice.function) && typeof choice.function.name === 'string') {
    return { type: 'tool', name: choice.function.name, ...disableParallel };
  }
  throw GatewayError.invalidRequest('`tool_choice` must be "auto", "none", "required" or a named function.', 'tool_choice');
}

/** Anthropic tool ids allow letters, digits, `_` and `-`; ids minted elsewhere may carry more. */
export function toAnthropicToolId(id: string): string {
  return id.replace(/[^a-zA-Z0-9_-]/g, '_');
}

function textBlocks(text: string): AnthropicTextBlockParam[] {
  // Anthropic rejects empty text blocks; an empty string carries nothing anyway.
  return text === '' ? [] : [{ type: 'text', text }];
}

/** Copies a client's `cache_control` (Anthropic prompt caching, as OpenAI-SDK clients of Claude send it). */
function withCacheControl<Block extends AnthropicContentBlockParam>(block: Block, cacheControl: unknown): Block {
  if (isRecord(cacheControl)) (block as { cache_control?: unknown }).cache_control = cacheControl;
  return block;
}

/** A `cache_control` on a whole message marks the end of its content: its last block. */
function applyMessageCacheControl(blocks: AnthropicContentBlockParam[], cacheControl: unknown): void {
  const last = blocks[blocks.length - 1];
  if (last && last.type !== 'thinking' && last.type !== 'redacted_thinking') withCacheControl(last, cacheControl);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
