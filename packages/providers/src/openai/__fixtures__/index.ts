import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * The OpenAI adapter's own test fixtures, written in the shape of OpenAI's real wire format:
 * `*.json` are response bodies, `*.chunks.txt` hold one SSE `data:` payload per line (no framing).
 */

const directory = dirname(fileURLToPath(import.meta.url));

export function readFixture(name: string): string {
  return readFileSync(join(directory, name), 'utf8');
}

export function fixtureJson<T = any>(name: string): T {
  return JSON.parse(readFixture(name)) as T;
}

/** The JSON payloads of a `*.chunks.txt` stream, parsed. */
export function fixtureChunks<T = any>(name: string): T[] {
  return fixtureLines(name).map((line) => JSON.parse(line) as T);
}

/** The stream framed as OpenAI sends it: `data: <payload>\n\n` per chunk, then `data: [DONE]\n\n`. */
export function fixtureEventStream(name: string): string[] {
  return [...fixtureLines(name).map((line) => `data: ${line}\n\n`), 'data: [DONE]\n\n'];
}

function fixtureLines(name: string): string[] {
  return readFixture(name)
    .split('\n')
    .filter((line) => line.trim() !== '');
}
