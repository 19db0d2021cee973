import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Cancellation } from './cancellation.js';

describe('Cancellation', () => {
  it('calls each listener once with the reason, and a second abort changes nothing', () => {
    const cancellation = new Cancellation();
    const heard: unknown[] = [];
    cancellation.subscribe((reason) => heard.push(['first', reason]));
    cancellation.subscribe((reason) => heard.push(['second', reason]));
    const reason = new Error('gone');
    cancellation.abort(reason);
    cancellation.abort(new Error('again'));
    expect(heard).toEqual([
      ['first', reason],
      ['second', reason],
    ]);
    expect(cancellation.aborted).toBe(true);
    expect(cancellation.reason).toBe(reason);
    expect(() => cancellation.throwIfAborted()).toThrow(reason);
  });

  it('runs every listener when one throws, then throws the first error', () => {
    const cancellation = new Cancellation();
    const heard: string[] = [];
    cancellation.subscribe(() => {
      throw new Error('first listener failed');
    });
    cancellation.subscribe(() => heard.push('second'));
    cancellation.subscribe(() => {
      throw new Error('third listener failed');
    });
    expect(() => cancellation.abort()).toThrow('first listener failed');
    expect(heard).toEqual(['second']);
    expect(cancellation.aborted).toBe(true);
  });

  it('gives an AbortError without a reason, as AbortController does', () => {
    const cancellation = new Cancellation();
    cancellation.abort();
    expect(cancellation.reason).toBeInstanceOf(DOMException);
    expect((cancellation.reason as DOMException).name).toBe('AbortError');
  });

  it('no longer calls a listener once it is unsubscribed, whichever of several it is', () => {
    const cancellation = new Cancellation();
    const heard: string[] = [];
    const first = () => heard.push('first');
    const second = () => heard.push('second');
    const third = () => heard.push('third');
    cancellation.subscribe(first);
    cancellation.unsubscribe(first);
    cancellation.subscribe(second);
    cancellation.subscribe(third);
    cancellation.subscribe(first);
    cancellation.unsubscribe(third);
    cancellation.abort();
    expect(heard).toEqual(['second', 'first']);
  });

  it('does not call a listener added after the abort', () => {
    const cancellation = new Cancellation();
    cancellation.abort();
    let called = false;
    cancellation.subscribe(() => (called = true));
    expect(called).toBe(false);
  });

  it('makes its signal only when asked, one signal that follows the abort whenever it was made', () => {
    const early = new Cancellation();
    const signal = early.signal;
    expect(early.signal).toBe(signal);
    expect(signal.aborted).toBe(false);
    early.abort('client gone');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('client gone');

    const late = new Cancellation();
    late.abort('client gone');
    expect(late.signal.aborted).toBe(true);
    expect(late.signal.reason).toBe('client gone');
  });

  it('serves APIs that need a real AbortSignal', async () => {
    const cancellation = new Cancellation();
    const target = new EventTarget();
    const waiting = once(target, 'never', { signal: cancellation.signal });
    cancellation.abort(new DOMException('stop', 'AbortError'));
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('follows a parent cancellation, and can be aborted alone without aborting the parent', () => {
    const parent = new Cancellation();
    const child = new Cancellation(parent);
    const sibling = new Cancellation(parent);
    child.abort('timeout');
    expect(parent.aborted).toBe(false);
    parent.abort('client gone');
    expect(child.reason).toBe('timeout');
    expect(sibling.aborted).toBe(true);
    expect(sibling.reason).toBe('client gone');
  });

  it('follows a parent AbortSignal, and one already aborted at once', () => {
    const controller = new AbortController();
    const child = new Cancellation(controller.signal);
    controller.abort('client gone');
    expect(child.reason).toBe('client gone');

    const already = new Cancellation(AbortSignal.abort('earlier'));
    expect(already.aborted).toBe(true);
    expect(already.reason).toBe('earlier');
  });

  it('stops following its parent once detached, and the parent keeps no listener of it', () => {
    const parent = new Cancellation();
    const children = Array.from({ length: 3 }, () => new Cancellation(parent));
    for (const child of children) child.detach();
    let parentListeners = 0;
    parent.subscribe(() => (parentListeners += 1));
    parent.abort('client gone');
    expect(children.map((child) => child.aborted)).toEqual([false, false, false]);
    expect(parentListeners).toBe(1);

    const controller = new AbortController();
    const child = new Cancellation(controller.signal);
    child.detach();
    child.detach();
    controller.abort('client gone');
    expect(child.aborted).toBe(false);
  });

  it('detaches from its parent when it is aborted on its own', () => {
    const parent = new Cancellation();
    const child = new Cancellation(parent);
    child.abort('timeout');
    let heard = 0;
    parent.subscribe(() => (heard += 1));
    parent.abort('client gone');
    // Only the listener above was left on the parent: the aborted child had removed its own.
    expect(heard).toBe(1);
  });
});
