/*
 * What the load generator sends and what the mock upstream answers: an ordinary Chat Completions request,
 * a complete non-streamed answer, and a stream of the same answer in OpenAI's exact wire shape (role chunk,
 * content chunks, finish chunk, then a usage chunk with `choices: []` when the client asked for usage).
 */

export const upstreamModel = 'gpt-4.1-nano-2025-04-14';

/** The words of the answer, one per content chunk: with the role and finish chunks, a 20-chunk stream. */
const answerPieces = [
  'Tide',
  ' tables',
  ' list',
  ' the',
  ' times',
  ' of',
  ' high',
  ' and',
  ' low',
  ' water',
  ' for',
  ' each',
  ' day',
  ',',
  ' so',
  ' boats',
  ' leave',
  ' on',
] as const;

export const streamChunkCount = answerPieces.length + 2;

const answerText = answerPieces.join('');

const usage = {
  prompt_tokens: 24,
  completion_tokens: answerPieces.length,
  total_tokens: 24 + answerPieces.length,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};

/** The request every client in the benchmark sends; `model` differs per system under test. */
export function chatRequestBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [
      { role: 'system', content: 'You answer in one short sentence.' },
      { role: 'user', content: 'What is a tide table for?' },
    ],
    max_tokens: 64,
    temperature: 0.2,
    ...(stream ? { stream: true } : {}),
  });
}

export function chatCompletionJson(created: number): string {
  return JSON.stringify({
    id: 'chatcmpl-BenchNonStreamed0000000000001',
    object: 'chat.completion',
    created,
    model: upstreamModel,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: answerText, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage,
    service_tier: 'default',
    system_fingerprint: 'fp_bench0001',
  });
}

/** Each event framed as OpenAI sends it (`data: …\n\n`), ending with `data: [DONE]`. */
export function chatCompletionStreamEvents(created: number, includeUsage: boolean): string[] {
  const base = { id: 'chatcmpl-BenchStreamed00000000000000001', object: 'chat.completion.chunk', created, model: upstreamModel, service_tier: 'default', system_fingerprint: 'fp_bench0001' };
  const chunk = (delta: Record<string, unknown>, finishReason: string | null, obfuscation: string) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
    obfuscation,
  });
  const payloads: unknown[] = [chunk({ role: 'assistant', content: '', refusal: null }, null, 'Qa1b2C')];
  for (const piece of answerPieces) payloads.push(chunk({ content: piece }, null, 'x'.repeat(12 - piece.length)));
  payloads.push(chunk({}, 'stop', 'z9Y'));
  if (includeUsage) payloads.push({ ...base, choices: [], usage, obfuscation: 'u7' });
  return [...payloads.map((payload) => `data: ${JSON.stringify(payload)}\n\n`), 'data: [DONE]\n\n'];
}
