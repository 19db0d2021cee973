import type { GatewayError } from '@switchyard/core';
import { createUpstreamError, type ProviderErrorDetails } from '@switchyard/providers';
import { textGenErrorSchema } from './textgen-api.js';

/** Reads TextGen's `{detail, error_type}`; `detail` is a list of field problems on validation errors. */
export function extractTextGenError(body: unknown): ProviderErrorDetails | undefined {
  const parsed = textGenErrorSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const { detail, error_type: errorType } = parsed.data;
  return {
    message: typeof detail === 'string' ? detail : `The request was rejected: ${JSON.stringify(detail)}`,
    code: errorType ?? null,
  };
}

/** An upstream HTTP error as the OpenAI-shaped error clients get: status, type and retryability kept. */
export function createTextGenError(
  provider: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): GatewayError {
  return createUpstreamError({ provider, status, headers, bodyText, extract: extractTextGenError });
}
