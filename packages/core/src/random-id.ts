import { randomFillSync } from 'node:crypto';

/*
 * Why not `crypto.randomUUID()`: Node 20 builds its result by concatenating hex pairs, and V8 keeps such a
 * string as a tree of the pieces until something flattens it. One that lives as long as its request (a
 * request id, a ledger row id, a stream's completion id) holds about 490 bytes instead of 65; with a
 * thousand streams open that is half a megabyte. Written byte by byte into a buffer and read out once,
 * the id is a single flat string, and cheaper to make too. Same randomness: Node's CSPRNG, drawn in
 * batches as Node does for its own UUIDs.
 */

const idsPerBatch = 128;
const randomBytesPool = Buffer.alloc(16 * idsPerBatch);
let poolOffset = randomBytesPool.length;
const hexDigits = Buffer.from('0123456789abcdef', 'latin1');
/** Room for the longest prefix accepted plus the 36 characters of a UUID. */
const maxPrefixLength = 64;
const output = Buffer.alloc(maxPrefixLength + 36);

/**
 * A random (version 4) UUID like `crypto.randomUUID()`, as one flat string, optionally after an ASCII
 * `prefix` of up to 64 characters (`chatcmpl-…`).
 */
export function randomId(prefix = ''): string {
  const length = prefix.length;
  if (length > maxPrefixLength) throw new RangeError(`randomId: the prefix is longer than ${maxPrefixLength} characters.`);
  for (let index = 0; index < length; index++) {
    const code = prefix.charCodeAt(index);
    if (code > 0x7f) throw new RangeError('randomId: the prefix must be ASCII.');
    output[index] = code;
  }
  if (poolOffset === randomBytesPool.length) {
    randomFillSync(randomBytesPool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += 16;
  // RFC 9562: version 4 in the high nibble of byte 6, variant 10 in the high bits of byte 8.
  randomBytesPool[start + 6] = (randomBytesPool[start + 6]! & 0x0f) | 0x40;
  randomBytesPool[start + 8] = (randomBytesPool[start + 8]! & 0x3f) | 0x80;
  let written = length;
  for (let index = 0; index < 16; index++) {
    if (index === 4 || index === 6 || index === 8 || index === 10) output[written++] = 0x2d; // '-'
    const byte = randomBytesPool[start + index]!;
    output[written++] = hexDigits[byte >> 4]!;
    output[written++] = hexDigits[byte & 0x0f]!;
  }
  return output.toString('latin1', 0, written);
}

/** Drawn once per process: what makes `uniqueId`s of different processes differ. */
let processPart: string | undefined;
let sequence = 0;

/**
 * An id no other call, in this process or any other, returns: this process's random UUID, then a counter
 * (`…-1a`). For ids that must be unique but need not be unguessable (ledger rows, concurrency slots), at
 * a tenth of `randomId`'s cost: no random bytes, no buffer read out as a string. Not for anything a
 * client could exploit by predicting the next one.
 */
export function uniqueId(): string {
  processPart ??= `${randomId()}-`;
  sequence++;
  return processPart + sequence.toString(36);
}
