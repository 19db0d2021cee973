import type { ChatCompletion, ChatContext, Target, UpstreamCall, UpstreamRequest } from '@switchyard/core';
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

function request(signal: AbortSignal): UpstreamRequest {
  return { context: {} as ChatContext, target, body: { model: 'mock/model', messages: [{ role: 'user', content: 'hi' }] }, signal };
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
    const first = coalescer.run('key', request(new AbortController().signal), next);
    const second = coalescer.run('key', request(new AbortController().signal), next);
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(calls).toBe(1);
    expect([a.coalesced, b.coalesced]).toEqual([false, true]);
    expect(a.type === 'response' && b.type === 'response' && a.response !== b.response).toBe(true);
    expect(coalescer.inFlight).toBe(0);
  });

  it('leaves the signal of a finished call alone when its clients leave, and aborts an unfinished one', async () => {
    const coalescer = new Coalescer();
    const signals: AbortSignal[] = [];
    const answered: UpstreamCall = async ({ signal }) => {
      signals.push(signal);
      return { type: 'response', response: completion, target };
    };
    await coalescer.run('answered', request(new AbortController().signal), answered);
    expect(signals[0]!.aborted).toBe(false);

    const hanging: UpstreamCall = ({ signal }) => {
      signals.push(signal);
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    };
    const client = new AbortController();
    const pending = coalescer.run('hanging', request(client.signal), hanging);
    client.abort();
    await expect(pending).rejects.toThrow(/went away/);
    expect(signals[1]!.aborted).toBe(true);
  });
});
