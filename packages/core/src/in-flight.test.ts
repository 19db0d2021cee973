import { describe, expect, it } from 'vitest';
import { InFlightRequests } from './in-flight.js';

describe('InFlightRequests', () => {
  it('counts entries and removes them from anywhere in the list, once', () => {
    const requests = new InFlightRequests();
    const controllers = Array.from({ length: 4 }, () => new AbortController());
    const entries = controllers.map((controller) => requests.add(controller));
    expect(requests.size).toBe(4);
    requests.delete(entries[1]!); // middle
    requests.delete(entries[3]!); // first (the newest is at the head)
    requests.delete(entries[0]!); // last
    requests.delete(entries[0]!); // again: nothing happens
    expect(requests.size).toBe(1);
    requests.abortAll(new Error('closing'));
    expect(controllers.map((controller) => controller.signal.aborted)).toEqual([false, false, true, false]);
  });

  it('leaves a removed entry linked to nothing, so a finished request keeps no other alive', () => {
    const requests = new InFlightRequests();
    const first = requests.add(new AbortController());
    const middle = requests.add(new AbortController());
    const last = requests.add(new AbortController());
    requests.delete(middle);
    expect(middle.previous).toBeUndefined();
    expect(middle.next).toBeUndefined();
    expect(last.next).toBe(first);
    expect(first.previous).toBe(last);
  });

  it('aborts every request still in flight, even those that remove themselves while being aborted', () => {
    const requests = new InFlightRequests();
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    for (const controller of controllers) {
      const entry = requests.add(controller);
      controller.signal.addEventListener('abort', () => requests.delete(entry), { once: true });
    }
    requests.abortAll(new Error('closing'));
    expect(controllers.every((controller) => controller.signal.aborted)).toBe(true);
    expect(requests.size).toBe(0);
  });
});
