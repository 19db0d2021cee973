import type { ProviderErrorDetails } from '../shared/upstream-error.js';
import { extractOpenAIError } from '../openai/openai-error.js';

/**
 * Azure OpenAI's error codes that mean the same as an OpenAI code; clients (and the official SDKs) know
 * only OpenAI's. Azure puts the HTTP status in `code` for rate limits and authentication failures.
 */
const openAICodeForAzureCode: Record<string, string> = {
  '429': 'rate_limit_exceeded',
  '401': 'invalid_api_key',
  DeploymentNotFound: 'model_not_found',
  ResponsibleAIPolicyViolation: 'content_filter',
};

/**
 * Reads Azure OpenAI's error bodies:
 * - OpenAI's shape, often with `type: null` and an `innererror` (content filter: `code: "content_filter"`,
 *   `innererror.code: "ResponsibleAIPolicyViolation"` and the filter results);
 * - the gateway shape of Azure's front door for authentication failures: `{statusCode, message}`.
 */
export function extractAzureError(body: unknown): ProviderErrorDetails | undefined {
  const details = extractOpenAIError(body);
  if (details) {
    const innerCode = innerErrorCode(body);
    const code = details.code ?? innerCode ?? null;
    return { ...details, code: code === null ? null : (openAICodeForAzureCode[code] ?? code) };
  }
  if (typeof body === 'object' && body !== null) {
    const record = body as Record<string, unknown>;
    if (typeof record.message === 'string') {
      const status = typeof record.statusCode === 'number' ? String(record.statusCode) : undefined;
      return { message: record.message, code: status === undefined ? null : (openAICodeForAzureCode[status] ?? null) };
    }
  }
  return undefined;
}

function innerErrorCode(body: unknown): string | undefined {
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const inner = (error as { innererror?: unknown }).innererror;
  if (typeof inner !== 'object' || inner === null) return undefined;
  const code = (inner as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
