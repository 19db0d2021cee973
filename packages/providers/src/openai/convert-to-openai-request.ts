import type { ChatCompletionRequest } from '@switchyard/core';

export interface OpenAIRequestOptions {
  /** Ask for the usage chunk on streams (`stream_options.include_usage`). Default true. */
  streamUsage: boolean;
}

/**
 * The body sent upstream: the client's request with the provider's model id. Every other field, known
 * or not, goes through as sent. Streams always ask for usage so billing never sees a stream without it;
 * the gateway removes the usage chunk again when the client did not ask for it.
 */
export function convertToOpenAIRequest(
  modelId: string,
  request: ChatCompletionRequest,
  options: OpenAIRequestOptions,
): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request, model: modelId };
  if (request.stream === true && options.streamUsage) {
    body.stream_options = { ...request.stream_options, include_usage: true };
  }
  return body;
}
