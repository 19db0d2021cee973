import { GatewayError } from '@switchyard/core';
import type {
  AssistantMessage,
  ChatCompletionRequest,
  ChatMessage,
  FunctionTool,
  ReasoningEffort,
  ToolChoice,
  UserContentPart,
} from '@switchyard/core';
import { convertJsonSchemaToGemini, isEmptyObjectSchema } from './convert-json-schema-to-gemini.js';
import type {
  GeminiContent,
  GeminiFunctionDeclaration,
  GeminiGenerateContentRequest,
  GeminiGenerationConfig,
  GeminiPart,
  GeminiThinkingConfig,
  GeminiToolConfig,
} from './gemini-api.js';
import { decodeThoughtSignature } from './gemini-tool-call-id.js';

/**
 * The signature Google documents for function calls the model did not produce in this conversation
 * (history from another model, calls written by the application): Gemini 3 accepts it in place of a
 * real one instead of rejecting the request.
 */
export const skipThoughtSignature = 'skip_thought_signature_validator';

/** The body of `:generateContent` / `:streamGenerateContent` for an OpenAI chat request. */
export function convertToGeminiRequest(modelId: string, request: ChatCompletionRequest): GeminiGenerateContentRequest {
  const { contents, systemInstruction } = convertToGeminiMessages(request.messages, { modelId });
  const body: GeminiGenerateContentRequest = { contents };
  if (systemInstruction) body.systemInstruction = systemInstruction;
  if (request.tools && request.tools.length > 0) {
    body.tools = [{ functionDeclarations: request.tools.map(convertTool) }];
    const toolConfig = convertToolChoice(request.tool_choice);
    if (toolConfig) body.toolConfig = toolConfig;
  }
  const generationConfig = convertGenerationConfig(modelId, request);
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  // Gemini-only settings some clients send alongside the OpenAI fields.
  const safetySettings = request.safety_settings ?? request.safetySettings;
  if (Array.isArray(safetySettings)) (body as unknown as Record<string, unknown>).safetySettings = safetySettings;
  const cachedContent = request.cached_content ?? request.cachedContent;
  if (typeof cachedContent === 'string' && cachedContent !== '') (body as unknown as Record<string, unknown>).cachedContent = cachedContent;
  return body;
}

export interface GeminiMessagesOptions {
  /** Decides whether function calls without a signature get the documented placeholder (Gemini 3 and later). */
  modelId: string;
}

/**
 * OpenAI messages → Gemini `contents` and `systemInstruction`:
 * - system and developer messages join the system instruction (Gemini has one, not per-turn ones);
 * - assistant turns become `model` turns, tool calls become `functionCall` parts with the thought
 *   signature recovered from the tool call id;
 * - tool results become `functionResponse` parts. OpenAI names the call by id, Gemini by function name,
 *   so names are looked up in the assistant tool calls that came before;
 * - consecutive turns of one role merge: Gemini expects user and model turns to alternate.
 */
export function convertToGeminiMessages(
  messages: readonly ChatMessage[],
  options: GeminiMessagesOptions,
): { contents: GeminiContent[]; systemInstruction?: { parts: Array<{ text: string }> } } {
  const systemParts: Array<{ text: string }> = [];
  const contents: GeminiContent[] = [];
  const toolNames = new Map<string, string>();
  const needsSignature = geminiMajorVersion(options.modelId) >= 3;

  const append = (role: GeminiContent['role'], parts: GeminiPart[]) => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  messages.forEach((message, index) => {
    const param = `messages[${index}]`;
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = textOf(message.content);
        if (text !== '') systemParts.push({ text });
        return;
      }
      case 'user': {
        const parts = typeof message.content === 'string' ? textParts(message.content) : message.content.flatMap((part, partIndex) => convertUserPart(part, `${param}.content[${partIndex}]`));
        append('user', parts);
        return;
      }
      case 'assistant': {
        append('model', convertAssistantMessage(message, param, toolNames, needsSignature));
        return;
      }
      case 'tool': {
        const name = toolNames.get(message.tool_call_id);
        if (name === undefined) {
          throw GatewayError.invalidRequest(
            `The tool message answers tool call '${message.tool_call_id}', which no earlier assistant message made; Gemini needs the function name of each result.`,
            `${param}.tool_call_id`,
            'invalid_value',
          );
        }
        append('user', [{ functionResponse: { name, response: toFunctionResponse(textOf(message.content)) } }]);
        return;
      }
      case 'function': {
        append('user', [{ functionResponse: { name: message.name, response: toFunctionResponse(message.content ?? '') } }]);
        return;
      }
      default:
        throw GatewayError.invalidRequest(`Unsupported message role '${(message as { role: string }).role}'.`, `${param}.role`, 'invalid_value');
    }
  });

  if (contents.length === 0) {
    throw GatewayError.invalidRequest('Gemini needs at least one user or assistant message besides the system messages.', 'messages', 'invalid_value');
  }
  return systemParts.length > 0 ? { contents, systemInstruction: { parts: systemParts } } : { contents };
}

function convertAssistantMessage(message: AssistantMessage, param: string, toolNames: Map<string, string>, needsSignature: boolean): GeminiPart[] {
  const parts: GeminiPart[] = [];
  if (typeof message.content === 'string') parts.push(...textParts(message.content));
  else if (Array.isArray(message.content)) {
    for (const part of message.content) parts.push(...textParts(part.type === 'refusal' ? part.refusal : part.text));
  }
  const calls = message.tool_calls ?? [];
  calls.forEach((call, callIndex) => {
    toolNames.set(call.id, call.function.name);
    const part: GeminiPart = { functionCall: { name: call.function.name, args: parseArguments(call.function.arguments, `${param}.tool_calls[${callIndex}].function.arguments`) } };
    const signature = decodeThoughtSignature(call.id);
    if (signature) part.thoughtSignature = signature;
    // Gemini 3 checks the signature of the first call of each turn only.
    else if (needsSignature && callIndex === 0) part.thoughtSignature = skipThoughtSignature;
    parts.push(part);
  });
  return parts;
}

function parseArguments(text: string, param: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw GatewayError.invalidRequest('Tool call arguments must be a JSON object; Gemini takes them as structured data.', param, 'invalid_value');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw GatewayError.invalidRequest('Tool call arguments must be a JSON object; Gemini takes them as structured data.', param, 'invalid_value');
  }
  return parsed as Record<string, unknown>;
}

/**
 * A tool result as Gemini's `response` object. A JSON object goes as it is (an `error` key in it is how
 * Gemini is told the call failed); anything else is the call's `output`.
 */
export function toFunctionResponse(content: string): Record<string, unknown> {
  const trimmed = content.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // Not JSON after all: it is text output.
    }
  }
  return { output: content };
}

function textOf(content: string | Array<{ type: string; text?: string }> | null | undefined): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content.map((part) => part.text ?? '').join('');
}

/** Gemini rejects an empty text part ("required oneof field 'data'"), so empty text adds no part. */
function textParts(text: string): GeminiPart[] {
  return text === '' ? [] : [{ text }];
}

function convertUserPart(part: UserContentPart, param: string): GeminiPart[] {
  switch (part.type) {
    case 'text':
      return textParts(part.text);
    case 'image_url':
      return [convertUrl(part.image_url.url, `${param}.image_url.url`)];
    case 'input_audio': {
      if (part.input_audio.data === '') throw GatewayError.invalidRequest('The audio data is empty.', `${param}.input_audio.data`, 'invalid_value');
      return [{ inlineData: { mimeType: `audio/${part.input_audio.format}`, data: part.input_audio.data } }];
    }
    case 'file': {
      const file = part.file;
      if (file.file_data) {
        if (file.file_data.startsWith('data:')) return [convertUrl(file.file_data, `${param}.file.file_data`)];
        return [{ inlineData: { mimeType: guessMimeType(file.filename ?? '') ?? 'application/pdf', data: file.file_data } }];
      }
      if (file.file_id) {
        const mimeType = guessMimeType(file.filename ?? file.file_id);
        return [{ fileData: mimeType ? { fileUri: file.file_id, mimeType } : { fileUri: file.file_id } }];
      }
      throw GatewayError.invalidRequest('A file part needs file_data or file_id.', `${param}.file`, 'invalid_value');
    }
    default:
      throw GatewayError.invalidRequest(`Unsupported content part type '${(part as { type: string }).type}'.`, `${param}.type`, 'invalid_value');
  }
}

/** `data:` URLs are sent inline; any other URL is a file Gemini fetches (`fileData.fileUri`). */
export function convertUrl(url: string, param: string): GeminiPart {
  if (url.startsWith('data:')) {
    const comma = url.indexOf(',');
    if (comma < 0) throw GatewayError.invalidRequest('The data URL has no comma before its data.', param, 'invalid_value');
    const header = url.slice(5, comma);
    const payload = url.slice(comma + 1);
    const [mimeType = '', ...attributes] = header.split(';');
    if (mimeType === '' || payload === '') throw GatewayError.invalidRequest('The data URL needs a media type and data.', param, 'invalid_value');
    const data = attributes.includes('base64') ? payload : Buffer.from(decodeURIComponent(payload), 'utf8').toString('base64');
    return { inlineData: { mimeType, data } };
  }
  const mimeType = guessMimeType(url);
  return { fileData: mimeType ? { fileUri: url, mimeType } : { fileUri: url } };
}

const mimeTypesByExtension: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
  mp3: 'audio/mp3',
  wav: 'audio/wav',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  mp4: 'video/mp4',
  mov: 'video/mov',
  webm: 'video/webm',
  txt: 'text/plain',
};

/** The media type of a URL or file name from its extension, ignoring any query string. */
export function guessMimeType(urlOrName: string): string | undefined {
  const path = urlOrName.split(/[?#]/, 1)[0]!;
  const dot = path.lastIndexOf('.');
  if (dot < 0 || dot < path.lastIndexOf('/')) return undefined;
  return mimeTypesByExtension[path.slice(dot + 1).toLowerCase()];
}

function convertTool(tool: FunctionTool): GeminiFunctionDeclaration {
  const declaration: GeminiFunctionDeclaration = { name: tool.function.name };
  if (tool.function.description) declaration.description = tool.function.description;
  const parameters = tool.function.parameters;
  if (parameters && !isEmptyObjectSchema(parameters)) {
    const converted = convertJsonSchemaToGemini(parameters);
    if (converted) declaration.parameters = converted;
    else declaration.parametersJsonSchema = parameters;
  }
  return declaration;
}

function convertToolChoice(choice: ToolChoice | undefined): GeminiToolConfig | undefined {
  if (choice === undefined) return undefined;
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
}

function convertGenerationConfig(modelId: string, request: ChatCompletionRequest): GeminiGenerationConfig {
  const config: GeminiGenerationConfig = {};
  if (request.temperature != null) config.temperature = request.temperature;
  if (request.top_p != null) config.topP = request.top_p;
  if (typeof request.top_k === 'number') config.topK = request.top_k;
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens != null) config.maxOutputTokens = maxTokens;
  if (typeof request.stop === 'string') config.stopSequences = [request.stop];
  else if (Array.isArray(request.stop) && request.stop.length > 0) config.stopSequences = request.stop;
  if (request.n != null && request.n > 1) config.candidateCount = request.n;
  if (request.presence_penalty != null) config.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty != null) config.frequencyPenalty = request.frequency_penalty;
  if (request.seed != null) config.seed = request.seed;

  const format = request.response_format;
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  else if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    const schema = format.json_schema.schema;
    if (schema && Object.keys(schema).length > 0) {
      const converted = isEmptyObjectSchema(schema) ? undefined : convertJsonSchemaToGemini(schema, { orderProperties: true });
      if (converted) config.responseSchema = converted;
      else config.responseJsonSchema = schema;
    }
  }

  if (request.reasoning_effort) config.thinkingConfig = convertReasoningEffort(modelId, request.reasoning_effort);
  return config;
}

/**
 * `reasoning_effort` → `thinkingConfig`. Gemini 3 takes a level (`low`/`high` on every Gemini 3 model);
 * earlier thinking models take a token budget, with Google's own mapping of effort to budget. Thoughts are
 * asked for so they come back as `reasoning_content`.
 */
export function convertReasoningEffort(modelId: string, effort: ReasoningEffort): GeminiThinkingConfig {
  if (geminiMajorVersion(modelId) >= 3) {
    return { thinkingLevel: effort === 'none' || effort === 'minimal' || effort === 'low' ? 'low' : 'high', includeThoughts: true };
  }
  switch (effort) {
    case 'none':
      return { thinkingBudget: 0 };
    case 'minimal':
    case 'low':
      return { thinkingBudget: 1024, includeThoughts: true };
    case 'medium':
      return { thinkingBudget: 8192, includeThoughts: true };
    default:
      return { thinkingBudget: 24576, includeThoughts: true };
  }
}

/** 3 for `gemini-3-pro-preview`, 2 for `gemini-2.5-flash`, 0 when the name does not say. */
export function geminiMajorVersion(modelId: string): number {
  const match = /^(?:models\/)?gemini-(\d+)/.exec(modelId);
  return match ? Number(match[1]) : 0;
}
