import type { ServerResponse } from 'node:http';
import { type MockUpstream, sendJson, startMockUpstream } from '@switchyard/providers/test-utils';

/*
 * A TextGen server on 127.0.0.1 speaking the API's real wire format. It answers by repeating the last user
 * turn of the transcript, one token per word, so tests can predict every answer. Some model names select
 * the failures a real server produces:
 *   tg-overloaded      503 {detail, error_type: "overloaded"} before answering
 *   tg-stream-error    a few tokens, then an `error` event instead of `done`
 *   tg-cut-off         a few tokens, then the connection ends without `done`
 *   tg-slow            streams one token every 20 ms (for disconnect tests)
 *   tg-not-ndjson      answers a stream request with a plain-text body
 */

export const mockApiKey = 'tg-key-123';

function words(text: string): string[] {
  return text.split(/(?<= )/).filter((word) => word !== '');
}

/** The last `User:` turn of a transcript rendered by this package. */
function lastUserTurn(prompt: string): string {
  const turns = prompt.split('\n\n').filter((turn) => turn.startsWith('User: '));
  return turns.at(-1)?.slice('User: '.length) ?? '';
}

function writeLines(response: ServerResponse, lines: unknown[], options: { end?: boolean } = {}): void {
  response.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (const line of lines) response.write(`${JSON.stringify(line)}\n`);
  if (options.end !== false) response.end();
}

export function startTextGenMock(): Promise<MockUpstream> {
  return startMockUpstream(async (request, response) => {
    if (request.headers['x-api-key'] !== mockApiKey) {
      sendJson(response, 401, { detail: 'Invalid API key.', error_type: 'unauthorized' });
      return;
    }
    if (request.method === 'GET' && request.url === '/v1/models') {
      sendJson(response, 200, { models: [{ name: 'tg-small', context_length: 4096, max_new_tokens: 1024 }, { name: 'tg-large', context_length: 32768 }] });
      return;
    }
    if (request.method !== 'POST' || request.url !== '/v1/generate') {
      sendJson(response, 404, { detail: `No route ${request.method} ${request.url}.` });
      return;
    }
    const body = request.json as { model?: unknown; prompt?: unknown; max_new_tokens?: number; stream?: boolean } | undefined;
    if (typeof body?.model !== 'string' || typeof body.prompt !== 'string') {
      sendJson(response, 422, { detail: [{ loc: ['body', 'prompt'], msg: 'field required' }], error_type: 'validation' });
      return;
    }
    if (body.model === 'tg-overloaded') {
      sendJson(response, 503, { detail: 'All generation workers are busy.', error_type: 'overloaded' }, { 'retry-after': '2' });
      return;
    }
    const all = words(`You said: ${lastUserTurn(body.prompt)}`);
    const budget = body.max_new_tokens ?? 256;
    const answer = all.slice(0, budget);
    const stopReason = answer.length < all.length ? 'max_tokens' : 'eos';
    // The mock's token is a whitespace-separated word: predictable usage figures for the tests.
    const tokensIn = body.prompt.split(/\s+/).filter((word) => word !== '').length;

    if (!body.stream) {
      sendJson(response, 200, {
        id: 'gen_0001',
        model: `${body.model}-0425`,
        text: answer.join(''),
        tokens_in: tokensIn,
        tokens_out: answer.length,
        stop_reason: stopReason,
        created_at: '2025-04-25T10:00:00Z',
      });
      return;
    }
    const tokens = answer.map((text) => ({ event: 'token', text }));
    switch (body.model) {
      case 'tg-stream-error':
        writeLines(response, [...tokens.slice(0, 2), { event: 'error', message: 'The worker crashed.', error_type: 'worker_failed' }]);
        return;
      case 'tg-cut-off':
        writeLines(response, tokens.slice(0, 2));
        return;
      case 'tg-not-ndjson':
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end('streaming is unavailable');
        return;
      case 'tg-slow': {
        response.writeHead(200, { 'content-type': 'application/x-ndjson' });
        for (let index = 0; index < 500 && !response.destroyed; index++) {
          response.write(`${JSON.stringify({ event: 'token', text: `word${index} ` })}\n`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        response.end(`${JSON.stringify({ event: 'done', stop_reason: 'eos', tokens_in: tokensIn, tokens_out: 500 })}\n`);
        return;
      }
      default:
        writeLines(response, [...tokens, { event: 'done', stop_reason: stopReason, tokens_in: tokensIn, tokens_out: answer.length }]);
    }
  });
}
