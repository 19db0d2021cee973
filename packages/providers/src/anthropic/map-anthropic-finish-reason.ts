import type { FinishReason } from '@switchyard/core';

/**
 * Anthropic's `stop_reason` in OpenAI's words. `pause_turn` (a long server-tool turn paused so the client
 * can continue it) and reasons Anthropic adds later still mean the model stopped generating for now, so
 * they read as `stop`; a context-window stop is a length stop as far as the client can act on it.
 */
export function mapAnthropicFinishReason(reason: string | null | undefined): FinishReason | null {
  switch (reason) {
    case null:
    case undefined:
    case '':
      return null;
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}
