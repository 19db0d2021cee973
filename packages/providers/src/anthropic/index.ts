export { type AnthropicProviderOptions, createAnthropic, defaultAnthropicVersion } from './anthropic-provider.js';
export {
  type AnthropicRequestOptions,
  convertToAnthropicMessages,
  convertToAnthropicRequest,
  defaultAnthropicMaxTokens,
  jsonObjectInstruction,
  thinkingBudgetForEffort,
  toAnthropicToolId,
} from './convert-to-anthropic-messages.js';
export {
  type AnthropicStreamState,
  convertAnthropicResponse,
  convertAnthropicStreamEvent,
  convertAnthropicUsage,
  createAnthropicStreamState,
  finishAnthropicStream,
  parseAnthropicStreamEvent,
  type ThinkingBlock,
} from './convert-anthropic-stream.js';
export { mapAnthropicFinishReason } from './map-anthropic-finish-reason.js';
export { createAnthropicError, createAnthropicStreamError, extractAnthropicError } from './anthropic-error.js';
