export { createOpenAICompatible, type OpenAICompatibleOptions, type OpenAIEndpoint } from './openai-provider.js';
export { convertToOpenAIRequest } from './convert-to-openai-request.js';
export {
  createOpenAIStreamState,
  detachUsage,
  normalizeOpenAIChunk,
  normalizeOpenAIResponse,
  normalizeUsage,
  type OpenAIStreamState,
  type OpenAIStreamStateOptions,
  splitContentParts,
  usageChunk,
} from './convert-openai-stream.js';
export { mapOpenAIFinishReason } from './map-openai-finish-reason.js';
export { createOpenAIError, extractOpenAIError } from './openai-error.js';
