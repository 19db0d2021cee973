import { openAIChunkSchema, openAIResponseSchema, type OpenAIWireChunk, type OpenAIWireResponse } from './openai-api.js';

/*
 * Fast paths in front of the zod wire schemas in openai-api.ts. A streamed answer is parsed once per
 * chunk, and zod's loose objects copy every object they check: about a tenth of the gateway's CPU per
 * stream went there. These checks test the same rules by hand and hand back the value itself.
 *
 * zod stays the authority: each check accepts only what its schema accepts (a test runs both over
 * recorded and generated answers and requires agreement), and anything it does not recognise goes to
 * zod, which also words the error. An own `__proto__` key always goes to zod, which drops it: the
 * normalisers copy keys by assignment, where it would replace an object's prototype.
 */

type Check = (value: unknown) => boolean;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Object.hasOwn(value, '__proto__');
}

const nullishString: Check = (value) => value == null || typeof value === 'string';
const nullishNumber: Check = (value) => value == null || (typeof value === 'number' && Number.isFinite(value));
const nullish = (check: Check): Check => (value) => value == null || check(value);
const arrayOf = (check: Check): Check => (value) => {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (!check(item)) return false;
  return true;
};
/** A loose object: the listed fields must pass their checks (absent counts as undefined), others are free. */
const looseObject = (fields: Record<string, Check>): Check => {
  const entries = Object.entries(fields);
  return (value) => {
    if (!isRecord(value)) return false;
    for (const [key, check] of entries) if (!check(value[key])) return false;
    return true;
  };
};

/** `content`: a string, content parts (any array), or nothing. */
const content: Check = (value) => value == null || typeof value === 'string' || Array.isArray(value);

const usage = looseObject({
  prompt_tokens: nullishNumber,
  completion_tokens: nullishNumber,
  total_tokens: nullishNumber,
  prompt_tokens_details: nullish(looseObject({ cached_tokens: nullishNumber })),
  completion_tokens_details: nullish(looseObject({ reasoning_tokens: nullishNumber })),
});

const chunk = looseObject({
  id: nullishString,
  object: nullishString,
  created: nullishNumber,
  model: nullishString,
  system_fingerprint: nullishString,
  choices: nullish(
    arrayOf(
      looseObject({
        index: nullishNumber,
        delta: nullish(
          looseObject({
            role: nullishString,
            content,
            refusal: nullishString,
            reasoning_content: nullishString,
            tool_calls: nullish(
              arrayOf(
                looseObject({
                  index: nullishNumber,
                  id: nullishString,
                  type: nullishString,
                  function: nullish(looseObject({ name: nullishString, arguments: nullishString })),
                }),
              ),
            ),
          }),
        ),
        finish_reason: nullishString,
      }),
    ),
  ),
  usage: nullish(usage),
  x_groq: nullish(looseObject({ usage: nullish(usage) })),
});

const response = looseObject({
  id: nullishString,
  object: nullishString,
  created: nullishNumber,
  model: nullishString,
  system_fingerprint: nullishString,
  choices: arrayOf(
    looseObject({
      index: nullishNumber,
      message: looseObject({
        role: nullishString,
        content,
        refusal: nullishString,
        reasoning_content: nullishString,
        tool_calls: nullish(
          arrayOf(
            looseObject({
              id: nullishString,
              type: nullishString,
              function: looseObject({ name: nullishString, arguments: nullishString }),
            }),
          ),
        ),
      }),
      finish_reason: nullishString,
    }),
  ),
  usage: nullish(usage),
});

/** True when `openAIChunkSchema` certainly accepts the value as it is. */
export const isPlainOpenAIChunk = chunk as (value: unknown) => value is OpenAIWireChunk;

/** True when `openAIResponseSchema` certainly accepts the value as it is. */
export const isPlainOpenAIResponse = response as (value: unknown) => value is OpenAIWireResponse;

/** A stream chunk as the wire schema reads it, or undefined when it is not one. */
export function readOpenAIChunk(json: unknown): OpenAIWireChunk | undefined {
  if (isPlainOpenAIChunk(json)) return json;
  const parsed = openAIChunkSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** A non-streamed chat completion as the wire schema reads it, or undefined when it is not one. */
export function readOpenAIResponse(json: unknown): OpenAIWireResponse | undefined {
  if (isPlainOpenAIResponse(json)) return json;
  const parsed = openAIResponseSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
