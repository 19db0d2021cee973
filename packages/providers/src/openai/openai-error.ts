import type { GatewayError } from '@switchyard/core';
import { createUpstreamError, type ProviderErrorDetails } from '../shared/upstream-error.js';
import { openAIErrorSchema } from './openai-api.js';

/** Reads OpenAI's `{"error":{message,type,code,param}}` (and the bare-string variant some servers send). */
export function extractOpenAIError(body: unknown): ProviderErrorDetails | undefined {
  const parsed = openAIErrorSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const error = parsed.data.error;
  if (typeof error === 'string') return { message: error };
  return {
    message: error.message ?? undefined,
    type: error.type ?? undefined,
    code: error.code === null || error.code === undefined ? null : String(error.code),
    param: error.param ?? null,
  };
}

export function createOpenAIError(
  provider: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): GatewayError {
  return createUpstreamError({ provider, status, headers, bodyText, extract: extractOpenAIError });
}
