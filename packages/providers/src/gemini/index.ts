export { createGemini, type GeminiOptions } from './gemini-provider.js';
export { convertToGeminiMessages, convertToGeminiRequest, skipThoughtSignature } from './convert-to-gemini-messages.js';
export { convertJsonSchemaToGemini, type GeminiSchemaOptions } from './convert-json-schema-to-gemini.js';
export {
  convertGeminiResponse,
  convertGeminiStreamEvent,
  createGeminiStreamState,
  finishGeminiStream,
  type GeminiConversionOptions,
  type GeminiStreamState,
  mapGeminiUsage,
} from './convert-gemini-stream.js';
export { mapGeminiFinishReason } from './map-gemini-finish-reason.js';
export { createGeminiError, extractGeminiError } from './gemini-error.js';
export { decodeThoughtSignature, encodeToolCallId as encodeGeminiToolCallId } from './gemini-tool-call-id.js';
export type { GeminiContent, GeminiGenerateContentRequest, GeminiPart } from './gemini-api.js';
