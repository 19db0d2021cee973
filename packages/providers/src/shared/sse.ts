import { createParser, type EventSourceMessage } from 'eventsource-parser';

export type { EventSourceMessage };

/** Largest single event accepted; a provider never sends one this big, a broken upstream might. */
const maxEventBytes = 16 * 1024 * 1024;

export interface ServerSentEventReader {
  /** The events the bytes complete (none when they end mid-event). Throws on an event over 16 MiB. */
  feed(bytes: Uint8Array): EventSourceMessage[];
  /** The body has ended: the events still held, a last one without its blank line included. */
  end(): EventSourceMessage[];
}

/**
 * A synchronous server-sent-event reader: bytes in, complete events out. An adapter that reads its body
 * itself calls it directly and saves an async generator layer (a few promise hops) per event; everyone
 * else uses `parseServerSentEvents`.
 */
export function createServerSentEventReader(): ServerSentEventReader {
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
  return {
    feed(bytes) {
      parser.feed(decoder.decode(bytes, { stream: true }));
      return take();
    },
    end() {
      parser.feed(decoder.decode());
      // A last event without its blank line still counts: some servers close right after it. The blank
      // line is supplied here; eventsource-parser's `reset({ consume: true })` parses the unfinished line
      // but drops the event, and keeps a trailing CR (CR-only line ends) waiting for an LF that never comes.
      parser.feed('\n\n');
      return take();
    },
  };
}

/**
 * Parses a server-sent-event body into messages as bytes arrive. Each network chunk yields its complete
 * events at once: nothing waits for more data than the event it belongs to.
 */
export async function* parseServerSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  const reader = createServerSentEventReader();
  for await (const chunk of body) yield* reader.feed(chunk);
  yield* reader.end();
}
