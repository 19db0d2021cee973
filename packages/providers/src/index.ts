export * from './openai/index.js';
export {
  createDashScope,
  createDeepSeek,
  createFromPreset,
  createGroq,
  createMistral,
  createOllama,
  createOpenAI,
  createOpenRouter,
  createTogether,
  createXai,
  type OpenAICompatiblePresetName,
  openAICompatiblePresets,
  type PresetOptions,
} from './openai/openai-compatible-presets.js';
export { createEchoProvider, type EchoProviderOptions } from './demo/echo-provider.js';
export { HttpClient, type HttpClientOptions, type JsonUpstreamResponse, readJsonBody, readText, transportError, upstreamAbort, type UpstreamRequestOptions, type UpstreamResponse } from './shared/http-client.js';
export { parseServerSentEvents, type EventSourceMessage } from './shared/sse.js';
export {
  clientStatusFor,
  createUpstreamError,
  isRetryableStatus,
  malformedResponseError,
  truncatedStreamError,
  type ProviderErrorDetails,
} from './shared/upstream-error.js';
export { type AzureOpenAIOptions, createAzureOpenAI, defaultAzureApiVersion, extractAzureError } from './azure/index.js';
export * from './catalog/index.js';
export * from './anthropic/index.js';
export * from './gemini/index.js';
