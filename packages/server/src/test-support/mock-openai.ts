import { type MockUpstream, type RecordedRequest, sendJson, startMockUpstream } from '@switchyard/providers/test-utils';

export interface MockOpenAIOptions {
  /** Pause between stream chunks for models ending in `-slow`. Default 50 ms. */
  slowChunkDelayMs?: number;
  /** Chunks a `-slow` stream sends. Default 20. */
  slowChunks?: number;
}

/**
 * An OpenAI Chat Completions upstream on 127.0.0.1. Answers `Reply from <model>: <last user message>`,
 * as JSON or as a stream; a model ending in `-slow` streams `slowChunks` numbered chunks
 * `slowChunkDelayMs` apart; `-fail` answers 503 (so fallback moves on).
 */
export async function startMockOpenAI(options: MockOpenAIOptions = {}): Promise<MockUpstream> {
  const delayMs = options.slowChunkDelayMs ?? 50;
  const slowChunks = options.slowChunks ?? 20;
  return startMockUpstream(async (request: RecordedRequest, response) => {
    if (request.method === 'GET' && request.url === '/v1/models') {
      return sendJson(response, 200, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'openai' }] });
    }
    if (request.url !== '/v1/chat/completions') return sendJson(response, 404, { error: { message: 'Not found', type: 'invalid_request_error', param: null, code: null } });
    const body = request.json as { model: string; stream?: boolean; messages: Array<{ role: string; content: string }> };
    if (body.model.endsWith('-fail')) {
      return sendJson(response, 503, { error: { message: 'The upstream is overloaded.', type: 'server_error', param: null, code: null } });
    }
    const question = [...body.messages].reverse().find((message) => message.role === 'user')?.content ?? '';
    const base = { id: 'chatcmpl-mock', created: 1_700_000_000, model: body.model };
    const usage = { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 };
    if (!body.stream) {
      return sendJson(response, 200, {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: `Reply from ${body.model}: ${question}`, refusal: null }, finish_reason: 'stop', logprobs: null }],
        usage,
      });
    }
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (payload: unknown) => response.write(`data: ${JSON.stringify(payload)}\n\n`);
    const chunk = (content: string) => ({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
    send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    const pieces = body.model.endsWith('-slow') ? Array.from({ length: slowChunks }, (_, index) => `${index} `) : [`Reply from ${body.model}: `, question];
    for (const piece of pieces) {
      if (response.destroyed) return;
      send(chunk(piece));
      if (body.model.endsWith('-slow')) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    if (response.destroyed) return;
    send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    send({ ...base, object: 'chat.completion.chunk', choices: [], usage });
    response.end('data: [DONE]\n\n');
  });
}
