/**
 * The built-in embedder: no model, no network. It hashes words, word pairs and character trigrams into a
 * fixed-size vector (the "hashing trick"), so texts that share most of their content words — a question
 * asked again with different filler, casing, punctuation or small typos — land close together. It does not
 * know synonyms: for real paraphrase matching, configure a provider embedding model instead.
 */

export interface Embedder {
  /** Identifies the vector space: entries from different embedders are never compared. */
  readonly id: string;
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

const stopWords = new Set(
  'a an the and or but if then of to in on at by for with about as into from is are was were be been being do does did have has had i you he she it we they me my your our their this that these those what which who whom whose how please can could would should will shall may might must tell give show explain me us some any just'.split(' '),
);

/** FNV-1a, 32 bit: fast and well spread for short strings. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function stem(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

export function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word !== '' && !stopWords.has(word))
    .map(stem);
}

export class LocalEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;

  constructor(dimensions = 256) {
    this.dimensions = dimensions;
    this.id = `local-hashing-${dimensions}`;
  }

  embedOne(text: string): Float32Array {
    const vector = new Float32Array(this.dimensions);
    const add = (feature: string, weight: number) => {
      const hash = fnv1a(feature);
      // The top bit picks a sign, so colliding features cancel out on average instead of piling up.
      vector[hash % this.dimensions]! += hash & 0x80000000 ? -weight : weight;
    };
    const words = tokenize(text);
    for (let index = 0; index < words.length; index++) {
      const word = words[index]!;
      add(`w:${word}`, 1);
      if (index + 1 < words.length) add(`b:${word} ${words[index + 1]}`, 0.5);
      const padded = ` ${word} `;
      for (let offset = 0; offset + 3 <= padded.length; offset++) add(`c:${padded.slice(offset, offset + 3)}`, 0.25);
    }
    return normalize(vector);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((text) => this.embedOne(text));
  }
}

export function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let index = 0; index < vector.length; index++) sum += vector[index]! * vector[index]!;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let index = 0; index < vector.length; index++) vector[index]! /= norm;
  return vector;
}

/** Cosine similarity of two unit vectors. */
export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let index = 0; index < a.length; index++) sum += a[index]! * b[index]!;
  return sum;
}
