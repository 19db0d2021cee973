import { type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '@switchyard/providers/test-utils';

/** An upstream speaking OpenAI's wire format: the answer repeats the user's last message. */
export async function startOpenAIMock(): Promise<MockUpstream> {
  return startMockUpstream(async (request, response) => {
    if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
      sendJson(response, 404, { error: { message: `No route ${request.method} ${request.url}`, type: 'invalid_request_error', param: null, code: null } });
      return;
    }
    const body = request.json as { model: string; stream?: boolean; messages: Array<{ content: string }> };
    const text = `You said: ${body.messages.at(-1)!.content}`;
    const base = { id: 'chatcmpl-mock1', created: 1_700_000_000, model: `${body.model}-2024-07-18`, system_fingerprint: 'fp_mock' };
    const usage = { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 };
    if (!body.stream) {
      sendJson(response, 200, {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, finish_reason: 'stop', logprobs: null }],
        usage,
      });
      return;
    }
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, usage: null, ...extra })}\n\n`;
    await writeEventStream(response, [
      chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]),
      ...text.split(/(?<= )/).map((piece) => chunk([{ index: 0, delta: { content: piece }, finish_reason: null, logprobs: null }])),
      chunk([{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null }]),
      chunk([], { usage }),
      'data: [DONE]\n\n',
    ]);
  });
}
