import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { ChatCompletionRequest, EmbeddingRequest } from './openai-types.js';
import { isPlainChatCompletionRequest } from './request-check.js';

/*
 * Schemas for what clients send. Every object is loose: a field the gateway does not know passes through
 * to the provider untouched, because providers add parameters faster than gateways learn them.
 * Known fields are checked strictly enough that a provider never sees a request it would reject for shape.
 */

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const imagePart = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).optional() }),
});
const audioPart = z.looseObject({
  type: z.literal('input_audio'),
  input_audio: z.looseObject({ data: z.string(), format: z.string() }),
});
const filePart = z.looseObject({
  type: z.literal('file'),
  file: z.looseObject({ file_data: z.string().optional(), file_id: z.string().optional(), filename: z.string().optional() }),
});
const refusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });

const userPart = z.discriminatedUnion('type', [textPart, imagePart, audioPart, filePart]);

const toolCall = z.looseObject({
  id: z.string(),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

const systemMessage = z.looseObject({
  role: z.enum(['system', 'developer']),
  content: z.union([z.string(), z.array(textPart)]),
  name: z.string().optional(),
});
const userMessage = z.looseObject({
  role: z.literal('user'),
  content: z.union([z.string(), z.array(userPart)]),
  name: z.string().optional(),
});
const assistantMessage = z.looseObject({
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart]))]).nullish(),
  refusal: z.string().nullish(),
  name: z.string().optional(),
  tool_calls: z.array(toolCall).optional(),
  reasoning_content: z.string().nullish(),
});
const toolMessage = z.looseObject({
  role: z.literal('tool'),
  tool_call_id: z.string(),
  content: z.union([z.string(), z.array(textPart)]),
});
const functionMessage = z.looseObject({
  role: z.literal('function'),
  name: z.string(),
  content: z.string().nullable(),
});

const message = z.discriminatedUnion('role', [
  systemMessage.extend({ role: z.literal('system') }),
  systemMessage.extend({ role: z.literal('developer') }),
  userMessage,
  assistantMessage,
  toolMessage,
  functionMessage,
]);

const functionTool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, underscores, dots or dashes'),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) }),
]);

const responseFormat = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

const positiveInteger = z.number().int().positive();

export const chatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  max_tokens: positiveInteger.nullish(),
  max_completion_tokens: positiveInteger.nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  tools: z.array(functionTool).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormat.optional(),
  seed: z.number().int().nullish(),
  user: z.string().optional(),
  metadata: z.record(z.string(), z.string()).nullish(),
  reasoning_effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullish(),
  service_tier: z.string().nullish(),
});

export const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: positiveInteger.optional(),
  user: z.string().optional(),
});

/** `messages.0.content` → `messages[0].content`, the way OpenAI names request fields. */
export function formatParamPath(path: ReadonlyArray<PropertyKey>): string | null {
  let result = '';
  for (const segment of path) {
    if (typeof segment === 'number') result += `[${segment}]`;
    else result += result === '' ? String(segment) : `.${String(segment)}`;
  }
  return result === '' ? null : result;
}

function describeIssue(issue: z.core.$ZodIssue): { message: string; param: string | null } {
  const param = formatParamPath(issue.path);
  const field = param ?? 'body';
  // A union failure says little by itself; the deepest branch error says what is actually wrong.
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const discriminated = issue.errors.find((branch) => branch.length > 0 && branch[0]!.path.length > 0);
    if (discriminated) {
      const inner = discriminated[0]!;
      return describeIssue({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue);
    }
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return { message: `Missing required parameter: '${field}'.`, param };
  }
  return { message: `Invalid value for '${field}': ${issue.message}.`, param };
}

function validate<T>(schema: z.ZodType, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw GatewayError.invalidRequest('The request body must be a JSON object.', null, 'invalid_body');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data as T;
  const issue = result.error.issues[0]!;
  const { message, param } = describeIssue(issue);
  throw GatewayError.invalidRequest(message, param, 'invalid_value');
}

export function parseChatCompletionRequest(body: unknown): ChatCompletionRequest {
  const request = isPlainChatCompletionRequest(body) ? (body as ChatCompletionRequest) : validate<ChatCompletionRequest>(chatCompletionRequestSchema, body);
  if (request.stream !== true && request.stream_options != null) {
    throw GatewayError.invalidRequest("'stream_options' is only allowed when 'stream' is true.", 'stream_options', 'invalid_value');
  }
  return request;
}

export function parseEmbeddingRequest(body: unknown): EmbeddingRequest {
  return validate<EmbeddingRequest>(embeddingRequestSchema, body);
}
