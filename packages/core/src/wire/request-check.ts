/*
 * A fast path in front of the chat request schema (schemas.ts). zod's loose objects copy every object
 * they check and run each field through a chain of checks; for an ordinary request that was a tenth of
 * what the gateway spends on top of the network. This check tests the same rules by hand for the fields
 * of ordinary requests and hands back the value itself.
 *
 * zod stays the authority: this accepts only what the schema accepts, and means the same value (a
 * property test runs both over generated requests and requires agreement). A field it has no rule for,
 * a message kind it does not know, a content part other than text or an image, or an own `__proto__`
 * key (which zod drops) sends the request to zod, which also words every error.
 */

type Check = (value: unknown) => boolean;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Object.hasOwn(value, '__proto__');
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isInteger = (value: unknown): value is number => Number.isSafeInteger(value);
const inRange = (minimum: number, maximum: number): Check => (value) => isNumber(value) && value >= minimum && value <= maximum;
const integerInRange = (minimum: number, maximum: number): Check => (value) => isInteger(value) && value >= minimum && value <= maximum;
const isPositiveInteger: Check = (value) => isInteger(value) && value > 0;
/** zod's `.nullish()`: absent, null, or passing the check. */
const nullish = (check: Check): Check => (value) => value === undefined || value === null || check(value);
/** zod's `.optional()`: absent, or passing the check (null is refused). */
const optional = (check: Check): Check => (value) => value === undefined || check(value);

const reasoningEfforts = new Set(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']);
const imageDetails = new Set(['auto', 'low', 'high']);

const isTextPart: Check = (part) => isRecord(part) && part.type === 'text' && isString(part.text);
const isImagePart: Check = (part) => {
  if (!isRecord(part) || part.type !== 'image_url') return false;
  const image = part.image_url;
  return isRecord(image) && isString(image.url) && image.url.length > 0 && (image.detail === undefined || imageDetails.has(image.detail as string));
};
const isUserPart: Check = (part) => isTextPart(part) || isImagePart(part);

function everyItem(value: unknown, check: Check): boolean {
  if (!Array.isArray(value)) return false;
  for (let index = 0; index < value.length; index++) if (!check(value[index])) return false;
  return true;
}

const textContent: Check = (content) => isString(content) || everyItem(content, isTextPart);
const userContent: Check = (content) => isString(content) || everyItem(content, isUserPart);
const optionalName = optional(isString);
const nullishString = nullish(isString);
const nullishTextContent = nullish(textContent);

const isToolCall: Check = (call) => {
  if (!isRecord(call) || !isString(call.id) || call.type !== 'function') return false;
  const fn = call.function;
  return isRecord(fn) && isString(fn.name) && isString(fn.arguments);
};
const optionalToolCalls = optional((calls) => everyItem(calls, isToolCall));

function isMessage(message: unknown): boolean {
  if (!isRecord(message)) return false;
  switch (message.role) {
    case 'system':
    case 'developer':
      return textContent(message.content) && optionalName(message.name);
    case 'user':
      return userContent(message.content) && optionalName(message.name);
    case 'assistant':
      return (
        nullishTextContent(message.content) &&
        nullishString(message.refusal) &&
        optionalName(message.name) &&
        optionalToolCalls(message.tool_calls) &&
        nullishString(message.reasoning_content)
      );
    case 'tool':
      return isString(message.tool_call_id) && textContent(message.content);
    default:
      return false;
  }
}

/** The request fields this check knows, each with the schema's rule (a Map: a field named `constructor` is just a field). */
const fieldChecks = new Map<string, Check>(Object.entries({
  model: (value) => isString(value) && value.length > 0,
  messages: (value) => Array.isArray(value) && value.length > 0 && everyItem(value, isMessage),
  stream: nullish(isBoolean),
  stream_options: nullish((value) => isRecord(value) && optional(isBoolean)(value.include_usage)),
  temperature: nullish(inRange(0, 2)),
  top_p: nullish(inRange(0, 1)),
  n: nullish(integerInRange(1, 128)),
  max_tokens: nullish(isPositiveInteger),
  max_completion_tokens: nullish(isPositiveInteger),
  stop: nullish((value) => isString(value) || (Array.isArray(value) && value.length <= 4 && everyItem(value, isString))),
  presence_penalty: nullish(inRange(-2, 2)),
  frequency_penalty: nullish(inRange(-2, 2)),
  logprobs: nullish(isBoolean),
  top_logprobs: nullish(integerInRange(0, 20)),
  parallel_tool_calls: optional(isBoolean),
  seed: nullish(isInteger),
  user: optional(isString),
  reasoning_effort: nullish((value) => isString(value) && reasoningEfforts.has(value)),
  service_tier: nullishString,
}));

/** Fields the schema checks that this does not: a request with one of them goes to zod. */
const leftToSchema = new Set(['tools', 'tool_choice', 'response_format', 'logit_bias', 'metadata']);

/** True when `chatCompletionRequestSchema` certainly accepts the value as it is. */
export function isPlainChatCompletionRequest(body: unknown): boolean {
  if (!isRecord(body)) return false;
  if (body.model === undefined || body.messages === undefined) return false;
  for (const key in body) {
    const check = fieldChecks.get(key);
    if (check !== undefined) {
      if (!check(body[key])) return false;
    } else if (leftToSchema.has(key)) {
      return false;
    }
  }
  return true;
}
