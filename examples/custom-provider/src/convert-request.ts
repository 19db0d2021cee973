import { type ChatCompletionRequest, type ChatMessage, GatewayError } from '@switchyard/core';
import type { TextGenGenerateRequest } from './textgen-api.js';

/** Turn labels of the transcript the TextGen models were tuned on. */
export const userLabel = 'User';
export const assistantLabel = 'Assistant';
export const systemLabel = 'System';
/** Turns are separated by a blank line, so a message may itself span several lines. */
export const turnSeparator = '\n\n';
/** Always sent as a stop sequence: without it a base model goes on to write the user's next turn. */
export const nextUserTurn = `${turnSeparator}${userLabel}:`;

function unsupported(message: string, param: string): GatewayError {
  return GatewayError.invalidRequest(message, param, 'unsupported_parameter');
}

/** The plain text of a message; parts the API cannot take (images, audio, files) are refused by name. */
function textOf(message: ChatMessage, position: number): string {
  const content = message.content;
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part, partIndex) => {
      if (part.type === 'text') return part.text;
      if (part.type === 'refusal') return part.refusal;
      throw GatewayError.invalidRequest(
        `TextGen models read text only; content parts of type '${part.type}' are not supported.`,
        `messages[${position}].content[${partIndex}].type`,
        'unsupported_content',
      );
    })
    .join('');
}

/**
 * Renders a conversation as the transcript the API takes as its prompt:
 *
 *   <leading system messages>
 *
 *   User: <text>
 *
 *   Assistant: <text>
 *
 *   Assistant:
 *
 * The prompt ends with an open assistant turn for the model to write. When the conversation already ends
 * with an assistant message, that message is left open instead, so the model continues it (a prefill).
 */
export function renderPrompt(messages: readonly ChatMessage[]): string {
  const turns: string[] = [];
  let leadingSystem = true;
  messages.forEach((message, position) => {
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = textOf(message, position);
        // Instructions before the conversation are its preamble; later ones are marked as such.
        turns.push(leadingSystem ? text : `${systemLabel}: ${text}`);
        return;
      }
      case 'user':
        leadingSystem = false;
        turns.push(`${userLabel}: ${textOf(message, position)}`);
        return;
      case 'assistant':
        leadingSystem = false;
        if (message.tool_calls && message.tool_calls.length > 0) {
          throw unsupported('TextGen models cannot call tools; the conversation contains assistant tool calls.', `messages[${position}].tool_calls`);
        }
        turns.push(`${assistantLabel}: ${textOf(message, position)}`);
        return;
      default:
        throw GatewayError.invalidRequest(
          `TextGen models cannot call tools, so messages with role '${message.role}' are not supported.`,
          `messages[${position}].role`,
          'unsupported_parameter',
        );
    }
  });
  const last = messages.at(-1);
  if (last?.role !== 'assistant') turns.push(`${assistantLabel}:`);
  return turns.join(turnSeparator);
}

function stopSequences(stop: ChatCompletionRequest['stop']): string[] {
  const requested = stop === null || stop === undefined ? [] : typeof stop === 'string' ? [stop] : stop;
  return [...new Set([...requested, nextUserTurn])];
}

/**
 * The `/generate` body for a chat request. Features the API does not have are refused with a 400 naming
 * the parameter, never silently dropped: a client asking for tools or JSON output must learn it will not
 * get them. Sampling hints the API lacks (penalties, logit bias) do not change what a valid answer is,
 * so they are left out.
 */
export function convertToTextGenRequest(modelId: string, request: ChatCompletionRequest): TextGenGenerateRequest {
  if (request.n !== null && request.n !== undefined && request.n !== 1) {
    throw unsupported('TextGen generates one answer per request; `n` must be 1.', 'n');
  }
  if (request.tools && request.tools.length > 0 && request.tool_choice !== 'none') {
    throw unsupported('TextGen models cannot call tools.', 'tools');
  }
  if (request.response_format && request.response_format.type !== 'text') {
    throw unsupported(`TextGen models cannot guarantee '${request.response_format.type}' output.`, 'response_format');
  }
  if (request.logprobs === true) {
    throw unsupported('TextGen does not return log probabilities.', 'logprobs');
  }
  const body: TextGenGenerateRequest = {
    model: modelId,
    prompt: renderPrompt(request.messages),
    stop: stopSequences(request.stop),
    stream: request.stream === true,
  };
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== null && maxTokens !== undefined) body.max_new_tokens = maxTokens;
  if (request.temperature !== null && request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== null && request.top_p !== undefined) body.top_p = request.top_p;
  if (request.seed !== null && request.seed !== undefined) body.seed = request.seed;
  return body;
}
