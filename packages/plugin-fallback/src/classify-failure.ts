import type { GatewayError } from '@switchyard/core';

/**
 * What to do after a failed attempt:
 * - `retry`: transient (429, 408, 5xx, 529, timeouts, connection errors) — same target again, then others;
 * - `next`: this target cannot serve it (401, 403, 404 from the provider: a key or model problem there),
 *   another may;
 * - `context-window`: the prompt is too long for this model — a larger-context target may take it;
 * - `content-policy`: the provider refused the content — others may, if configured;
 * - `fatal`: the request itself is wrong (400, 413, 422) or was cancelled: stop.
 */
export type FailureKind = 'retry' | 'next' | 'context-window' | 'content-policy' | 'fatal';

const contextWindowPattern = /context[_ ](length|window)|maximum context|prompt is too long|too many (input )?tokens|input token count.*exceeds|reduce the length/i;
const contentPolicyPattern = /content[_ ](policy|filter|management)|safety (system|filter)|responsible ai/i;

export function classifyFailure(error: GatewayError): FailureKind {
  if (error.status === 499) return 'fatal';
  const text = `${error.code ?? ''} ${error.message}`;
  if (error.status === 400 || error.status === 413 || error.status === 422) {
    if (error.code === 'context_length_exceeded' || contextWindowPattern.test(text)) return 'context-window';
    if (error.code === 'content_filter' || error.code === 'content_policy_violation' || contentPolicyPattern.test(text)) return 'content-policy';
    return 'fatal';
  }
  if (error.isRetryable) return 'retry';
  if (error.status === 401 || error.status === 403 || error.status === 404) return error.provider ? 'next' : 'fatal';
  return 'fatal';
}
