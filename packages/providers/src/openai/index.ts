export { createOpenAICompatible, type OpenAICompatibleOptions } from './openai-provider.js';
export { convertToOpenAIRequest } from './convert-to-openai-request.js';
export { createOpenAIStreamState, normalizeOpenAIChunk, normalizeOpenAIResponse, normalizeUsage } from './convert-openai-stream.js';
export { mapOpenAIFinishReason } from './map-openai-finish-reason.js';
export { createOpenAIError, extractOpenAIError } from './openai-error.js';
