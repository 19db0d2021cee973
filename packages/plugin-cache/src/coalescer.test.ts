import { Cancellation, type ChatCompletion, type ChatCompletionChunk, type ChatContext, type Target, type UpstreamCall, type UpstreamRequest } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { Coalescer } from './coalescer.js';

const target = { model: 'mock/model', modelId: 'model', provider: { id: 'mock' } } as unknown as Target;
const completion: ChatCompletion = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi', refusal: null }, finish_reason: 'stop', logprobs: null }],
};

function request(cancellation = new Cancellation()): UpstreamRequest {
  return { context: {} as ChatContext, target, body: { model: 'mock/model', messages: [{ role: 'user', content: 'hi' }] }, cancellation };
}

describe('Coalescer', () => {
  it('shares one call between identical requests and gives each its own copy of the answer', async () => {
    const coalescer = new Coalescer();
    let calls = 0;
    let release!: () => void;
    const next: UpstreamCall = async () => {
      calls++;
      await new Promise<void>((resolve) => (release = resolve));
      return { type: 'response', response: completion, target };
    };
    const first = coalescer.run('key', request(), next);
    const second = coalescer.run('key', request(), next);
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(calls).toBe(1);
    expect([a.coalesced, b.coalesced]).toEqual([false, true]);
    expect(a.type === 'response' && b.type === 'response' && a.response !== b.response).toBe(true);
    expect(coalescer.inFlight).toBe(0);
  });

  it('leaves the cancellation of a finished call alone when its clients leave, and aborts an unfinished one', async () => {
    const coalescer = new Coalescer();
    const cancellations: Cancellation[] = [];
    const answered: UpstreamCall = async ({ cancellation }) => {
      cancellations.push(cancellation);
      return { type: 'response', response: completion, target };
    };
    await coalescer.run('answered', request(), answered);
    expect(cancellations[0]!.aborted).toBe(false);

    const hanging: UpstreamCall = ({ cancellation }) => {
      cancellations.push(cancellation);
      return new Promise((_resolve, reject) => cancellation.subscribe(reject));
    };
    const client = new Cancellation();
    const pending = coalescer.run('hanging', request(client), hanging);
    client.abort();
    await expect(pending).rejects.toThrow(/went away/);
    expect(cancellations[1]!.aborted).toBe(true);
  });

  it('keeps a long stream whole for every consumer, and stops taking joiners once its history is full', async () => {
    const coalescer = new Coalescer({ maxHistoryChunks: 4 });
    const chunkCount = 20;
    let calls = 0;
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const chunk = (index: number): ChatCompletionChunk => ({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'model',
      choices: [{ index: 0, delta: { content: String(index) }, finish_reason: index === chunkCount - 1 ? 'stop' : null }],
    });
    const next: UpstreamCall = async () => {
      calls++;
      async function* stream(): AsyncGenerator<ChatCompletionChunk> {
        for (let index = 0; index < chunkCount; index++) {
          // Eight chunks at once, the rest when the test opens the gate: joiners come in between.
          if (index === 8) await gate;
          yield chunk(index);
        }
      }
      return { type: 'stream', stream: stream(), target };
    };
    const read = async (result: Awaited<ReturnType<Coalescer['run']>>) => {
      if (result.type !== 'stream') throw new Error('expected a stream');
      const contents: string[] = [];
      for await (const item of result.stream) contents.push(item.choices[0]!.delta.content!);
      return contents;
    };
    const first = await coalescer.run('long', request(), next);
    // Joins early but reads nothing until the end: what it has not read may not be dropped.
    const early = await coalescer.run('long', request(), next);
    expect(early.coalesced).toBe(true);
    const firstContents = read(first);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The history passed four chunks: an identical request now makes an upstream call of its own.
    const late = await coalescer.run('long', request(), next);
    expect(late.coalesced).toBe(false);
    expect(calls).toBe(2);
    openGate();
    const all = Array.from({ length: chunkCount }, (_, index) => String(index));
    expect(await firstContents).toEqual(all);
    expect(await read(late)).toEqual(all);
    expect(await read(early)).toEqual(all);
    expect(coalescer.inFlight).toBe(0);
  });
});
