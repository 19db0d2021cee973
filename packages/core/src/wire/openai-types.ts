/**
 * The canonical wire format of Switchyard: OpenAI Chat Completions.
 *
 * Every client speaks it, every provider adapter translates to and from it, and every plugin sees it.
 * These are structural types only; the zod schemas that validate incoming bodies live in `schemas.ts`.
 * Index signatures keep unknown fields: a parameter the gateway does not know yet still reaches the
 * provider untouched.
 */

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';

export interface TextContentPart {
  type: 'text';
  text: string;
  [extra: string]: unknown;
}

export interface ImageContentPart {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
  [extra: string]: unknown;
}

export interface AudioContentPart {
  type: 'input_audio';
  input_audio: { data: string; format: string };
  [extra: string]: unknown;
}

export interface FileContentPart {
  type: 'file';
  file: { file_data?: string; file_id?: string; filename?: string };
  [extra: string]: unknown;
}

export interface RefusalContentPart {
  type: 'refusal';
  refusal: string;
  [extra: string]: unknown;
}

export type UserContentPart = TextContentPart | ImageContentPart | AudioContentPart | FileContentPart;

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  [extra: string]: unknown;
}

export interface SystemMessage {
  role: 'system' | 'developer';
  content: string | TextContentPart[];
  name?: string;
  [extra: string]: unknown;
}

export interface UserMessage {
  role: 'user';
  content: string | UserContentPart[];
  name?: string;
  [extra: string]: unknown;
}

export interface AssistantMessage {
  role: 'assistant';
  content?: string | Array<TextContentPart | RefusalContentPart> | null;
  refusal?: string | null;
  name?: string;
  tool_calls?: ToolCall[];
  /** Reasoning text some providers return (DeepSeek, xAI, Anthropic thinking, Gemini thoughts). */
  reasoning_content?: string | null;
  [extra: string]: unknown;
}

export interface ToolMessage {
  role: 'tool';
  tool_call_id: string;
  content: string | TextContentPart[];
  [extra: string]: unknown;
}

export interface FunctionMessage {
  role: 'function';
  name: string;
  content: string | null;
  [extra: string]: unknown;
}

export type ChatMessage = SystemMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage;

export interface FunctionTool {
  type: 'function';
  function: {
    name: string;
    description?: string;
    parameters?: Record<string, unknown>;
    strict?: boolean | null;
  };
  [extra: string]: unknown;
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      json_schema: { name: string; description?: string; schema?: Record<string, unknown>; strict?: boolean | null };
    };

export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh';

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean; [extra: string]: unknown } | null;
  temperature?: number | null;
  top_p?: number | null;
  n?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stop?: string | string[] | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  tools?: FunctionTool[];
  tool_choice?: ToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: ResponseFormat;
  seed?: number | null;
  user?: string;
  metadata?: Record<string, string> | null;
  reasoning_effort?: ReasoningEffort | null;
  service_tier?: string | null;
  [extra: string]: unknown;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number; [extra: string]: unknown } | null;
  completion_tokens_details?: {
    reasoning_tokens?: number;
    audio_tokens?: number;
    accepted_prediction_tokens?: number;
    rejected_prediction_tokens?: number;
    [extra: string]: unknown;
  } | null;
  [extra: string]: unknown;
}

export interface ResponseMessage {
  role: 'assistant';
  content: string | null;
  refusal: string | null;
  tool_calls?: ToolCall[];
  reasoning_content?: string;
  annotations?: unknown[];
  [extra: string]: unknown;
}

export interface ChatCompletionChoice {
  index: number;
  message: ResponseMessage;
  finish_reason: FinishReason | null;
  logprobs: unknown | null;
  [extra: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage?: CompletionUsage;
  system_fingerprint?: string;
  service_tier?: string | null;
  [extra: string]: unknown;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
  [extra: string]: unknown;
}

export interface ChunkDelta {
  role?: 'assistant';
  content?: string | null;
  refusal?: string | null;
  reasoning_content?: string | null;
  tool_calls?: ToolCallDelta[];
  [extra: string]: unknown;
}

export interface ChatCompletionChunkChoice {
  index: number;
  delta: ChunkDelta;
  finish_reason: FinishReason | null;
  logprobs?: unknown | null;
  [extra: string]: unknown;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChatCompletionChunkChoice[];
  usage?: CompletionUsage | null;
  system_fingerprint?: string;
  service_tier?: string | null;
  [extra: string]: unknown;
}

export interface EmbeddingRequest {
  model: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  user?: string;
  [extra: string]: unknown;
}

export interface Embedding {
  object: 'embedding';
  index: number;
  embedding: number[] | string;
}

export interface EmbeddingResponse {
  object: 'list';
  data: Embedding[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
  [extra: string]: unknown;
}

export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  [extra: string]: unknown;
}

export interface ModelList {
  object: 'list';
  data: ModelObject[];
}

export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}
