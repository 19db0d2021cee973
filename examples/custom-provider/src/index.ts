export { createTextGen, type TextGenOptions } from './textgen-provider.js';
export { convertToTextGenRequest, renderPrompt, nextUserTurn } from './convert-request.js';
export {
  convertTextGenResponse,
  convertTextGenStreamEvent,
  convertTextGenUsage,
  createTextGenStreamState,
  mapTextGenStopReason,
  type TextGenStreamState,
} from './convert-response.js';
export { readLines } from './ndjson.js';
export { createTextGenError, extractTextGenError } from './textgen-error.js';
export type { TextGenGenerateRequest, TextGenGenerateResponse, TextGenStreamEvent } from './textgen-api.js';
