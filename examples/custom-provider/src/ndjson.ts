/** Longest line accepted; a TextGen event is a few hundred bytes, a broken upstream may send anything. */
export const maxLineBytes = 1024 * 1024;

export class LineTooLongError extends Error {
  constructor() {
    super(`A stream line exceeded ${maxLineBytes} bytes.`);
    this.name = 'LineTooLongError';
  }
}

/**
 * Splits a newline-delimited body into lines as bytes arrive: each network chunk yields the lines it
 * completes at once, nothing waits for more data than the line it belongs to. Blank lines (keep-alives)
 * are skipped; a last line without its newline still counts.
 */
export async function* readLines(body: AsyncIterable<Uint8Array>, maxBytes = maxLineBytes): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const bytes of body) {
    pending += decoder.decode(bytes, { stream: true });
    let start = 0;
    let newline = pending.indexOf('\n', start);
    while (newline !== -1) {
      const line = pending.slice(start, newline).replace(/\r$/, '');
      if (line.trim() !== '') yield line;
      start = newline + 1;
      newline = pending.indexOf('\n', start);
    }
    pending = pending.slice(start);
    // Characters, not bytes, but never fewer than the bytes' count: a cheap bound that is never too strict.
    if (pending.length > maxBytes) throw new LineTooLongError();
  }
  pending += decoder.decode();
  const last = pending.replace(/\r$/, '');
  if (last.trim() !== '') yield last;
}
