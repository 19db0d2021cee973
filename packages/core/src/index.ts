export { ChunkAggregator, responseToChunks } from './aggregate.js';
export { type AbortListener, Cancellation, isCancellation } from './cancellation.js';
export { type Clock, createGatewayContainer, systemClock, Tokens } from './container.js';
export type {
  ChatContext,
  EmbeddingsContext,
  Operation,
  RequestContext,
  RequestState,
  Target,
  UpstreamAttempt,
} from './context.js';
export {
  GatewayError,
  type GatewayErrorOptions,
  type GatewayErrorType,
  isAbortError,
  parseRetryAfter,
  toGatewayError,
} from './errors.js';
export { createGateway, type Gateway, type GatewayOptions, type ListenResult } from './gateway.js';
export {
  type ChatOutcome,
  type EarlyResponse,
  type EmbeddingsOutcome,
  type ErrorDetails,
  type HookName,
  hookNames,
  type PluginHooks,
  type ResponseOutcome,
  type UpstreamCall,
  type UpstreamRequest,
  type UpstreamResult,
  type UpstreamWrapper,
} from './hooks.js';
export { createDefaultLogger, type Logger, silentLogger } from './logger.js';
export {
  checkPlugins,
  definePlugin,
  type Plugin,
  type PluginErrorCode,
  PluginRegistrationError,
  type PluginSetupApi,
} from './plugin.js';
export {
  type ChatResponseResult,
  type ChatResult,
  type ChatStreamResult,
  isProvider,
  type ProviderCallOptions,
  type ProviderModel,
  type ProviderV1,
} from './provider.js';
export { ProviderRegistry } from './provider-registry.js';
export { randomId, uniqueId } from './random-id.js';
export * from './wire/openai-types.js';
export {
  chatCompletionRequestSchema,
  embeddingRequestSchema,
  formatParamPath,
  parseChatCompletionRequest,
  parseEmbeddingRequest,
} from './wire/schemas.js';
