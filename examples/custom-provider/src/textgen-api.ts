import { z } from 'zod';

/*
 * The TextGen API: a plain text-generation service, not OpenAI-shaped. One prompt in, text out.
 *
 *   POST /generate            {model, prompt, max_new_tokens?, temperature?, top_p?, seed?, stop?, stream?}
 *     stream false → 200 application/json      {id, model, text, tokens_in, tokens_out, stop_reason, created_at?}
 *     stream true  → 200 application/x-ndjson   one JSON object per line:
 *                       {"event":"token","text":"…"}
 *                       {"event":"done","stop_reason":"eos","tokens_in":12,"tokens_out":30}
 *                       {"event":"error","message":"…","error_type":"overloaded"}   (instead of done)
 *   GET  /models              {models: [{name, context_length?, max_new_tokens?}]}
 *   errors                    HTTP 4xx/5xx with {detail, error_type?}
 *   authentication            `x-api-key` header
 *
 * Schemas are loose: a server adding fields must not make a valid answer fail.
 */

export interface TextGenGenerateRequest {
  model: string;
  prompt: string;
  max_new_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string[];
  stream: boolean;
}

/** `eos`: the model ended its answer; `stop_sequence`: a stop string matched; `max_tokens`: the budget ran out. */
export const textGenStopReasonSchema = z.string();

export const textGenGenerateResponseSchema = z.looseObject({
  id: z.string().nullish(),
  model: z.string().nullish(),
  text: z.string(),
  tokens_in: z.number().int().nonnegative(),
  tokens_out: z.number().int().nonnegative(),
  stop_reason: textGenStopReasonSchema.nullish(),
  created_at: z.string().nullish(),
});
export type TextGenGenerateResponse = z.infer<typeof textGenGenerateResponseSchema>;

export const textGenStreamEventSchema = z.discriminatedUnion('event', [
  z.looseObject({ event: z.literal('token'), text: z.string() }),
  z.looseObject({
    event: z.literal('done'),
    stop_reason: textGenStopReasonSchema.nullish(),
    tokens_in: z.number().int().nonnegative(),
    tokens_out: z.number().int().nonnegative(),
  }),
  z.looseObject({ event: z.literal('error'), message: z.string().nullish(), error_type: z.string().nullish() }),
]);
export type TextGenStreamEvent = z.infer<typeof textGenStreamEventSchema>;

export const textGenErrorSchema = z.looseObject({
  detail: z.union([z.string(), z.array(z.unknown())]),
  error_type: z.string().nullish(),
});

export const textGenModelListSchema = z.looseObject({
  models: z.array(
    z.looseObject({
      name: z.string(),
      context_length: z.number().nullish(),
      max_new_tokens: z.number().nullish(),
    }),
  ),
});
