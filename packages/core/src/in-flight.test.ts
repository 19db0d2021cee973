import { describe, expect, it } from 'vitest';
import { Cancellation } from './cancellation.js';
import { InFlightRequests } from './in-flight.js';

describe('InFlightRequests', () => {
  it('counts entries and removes them from anywhere in the list, once', () => {
    const requests = new InFlightRequests();
    const cancellations = Array.from({ length: 4 }, () => new Cancellation());
    const entries = cancellations.map((cancellation) => requests.add(cancellation));
    expect(requests.size).toBe(4);
    requests.delete(entries[1]!); // middle
    requests.delete(entries[3]!); // first (the newest is at the head)
    requests.delete(entries[0]!); // last
    requests.delete(entries[0]!); // again: nothing happens
    expect(requests.size).toBe(1);
    requests.abortAll(new Error('closing'));
    expect(cancellations.map((cancellation) => cancellation.aborted)).toEqual([false, false, true, false]);
  });

  it('leaves a removed entry linked to nothing, so a finished request keeps no other alive', () => {
    const requests = new InFlightRequests();
    const first = requests.add(new Cancellation());
    const middle = requests.add(new Cancellation());
    const last = requests.add(new Cancellation());
    requests.delete(middle);
    expect(middle.previous).toBeUndefined();
    expect(middle.next).toBeUndefined();
    expect(last.next).toBe(first);
    expect(first.previous).toBe(last);
  });

  it('aborts every request still in flight, even those that remove themselves while being aborted', () => {
    const requests = new InFlightRequests();
    const cancellations = Array.from({ length: 3 }, () => new Cancellation());
    for (const cancellation of cancellations) {
      const entry = requests.add(cancellation);
      cancellation.subscribe(() => requests.delete(entry));
    }
    requests.abortAll(new Error('closing'));
    expect(cancellations.every((cancellation) => cancellation.aborted)).toBe(true);
    expect(requests.size).toBe(0);
  });
});
