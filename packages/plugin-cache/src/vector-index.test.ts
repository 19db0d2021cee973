import { describe, expect, it } from 'vitest';
import { exactCacheKey, semanticPartition } from './cache-key.js';
import { LocalEmbedder, normalize } from './local-embedder.js';
import { VectorIndex } from './vector-index.js';

function randomUnitVector(dimensions: number, random: () => number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (let index = 0; index < dimensions; index++) vector[index] = random() * 2 - 1;
  return normalize(vector);
}

function seeded(seed: number) {
  let state = seed;
  return () => ((state = (state * 16_807) % 2_147_483_647) - 1) / 2_147_483_646;
}

describe('VectorIndex', () => {
  it('finds near-duplicates among many entries and ignores unrelated vectors', () => {
    const random = seeded(7);
    const index = new VectorIndex<number>({ dimensions: 64 });
    const vectors = Array.from({ length: 2_000 }, () => randomUnitVector(64, random));
    vectors.forEach((vector, position) => index.add('p', vector, position, Number.POSITIVE_INFINITY));
    let found = 0;
    for (let position = 0; position < 200; position++) {
      const noisy = Float32Array.from(vectors[position]!, (value) => value + (random() - 0.5) * 0.05);
      const hit = index.search('p', normalize(noisy), 0.9);
      if (hit?.value === position) found++;
    }
    expect(found).toBeGreaterThan(190);
    expect(index.search('p', randomUnitVector(64, random), 0.9)).toBeUndefined();
  });

  it('probes a large partition with a recall above its floor, and every hit is the planted entry', () => {
    // 10,000 random unit vectors (well past the size scanned whole), and for 500 of them a query at cosine
    // 0.84 — between the local embedder's threshold (0.8) and a typical reworded question. Unrelated random
    // vectors in 256 dimensions lie near cosine 0, so the planted entry is the only right answer.
    const random = seeded(11);
    const dimensions = 256;
    const index = new VectorIndex<number>({ dimensions });
    const vectors = Array.from({ length: 10_000 }, () => randomUnitVector(dimensions, random));
    vectors.forEach((vector, position) => index.add('tenant', vector, position, Number.POSITIVE_INFINITY));
    const similarity = 0.84;
    let found = 0;
    for (let position = 0; position < 10_000; position += 20) {
      const source = vectors[position]!;
      // The query: the source turned by a fixed angle towards a random direction orthogonal to it.
      const direction = randomUnitVector(dimensions, random);
      const along = direction.reduce((sum, value, component) => sum + value * source[component]!, 0);
      const orthogonal = normalize(direction.map((value, component) => value - along * source[component]!));
      const query = source.map((value, component) => similarity * value + Math.sqrt(1 - similarity ** 2) * orthogonal[component]!);
      const hit = index.search('tenant', query, 0.8);
      if (hit === undefined) continue;
      expect(hit.value).toBe(position);
      expect(hit.similarity).toBeCloseTo(similarity, 5);
      found++;
    }
    // 94.8% with the default tables, bits and probes; without multi-probe it is 40%, with 50 probes 76%.
    expect(found / 500).toBeGreaterThanOrEqual(0.9);
    let falseHits = 0;
    for (let query = 0; query < 500; query++) if (index.search('tenant', randomUnitVector(dimensions, random), 0.8)) falseHits++;
    expect(falseHits).toBe(0);
    expect(index.search('another tenant', vectors[0]!, 0.8)).toBeUndefined();
  });

  it('unlinks evicted and expired entries from a large partition and reuses their slots', () => {
    const random = seeded(5);
    const index = new VectorIndex<number>({ dimensions: 32, maxEntries: 5_000 });
    const vectors = Array.from({ length: 8_000 }, () => randomUnitVector(32, random));
    // Every tenth entry expires at time 100; the first 3,000 are evicted as the last 3,000 arrive.
    vectors.forEach((vector, position) => index.add('tenant', vector, position, position % 10 === 0 ? 100 : Number.POSITIVE_INFINITY));
    expect(index.size).toBe(5_000);
    for (let position = 0; position < 8_000; position += 7) {
      const hit = index.search('tenant', vectors[position]!, 0.99, 200);
      if (position < 3_000 || position % 10 === 0) expect(hit).toBeUndefined();
      else expect(hit?.value).toBe(position);
    }
    // The expired entries met on the way are gone, not just skipped.
    expect(index.size).toBeLessThan(5_000);
  });

  it('keeps partitions apart, honours expiry and stays within its bound', () => {
    const index = new VectorIndex<string>({ dimensions: 8, maxEntries: 3 });
    const vector = normalize(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    index.add('tenant-a', vector, 'a', Number.POSITIVE_INFINITY);
    expect(index.search('tenant-b', vector, 0.5)).toBeUndefined();
    expect(index.search('tenant-a', vector, 0.5)?.value).toBe('a');
    index.add('tenant-a', vector, 'expired', 10);
    expect(index.search('tenant-a', vector, 0.5, 20)?.value).toBe('a');
    for (let count = 0; count < 5; count++) index.add('x', vector, `x${count}`, Number.POSITIVE_INFINITY);
    expect(index.size).toBe(3);
  });
});

describe('cache keys', () => {
  const base = { model: 'gpt', messages: [{ role: 'user' as const, content: 'hi' }] };
  it('ignore delivery and caller fields, field order, and include everything else', () => {
    const key = exactCacheKey('s', base, 'openai/gpt');
    expect(exactCacheKey('s', { ...base, stream: true, user: 'u', metadata: { a: 'b' } }, 'openai/gpt')).toBe(key);
    expect(exactCacheKey('s', { messages: base.messages, model: 'gpt' }, 'openai/gpt')).toBe(key);
    expect(exactCacheKey('other', base, 'openai/gpt')).not.toBe(key);
    expect(exactCacheKey('s', { ...base, seed: 1 }, 'openai/gpt')).not.toBe(key);
    expect(exactCacheKey('s', base, 'anthropic/claude')).not.toBe(key);
  });
  it('semantic partitions ignore only the final user turn', () => {
    const partition = semanticPartition('s', base, 'openai/gpt');
    expect(semanticPartition('s', { ...base, messages: [{ role: 'user', content: 'something else' }] }, 'openai/gpt')).toBe(partition);
    expect(semanticPartition('s', { ...base, messages: [{ role: 'system', content: 'x' }, ...base.messages] }, 'openai/gpt')).not.toBe(partition);
  });
});

describe('LocalEmbedder', () => {
  it('puts rewordings of a question close and different questions apart', () => {
    const embedder = new LocalEmbedder();
    const similarity = (a: string, b: string) => {
      const [x, y] = [embedder.embedOne(a), embedder.embedOne(b)];
      return x.reduce((sum, value, position) => sum + value * y[position]!, 0);
    };
    expect(similarity('What is the capital of France?', 'what is the capital of france')).toBeGreaterThan(0.99);
    expect(similarity('What is the capital of France?', 'Which city is the capital of France?')).toBeGreaterThan(0.8);
    expect(similarity('What is the capital of France?', 'What is the capital of Germany?')).toBeLessThan(0.6);
  });
});
