import { z } from 'zod';

/*
 * The Gemini (Generative Language API, v1beta) wire format: TypeScript types for what the gateway sends,
 * zod schemas for what comes back. Response schemas are loose: Google adds fields (`trafficType`,
 * `createTime`, `finishMessage`, `avgLogprobs`) without notice, and a new field must never make a valid
 * answer fail.
 */

// ---- What the gateway sends ----------------------------------------------------------------------

export interface GeminiFunctionCall {
  name: string;
  args: Record<string, unknown>;
}

export interface GeminiFunctionResponse {
  name: string;
  response: Record<string, unknown>;
}

export interface GeminiPart {
  text?: string;
  thought?: boolean;
  /** Opaque token Gemini 3 puts on parts; it must come back on the same part in later turns. */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { fileUri: string; mimeType?: string };
  functionCall?: GeminiFunctionCall;
  functionResponse?: GeminiFunctionResponse;
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

/** Gemini's schema: a subset of OpenAPI 3.0, see `convert-json-schema-to-gemini.ts`. */
export type GeminiSchema = Record<string, unknown>;

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  /** The OpenAPI-subset form every Gemini model accepts. */
  parameters?: GeminiSchema;
  /** Full JSON Schema, for schemas the subset cannot express (recursive `$ref`). */
  parametersJsonSchema?: Record<string, unknown>;
}

export interface GeminiToolConfig {
  functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] };
}

export interface GeminiThinkingConfig {
  thinkingBudget?: number;
  thinkingLevel?: 'low' | 'high';
  includeThoughts?: boolean;
}

export interface GeminiGenerationConfig {
  temperature?: number;
  topP?: number;
  topK?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  candidateCount?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  responseMimeType?: string;
  responseSchema?: GeminiSchema;
  responseJsonSchema?: Record<string, unknown>;
  thinkingConfig?: GeminiThinkingConfig;
}

export interface GeminiGenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: Array<{ text: string }> };
  tools?: Array<{ functionDeclarations: GeminiFunctionDeclaration[] }>;
  toolConfig?: GeminiToolConfig;
  generationConfig?: GeminiGenerationConfig;
}

export interface GeminiEmbedContentRequest {
  model: string;
  content: { parts: Array<{ text: string }> };
  outputDimensionality?: number;
}

// ---- What comes back -----------------------------------------------------------------------------

/**
 * One piece of a streamed function call's arguments (Vertex AI `streamFunctionCallArguments`): the value
 * at `jsonPath`, a string continued by later pieces while `willContinue` is true.
 */
const partialArgumentSchema = z.looseObject({
  jsonPath: z.string(),
  stringValue: z.string().nullish(),
  numberValue: z.number().nullish(),
  boolValue: z.boolean().nullish(),
  nullValue: z.unknown().optional(),
  willContinue: z.boolean().nullish(),
});
export type GeminiWirePartialArgument = z.infer<typeof partialArgumentSchema>;

const functionCallSchema = z.looseObject({
  id: z.string().nullish(),
  name: z.string().nullish(),
  args: z.record(z.string(), z.unknown()).nullish(),
  partialArgs: z.array(partialArgumentSchema).nullish(),
  willContinue: z.boolean().nullish(),
});
export type GeminiWireFunctionCall = z.infer<typeof functionCallSchema>;

const partSchema = z.looseObject({
  text: z.string().nullish(),
  thought: z.boolean().nullish(),
  thoughtSignature: z.string().nullish(),
  functionCall: functionCallSchema.nullish(),
});
export type GeminiWirePart = z.infer<typeof partSchema>;

const candidateSchema = z.looseObject({
  index: z.number().int().nonnegative().nullish(),
  content: z.looseObject({ role: z.string().nullish(), parts: z.array(partSchema).nullish() }).nullish(),
  finishReason: z.string().nullish(),
  finishMessage: z.string().nullish(),
});
export type GeminiWireCandidate = z.infer<typeof candidateSchema>;

const usageMetadataSchema = z.looseObject({
  promptTokenCount: z.number().nullish(),
  candidatesTokenCount: z.number().nullish(),
  totalTokenCount: z.number().nullish(),
  cachedContentTokenCount: z.number().nullish(),
  thoughtsTokenCount: z.number().nullish(),
  toolUsePromptTokenCount: z.number().nullish(),
});
export type GeminiWireUsage = z.infer<typeof usageMetadataSchema>;

/** The body of `:generateContent`, and each event of `:streamGenerateContent?alt=sse`. */
export const geminiResponseSchema = z.looseObject({
  candidates: z.array(candidateSchema).nullish(),
  promptFeedback: z.looseObject({ blockReason: z.string().nullish(), blockReasonMessage: z.string().nullish() }).nullish(),
  usageMetadata: usageMetadataSchema.nullish(),
  modelVersion: z.string().nullish(),
  responseId: z.string().nullish(),
});
export type GeminiWireResponse = z.infer<typeof geminiResponseSchema>;

/** Google's error body: `{"error":{"code":429,"message":"…","status":"RESOURCE_EXHAUSTED","details":[…]}}`. */
export const geminiErrorSchema = z.looseObject({
  error: z.looseObject({
    code: z.number().nullish(),
    message: z.string().nullish(),
    status: z.string().nullish(),
    details: z
      .array(
        z.looseObject({
          '@type': z.string().nullish(),
          /** RetryInfo: a protobuf Duration in its JSON form, e.g. `"34.4s"`. */
          retryDelay: z.string().nullish(),
          /** ErrorInfo: e.g. `API_KEY_INVALID`. */
          reason: z.string().nullish(),
        }),
      )
      .nullish(),
  }),
});
export type GeminiWireError = z.infer<typeof geminiErrorSchema>;

const embeddingSchema = z.looseObject({ values: z.array(z.number()) });

export const geminiEmbedContentResponseSchema = z.looseObject({
  embedding: embeddingSchema,
  usageMetadata: z.looseObject({ promptTokenCount: z.number().nullish(), totalTokenCount: z.number().nullish() }).nullish(),
});

export const geminiBatchEmbedContentsResponseSchema = z.looseObject({
  embeddings: z.array(embeddingSchema),
  usageMetadata: z.looseObject({ promptTokenCount: z.number().nullish(), totalTokenCount: z.number().nullish() }).nullish(),
});

export const geminiModelListSchema = z.looseObject({
  models: z
    .array(
      z.looseObject({
        name: z.string(),
        inputTokenLimit: z.number().nullish(),
        outputTokenLimit: z.number().nullish(),
        supportedGenerationMethods: z.array(z.string()).nullish(),
      }),
    )
    .nullish(),
  nextPageToken: z.string().nullish(),
});
