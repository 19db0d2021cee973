import { z } from 'zod';

/*
 * Wire schemas for what OpenAI and OpenAI-compatible servers send back. Loose on purpose: providers add
 * fields (`obfuscation`, `x_groq`, `prompt_filter_results`) that must not make a valid answer fail, and
 * several omit fields OpenAI always sends; `convert-openai-stream.ts` fills those in.
 */

/** A string, or content parts (Mistral's reasoning models send `text` and `thinking` parts). */
const contentSchema = z.union([z.string(), z.array(z.unknown())]).nullish();

const usageSchema = z.looseObject({
  prompt_tokens: z.number().nullish(),
  completion_tokens: z.number().nullish(),
  total_tokens: z.number().nullish(),
  prompt_tokens_details: z.looseObject({ cached_tokens: z.number().nullish() }).nullish(),
  completion_tokens_details: z.looseObject({ reasoning_tokens: z.number().nullish() }).nullish(),
});
export type OpenAIWireUsage = z.infer<typeof usageSchema>;

const toolCallSchema = z.looseObject({
  id: z.string().nullish(),
  type: z.string().nullish(),
  function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() }),
});

export const openAIResponseSchema = z.looseObject({
  id: z.string().nullish(),
  object: z.string().nullish(),
  created: z.number().nullish(),
  model: z.string().nullish(),
  system_fingerprint: z.string().nullish(),
  choices: z.array(
    z.looseObject({
      index: z.number().nullish(),
      message: z.looseObject({
        role: z.string().nullish(),
        content: contentSchema,
        refusal: z.string().nullish(),
        reasoning_content: z.string().nullish(),
        tool_calls: z.array(toolCallSchema).nullish(),
      }),
      finish_reason: z.string().nullish(),
      logprobs: z.unknown().nullish(),
    }),
  ),
  usage: usageSchema.nullish(),
});
export type OpenAIWireResponse = z.infer<typeof openAIResponseSchema>;

export const openAIChunkSchema = z.looseObject({
  id: z.string().nullish(),
  object: z.string().nullish(),
  created: z.number().nullish(),
  model: z.string().nullish(),
  system_fingerprint: z.string().nullish(),
  choices: z
    .array(
      z.looseObject({
        index: z.number().nullish(),
        delta: z
          .looseObject({
            role: z.string().nullish(),
            content: contentSchema,
            refusal: z.string().nullish(),
            reasoning_content: z.string().nullish(),
            tool_calls: z
              .array(
                z.looseObject({
                  index: z.number().nullish(),
                  id: z.string().nullish(),
                  type: z.string().nullish(),
                  function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
                }),
              )
              .nullish(),
          })
          .nullish(),
        finish_reason: z.string().nullish(),
        logprobs: z.unknown().nullish(),
      }),
    )
    .nullish(),
  usage: usageSchema.nullish(),
  x_groq: z.looseObject({ usage: usageSchema.nullish() }).nullish(),
});
export type OpenAIWireChunk = z.infer<typeof openAIChunkSchema>;

export const openAIErrorSchema = z.looseObject({
  error: z.union([
    z.looseObject({
      message: z.string().nullish(),
      type: z.string().nullish(),
      code: z.union([z.string(), z.number()]).nullish(),
      param: z.string().nullish(),
    }),
    z.string(),
  ]),
});

export const openAIEmbeddingResponseSchema = z.looseObject({
  object: z.string().nullish(),
  data: z.array(z.looseObject({ index: z.number(), embedding: z.union([z.array(z.number()), z.string()]) })),
  model: z.string().nullish(),
  usage: z.looseObject({ prompt_tokens: z.number().nullish(), total_tokens: z.number().nullish() }).nullish(),
});

export const openAIModelListSchema = z.looseObject({
  data: z.array(z.looseObject({ id: z.string(), created: z.number().nullish(), owned_by: z.string().nullish() })),
});
