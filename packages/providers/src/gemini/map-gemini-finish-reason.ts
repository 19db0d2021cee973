import type { FinishReason } from '@switchyard/core';

/** Gemini stops for these when its safety or policy filters cut the answer: OpenAI calls that `content_filter`. */
const contentFilterReasons = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/**
 * Maps a Gemini `finishReason` to OpenAI's. Gemini says `STOP` when it ends with function calls, so the
 * caller tells whether the candidate called tools: OpenAI clients run tools only on `tool_calls`.
 * Reasons with no OpenAI counterpart (`MALFORMED_FUNCTION_CALL`, `OTHER`, `LANGUAGE`, …) still mean the
 * model ended: `stop`.
 */
export function mapGeminiFinishReason(reason: string | null | undefined, hasToolCalls: boolean): FinishReason | null {
  if (reason === null || reason === undefined || reason === '') return null;
  if (reason === 'MAX_TOKENS') return 'length';
  if (contentFilterReasons.has(reason)) return 'content_filter';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

