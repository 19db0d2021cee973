import type { ChatCompletion, ChatCompletionChunk, CompletionUsage, FinishReason } from '@switchyard/core';
import { GatewayError } from '@switchyard/core';
import type { TextGenGenerateResponse, TextGenStreamEvent } from './textgen-api.js';

/**
 * TextGen's stop reasons in OpenAI's words. Only a spent token budget means the answer was cut short;
 * every other reason (the end of the answer, a stop sequence, one a newer server adds) is a normal stop.
 */
export function mapTextGenStopReason(reason: string | null | undefined): FinishReason {
  return reason === 'max_tokens' ? 'length' : 'stop';
}

export function convertTextGenUsage(tokensIn: number, tokensOut: number): CompletionUsage {
  return { prompt_tokens: tokensIn, completion_tokens: tokensOut, total_tokens: tokensIn + tokensOut };
}

function unixSeconds(createdAt: string | null | undefined, now: number): number {
  const parsed = createdAt ? Date.parse(createdAt) : Number.NaN;
  return Math.floor((Number.isFinite(parsed) ? parsed : now) / 1000);
}

/** A `/generate` answer as a chat completion. */
export function convertTextGenResponse(raw: TextGenGenerateResponse, modelId: string, fallbackId: string, now = Date.now()): ChatCompletion {
  return {
    id: raw.id ? `chatcmpl-${raw.id}` : fallbackId,
    object: 'chat.completion',
    created: unixSeconds(raw.created_at, now),
    model: raw.model || modelId,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: raw.text, refusal: null },
        finish_reason: mapTextGenStopReason(raw.stop_reason),
        logprobs: null,
      },
    ],
    usage: convertTextGenUsage(raw.tokens_in, raw.tokens_out),
  };
}

/** What a stream needs to remember between events: its id and whether the role chunk went out. */
export interface TextGenStreamState {
  id: string;
  model: string;
  created: number;
  started: boolean;
  done: boolean;
}

export function createTextGenStreamState(modelId: string, id: string, now = Date.now()): TextGenStreamState {
  return { id, model: modelId, created: Math.floor(now / 1000), started: false, done: false };
}

/**
 * One NDJSON stream event as OpenAI chunks: the first event is preceded by the role chunk, tokens become
 * content deltas, `done` becomes the finish chunk and the usage chunk every provider stream ends with.
 * An `error` event is thrown: the upstream gave up mid-answer, and trying again may succeed.
 */
export function convertTextGenStreamEvent(event: TextGenStreamEvent, state: TextGenStreamState, provider: string): ChatCompletionChunk[] {
  const chunk = (choices: ChatCompletionChunk['choices'], usage?: CompletionUsage): ChatCompletionChunk => {
    const result: ChatCompletionChunk = { id: state.id, object: 'chat.completion.chunk', created: state.created, model: state.model, choices };
    if (usage) result.usage = usage;
    return result;
  };
  if (event.event === 'error') {
    const overloaded = event.error_type === 'overloaded';
    throw new GatewayError({
      message: event.message ?? `The upstream provider '${provider}' reported an error mid-stream.`,
      status: overloaded ? 503 : 502,
      type: overloaded ? 'service_unavailable' : 'api_error',
      code: event.error_type ?? 'upstream_stream_error',
      isRetryable: true,
      provider,
      upstreamBody: event,
    });
  }
  const chunks: ChatCompletionChunk[] = [];
  if (!state.started) {
    state.started = true;
    chunks.push(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]));
  }
  if (event.event === 'token') {
    if (event.text !== '') chunks.push(chunk([{ index: 0, delta: { content: event.text }, finish_reason: null, logprobs: null }]));
    return chunks;
  }
  state.done = true;
  chunks.push(chunk([{ index: 0, delta: {}, finish_reason: mapTextGenStopReason(event.stop_reason), logprobs: null }]));
  chunks.push(chunk([], convertTextGenUsage(event.tokens_in, event.tokens_out)));
  return chunks;
}
