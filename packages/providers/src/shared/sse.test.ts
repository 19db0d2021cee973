import { describe, expect, it } from 'vitest';
import { createServerSentEventReader, type EventSourceMessage, parseServerSentEvents } from './sse.js';

const encoder = new TextEncoder();

async function* bytes(...parts: Array<string | Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? encoder.encode(part) : part;
}

async function parse(...parts: Array<string | Uint8Array>): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  for await (const event of parseServerSentEvents(bytes(...parts))) events.push(event);
  return events;
}

/** Event fields that matter to adapters; `id` is left out unless the stream set one. */
function fields(events: EventSourceMessage[]) {
  return events.map((event) => (event.id === undefined ? { event: event.event, data: event.data } : { event: event.event, data: event.data, id: event.id }));
}

const openAIStream = 'data: {"a":1}\n\ndata: {"b":"two words"}\n\nevent: error\ndata: {"error":{"message":"x"}}\n\ndata: [DONE]\n\n';
const expected = [
  { event: undefined, data: '{"a":1}' },
  { event: undefined, data: '{"b":"two words"}' },
  { event: 'error', data: '{"error":{"message":"x"}}' },
  { event: undefined, data: '[DONE]' },
];

describe('parseServerSentEvents', () => {
  it('reads data and event fields', async () => {
    expect(fields(await parse(openAIStream))).toEqual(expected);
  });

  it('gives the same events wherever the network splits the bytes', async () => {
    const all = encoder.encode(openAIStream);
    for (let cut = 1; cut < all.length; cut++) {
      expect(fields(await parse(all.slice(0, cut), all.slice(cut)))).toEqual(expected);
    }
    expect(fields(await parse(...[...all].map((byte) => Uint8Array.of(byte))))).toEqual(expected);
  });

  it('keeps a multi-byte character split between two network chunks whole', async () => {
    const all = encoder.encode('data: {"text":"Grüße 🚂"}\n\n');
    const inside = all.indexOf(0xf0) + 2;
    expect((await parse(all.slice(0, inside), all.slice(inside)))[0]!.data).toBe('{"text":"Grüße 🚂"}');
  });

  it('reads CRLF and CR line endings (Gemini sends \\r\\n\\r\\n)', async () => {
    expect(fields(await parse(openAIStream.replaceAll('\n', '\r\n')))).toEqual(expected);
    expect(fields(await parse(openAIStream.replaceAll('\n', '\r')))).toEqual(expected);
    // A CRLF split between chunks must not read as two line ends.
    expect(fields(await parse('data: a\r', '\n\r', '\ndata: b\r\n\r\n'))).toEqual([
      { event: undefined, data: 'a' },
      { event: undefined, data: 'b' },
    ]);
  });

  it('yields a last event that the server closed without its blank line', async () => {
    expect(fields(await parse('data: {"a":1}\n\ndata: {"last":true}'))).toEqual([
      { event: undefined, data: '{"a":1}' },
      { event: undefined, data: '{"last":true}' },
    ]);
    expect(fields(await parse('data: {"last":true}\n'))).toEqual([{ event: undefined, data: '{"last":true}' }]);
  });

  it('skips comments and keep-alives, joins multi-line data and reads ids', async () => {
    expect(fields(await parse(': OPENROUTER PROCESSING\n\n', 'event: ping\ndata: {}\n\n', 'id: 7\ndata: line one\ndata: line two\n\n', '\n\n'))).toEqual([
      { event: 'ping', data: '{}' },
      { event: undefined, data: 'line one\nline two', id: '7' },
    ]);
  });

  it('yields nothing for an empty body', async () => {
    expect(await parse()).toEqual([]);
    expect(await parse('')).toEqual([]);
  });

  it('yields each event as soon as its bytes arrive, without waiting for the rest of the body', async () => {
    let release!: () => void;
    const later = new Promise<void>((resolve) => (release = resolve));
    async function* body(): AsyncGenerator<Uint8Array> {
      yield encoder.encode('data: first\n\ndata: sec');
      await later;
      yield encoder.encode('ond\n\n');
    }
    const iterator = parseServerSentEvents(body())[Symbol.asyncIterator]();
    expect((await iterator.next()).value.data).toBe('first');
    const second = iterator.next();
    release();
    expect((await second).value.data).toBe('second');
    expect((await iterator.next()).done).toBe(true);
  });

  it('refuses an event larger than 16 MiB instead of buffering without end', async () => {
    const huge = 'x'.repeat(17 * 1024 * 1024);
    await expect(parse('data: ', huge, '\n\n')).rejects.toThrow();
  });
});

describe('createServerSentEventReader', () => {
  it('returns the events each piece of bytes completes, and the unfinished last one at the end', () => {
    const reader = createServerSentEventReader();
    expect(fields(reader.feed(encoder.encode('data: {"a":1}\n\ndata: {"b"')))).toEqual([{ event: undefined, data: '{"a":1}' }]);
    expect(reader.feed(encoder.encode(':"two"}'))).toEqual([]);
    expect(fields(reader.feed(encoder.encode('\n\nevent: error\ndata: x')))).toEqual([{ event: undefined, data: '{"b":"two"}' }]);
    expect(fields(reader.end())).toEqual([{ event: 'error', data: 'x' }]);
  });

  it('refuses an event larger than 16 MiB', () => {
    const reader = createServerSentEventReader();
    const megabyte = encoder.encode('x'.repeat(1024 * 1024));
    reader.feed(encoder.encode('data: '));
    expect(() => {
      for (let count = 0; count < 17; count++) reader.feed(megabyte);
    }).toThrow();
  });
});
