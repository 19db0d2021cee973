import type { FinishReason } from '@switchyard/core';

/**
 * OpenAI-compatible servers mostly send OpenAI's finish reasons; a few send their own words for the same
 * thing. Unknown reasons still mean the model finished, so they become `stop`.
 */
export function mapOpenAIFinishReason(reason: string | null | undefined): FinishReason | null {
  switch (reason) {
    case null:
    case undefined:
    case '':
      return null;
    case 'stop':
    case 'length':
    case 'tool_calls':
    case 'content_filter':
    case 'function_call':
      return reason;
    case 'tool_call':
      return 'tool_calls';
    case 'max_tokens':
    case 'model_length':
    case 'insufficient_system_resource':
      return 'length';
    default:
      return 'stop';
  }
}
