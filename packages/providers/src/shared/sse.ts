import { createParser, type EventSourceMessage } from 'eventsource-parser';

export type { EventSourceMessage };

/** Largest single event accepted; a provider never sends one this big, a broken upstream might. */
const maxEventBytes = 16 * 1024 * 1024;

/**
 * Parses a server-sent-event body into messages as bytes arrive. Each network chunk yields its complete
 * events at once: nothing waits for more data than the event it belongs to.
 */
export async function* parseServerSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  let pending: EventSourceMessage[] = [];
  let failure: Error | undefined;
  const parser = createParser({
    onEvent: (event) => pending.push(event),
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') failure ??= error;
    },
    maxBufferSize: maxEventBytes,
  });
  const decoder = new TextDecoder();
  const take = () => {
    if (failure) throw failure;
    const events = pending;
    pending = [];
    return events;
  };
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    yield* take();
  }
  parser.feed(decoder.decode());
  yield* take();
  // A last event without its blank line still counts: some servers close right after it. The blank line
  // is supplied here; eventsource-parser's `reset({ consume: true })` parses the unfinished line but drops
  // the event, and keeps a trailing CR (CR-only line ends) waiting for an LF that never comes.
  parser.feed('\n\n');
  yield* take();
}
