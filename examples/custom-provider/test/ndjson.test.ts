import { describe, expect, it } from 'vitest';
import { LineTooLongError, readLines } from '../src/ndjson.js';

async function* bytes(...parts: Array<string | Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? new TextEncoder().encode(part) : part;
}

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const result: string[] = [];
  for await (const line of lines) result.push(line);
  return result;
}

describe('readLines', () => {
  it('joins lines split across chunks and skips blank keep-alive lines', async () => {
    expect(await collect(readLines(bytes('{"a":', '1}\n\n{"b":2}\r\n', '\n{"c"', ':3}\n')))).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('keeps a last line that has no newline', async () => {
    expect(await collect(readLines(bytes('one\ntwo')))).toEqual(['one', 'two']);
  });

  it('decodes a multi-byte character split between chunks', async () => {
    const encoded = new TextEncoder().encode('{"text":"é"}\n');
    expect(await collect(readLines(bytes(encoded.slice(0, 10), encoded.slice(10))))).toEqual(['{"text":"é"}']);
  });

  it('yields each line as soon as its chunk arrives', async () => {
    let released: () => void = () => {};
    const gate = new Promise<void>((resolve) => (released = resolve));
    async function* slowBody(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode('first\n');
      await gate;
      yield new TextEncoder().encode('second\n');
    }
    const lines = readLines(slowBody());
    // The first line arrives while the body is still waiting for more data.
    expect((await lines.next()).value).toBe('first');
    released();
    expect((await lines.next()).value).toBe('second');
  });

  it('refuses a line longer than the limit', async () => {
    await expect(collect(readLines(bytes('x'.repeat(40), 'y'.repeat(40)), 64))).rejects.toBeInstanceOf(LineTooLongError);
  });
});
