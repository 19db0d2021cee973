export interface VectorIndexOptions {
  dimensions: number;
  /** Most entries kept over all partitions; the least recently used go first. Default 100,000. */
  maxEntries?: number;
  /** Hash tables: more find more near neighbours, at more memory and work per entry. Default 12. */
  tables?: number;
  /**
   * Bits per table's signature (1 to 30): more make smaller buckets, so each probe brings fewer candidates
   * and more probes are needed for the same recall. Default 16: at 100,000 entries a bucket holds about two.
   */
  bitsPerTable?: number;
  /**
   * Buckets probed per lookup beyond each table's own, most promising first (multi-probe LSH): where the
   * query lies close to a hyperplane, the bucket on the other side is probed too. Default 200: about 450
   * candidates at 100,000 entries, and 9 in 10 near-duplicates at cosine 0.8–0.87 found (Bench: `cache`).
   */
  probes?: number;
  /** Seed of the random rotations, so every instance hashes alike. */
  seed?: number;
}

export interface SearchHit<T> {
  value: T;
  similarity: number;
}

/** Mulberry32: a small seeded generator; the rotations must be the same in every process. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Standard deviations of sign disagreement allowed above what an entry exactly at the threshold shows on
 * average: such an entry fails the sign-bit check with a probability below 3 in 10 million, and an entry
 * more similar than the threshold less often still.
 */
const hammingMargin = 5;
/** Partitions up to this many slots are scanned whole instead of probed. */
const exhaustiveScanLimit = 2_048;
const noSlot = -1;

/** Copies a partition's array into its larger replacement. */
function grown<Typed extends { set(source: ArrayLike<number>): void }>(old: ArrayLike<number>, replacement: Typed): Typed {
  replacement.set(old);
  return replacement;
}

/**
 * One tenant's (or context's) entries, in flat typed arrays indexed by slot: vectors sit in one slab, and
 * what a lookup reads for every candidate — its signatures and its place in the bucket chains — sits in one
 * record, so a candidate that is ruled out costs one or two cache lines, not a trip through several arrays.
 */
class Partition<T> {
  capacity = 0;
  /** Slots handed out so far; freed ones are reused first. */
  highWater = 0;
  live = 0;
  readonly freeSlots: number[] = [];
  vectors = new Float32Array(0);
  /** Per slot: each table's signature, then each table's next and previous slot in its bucket chain. */
  records = new Int32Array(0);
  /** Per table, the first slot of each bucket chain; a chain may hold several signatures (see headBits). */
  heads = new Int32Array(0);
  /** Bits of the signature that pick a chain: as many as the capacity warrants, at most bitsPerTable. */
  headBits = 0;
  expiresAt = new Float64Array(0);
  /** The entry's id in the recency order; 0 marks a free slot. */
  ids = new Uint32Array(0);
  values: Array<T | undefined> = [];

  constructor(readonly name: string) {}
}

interface Location<T> {
  partition: Partition<T>;
  slot: number;
}

/**
 * Approximate nearest-neighbour search by cosine similarity (of unit vectors), with random-hyperplane LSH:
 * each table hashes a vector to the signs of a few of its coordinates after a random rotation, so close
 * vectors share buckets. A lookup probes each table's own bucket and then the neighbouring buckets most
 * likely to hold near vectors (the query's least certain signs flipped), and compares only what it finds
 * there. Partitions of up to 2,048 entries are read whole instead. Partitions never share buckets or
 * slots, so vectors of different tenants or contexts never meet.
 *
 * What a lookup costs: the rotation is three fast Walsh–Hadamard transforms (O(d log d), not a dot product
 * per hyperplane). A candidate is first checked on its stored signature bits — all tables together make a
 * sketch of its direction, and a popcount shows whether it can plausibly be at the threshold — and only
 * the few that pass get a dot product. Every candidate that passes is compared, with no early exit: the
 * most similar one wins.
 */
export class VectorIndex<T> {
  readonly #dimensions: number;
  readonly #maxEntries: number;
  readonly #tables: number;
  readonly #bits: number;
  readonly #probes: number;
  /** Int32 words per slot in a partition's records: a signature, a next and a previous slot per table. */
  readonly #recordLength: number;
  /** The rotation's length: the dimensions rounded up to a power of two. */
  readonly #paddedDimensions: number;
  readonly #rotations: number;
  /** Three random ±1 diagonals per rotation, applied before each Hadamard transform. */
  readonly #signFlips: Float64Array;
  readonly #partitions = new Map<string, Partition<T>>();
  /** Every entry by id, least recently used first. */
  readonly #recency = new Map<number, Location<T>>();
  #nextId = 1;

  // Scratch space for one lookup or insert at a time (the index is synchronous): no arrays per lookup.
  readonly #rotated: Float64Array;
  readonly #projections: Float64Array;
  readonly #querySignatures: Int32Array;
  /** Per table, its bit positions from least to most certain (smallest projection first). */
  readonly #bitOrder: Int32Array;
  readonly #squaredProjections: Float64Array;
  readonly #heapScores: Float64Array;
  readonly #heapTables: Int32Array;
  readonly #heapMasks: Int32Array;
  readonly #heapLast: Int32Array;
  #heapSize = 0;
  readonly #expired: number[] = [];

  constructor(options: VectorIndexOptions) {
    this.#dimensions = options.dimensions;
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#tables = options.tables ?? 12;
    this.#bits = options.bitsPerTable ?? 16;
    this.#probes = options.probes ?? 200;
    if (!Number.isInteger(this.#tables) || this.#tables < 1) throw new RangeError('tables must be a positive integer.');
    if (!Number.isInteger(this.#bits) || this.#bits < 1 || this.#bits > 30) throw new RangeError('bitsPerTable must be an integer from 1 to 30.');
    if (!Number.isInteger(this.#probes) || this.#probes < 0) throw new RangeError('probes must be a non-negative integer.');
    let padded = 1;
    while (padded < this.#dimensions) padded *= 2;
    this.#paddedDimensions = padded;
    const projectionCount = this.#tables * this.#bits;
    this.#rotations = Math.ceil(projectionCount / padded);
    const random = seededRandom(options.seed ?? 0x5eed);
    this.#signFlips = new Float64Array(this.#rotations * 3 * padded);
    for (let index = 0; index < this.#signFlips.length; index++) this.#signFlips[index] = random() < 0.5 ? -1 : 1;

    this.#rotated = new Float64Array(padded);
    this.#projections = new Float64Array(this.#rotations * padded);
    this.#querySignatures = new Int32Array(this.#tables);
    this.#recordLength = 3 * this.#tables;
    this.#bitOrder = new Int32Array(projectionCount);
    this.#squaredProjections = new Float64Array(projectionCount);
    // Each probe taken from the heap puts back at most two: the heap never outgrows this.
    const heapCapacity = this.#tables + 2 * this.#probes + 1;
    this.#heapScores = new Float64Array(heapCapacity);
    this.#heapTables = new Int32Array(heapCapacity);
    this.#heapMasks = new Int32Array(heapCapacity);
    this.#heapLast = new Int32Array(heapCapacity);
  }

  get size(): number {
    return this.#recency.size;
  }

  /**
   * Rotates the vector (sign flips and a Walsh–Hadamard transform, three times over: close to a uniformly
   * random rotation) and writes each table's signature — the signs of its coordinates — at `offset`.
   * The coordinates are left in #projections: their sizes say how certain each sign is.
   */
  #hash(vector: Float32Array, signatures: Int32Array, offset: number): void {
    const padded = this.#paddedDimensions;
    const dimensions = this.#dimensions;
    const rotated = this.#rotated;
    const signFlips = this.#signFlips;
    const projections = this.#projections;
    for (let rotation = 0; rotation < this.#rotations; rotation++) {
      for (let index = 0; index < dimensions; index++) rotated[index] = vector[index]!;
      rotated.fill(0, dimensions);
      for (let round = 0; round < 3; round++) {
        const flips = (rotation * 3 + round) * padded;
        for (let index = 0; index < padded; index++) rotated[index]! *= signFlips[flips + index]!;
        for (let half = 1; half < padded; half *= 2) {
          for (let start = 0; start < padded; start += 2 * half) {
            for (let index = start; index < start + half; index++) {
              const left = rotated[index]!;
              const right = rotated[index + half]!;
              rotated[index] = left + right;
              rotated[index + half] = left - right;
            }
          }
        }
      }
      projections.set(rotated, rotation * padded);
    }
    const bits = this.#bits;
    for (let table = 0; table < this.#tables; table++) {
      let signature = 0;
      for (let bit = 0; bit < bits; bit++) if (projections[table * bits + bit]! >= 0) signature |= 1 << bit;
      signatures[offset + table] = signature;
    }
  }

  add(partitionName: string, vector: Float32Array, value: T, expiresAt: number): void {
    if (vector.length !== this.#dimensions) throw new RangeError(`Expected a vector of ${this.#dimensions} dimensions, got ${vector.length}.`);
    let partition = this.#partitions.get(partitionName);
    if (!partition) {
      partition = new Partition<T>(partitionName);
      this.#partitions.set(partitionName, partition);
    }
    let slot = partition.freeSlots.pop();
    if (slot === undefined) {
      if (partition.highWater === partition.capacity) this.#grow(partition);
      slot = partition.highWater++;
    }
    partition.vectors.set(vector, slot * this.#dimensions);
    this.#hash(vector, partition.records, slot * this.#recordLength);
    partition.expiresAt[slot] = expiresAt;
    partition.values[slot] = value;
    const id = this.#nextId++;
    partition.ids[slot] = id;
    partition.live++;
    this.#link(partition, slot);
    this.#recency.set(id, { partition, slot });
    while (this.#recency.size > this.#maxEntries) {
      const oldest = this.#recency.values().next().value!;
      this.#remove(oldest.partition, oldest.slot);
    }
  }

  /** The most similar live entry of the partition at or above `threshold` among those probed, if any. */
  search(partitionName: string, vector: Float32Array, threshold: number, now: number = Date.now()): SearchHit<T> | undefined {
    if (vector.length !== this.#dimensions) return undefined;
    const partition = this.#partitions.get(partitionName);
    if (!partition) return undefined;
    const tables = this.#tables;
    const dimensions = this.#dimensions;
    const recordLength = this.#recordLength;
    const querySignatures = this.#querySignatures;
    this.#hash(vector, querySignatures, 0);
    const hammingLimit = this.#hammingLimit(threshold);
    const { vectors, records, heads, expiresAt } = partition;
    const headMask = (1 << partition.headBits) - 1;
    const chainsMixSignatures = partition.headBits < this.#bits;
    const expired = this.#expired;
    let bestSlot = noSlot;
    let bar = threshold;

    const consider = (slot: number): void => {
      const record = slot * recordLength;
      // Sign bits first: a popcount over every table's signature rules out almost every candidate at a
      // fraction of the cost of its dot product.
      let distance = 0;
      for (let table = 0; table < tables && distance <= hammingLimit; table++) {
        let differing = querySignatures[table]! ^ records[record + table]!;
        differing -= (differing >>> 1) & 0x55555555;
        differing = (differing & 0x33333333) + ((differing >>> 2) & 0x33333333);
        distance += Math.imul((differing + (differing >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
      }
      if (distance > hammingLimit) return;
      if (expiresAt[slot]! <= now) {
        expired.push(slot);
        return;
      }
      const base = slot * dimensions;
      let sum0 = 0;
      let sum1 = 0;
      let sum2 = 0;
      let sum3 = 0;
      let index = 0;
      for (; index + 3 < dimensions; index += 4) {
        sum0 += vector[index]! * vectors[base + index]!;
        sum1 += vector[index + 1]! * vectors[base + index + 1]!;
        sum2 += vector[index + 2]! * vectors[base + index + 2]!;
        sum3 += vector[index + 3]! * vectors[base + index + 3]!;
      }
      for (; index < dimensions; index++) sum0 += vector[index]! * vectors[base + index]!;
      const similarity = sum0 + sum1 + sum2 + sum3;
      if (similarity >= bar) {
        bar = similarity;
        bestSlot = slot;
      }
    };

    if (partition.highWater <= exhaustiveScanLimit) {
      // A small partition is read whole: in one sequential pass that costs no more than probing would,
      // and no near neighbour is left to chance.
      const ids = partition.ids;
      for (let slot = 0; slot < partition.highWater; slot++) if (ids[slot] !== 0) consider(slot);
    } else {
      // No "seen" set: buckets are small, so a slot turns up twice in under 1% of visits, and a repeat
      // costs one more popcount (or one more identical dot product), less than marking every visit would.
      const visitBucket = (table: number, signature: number): void => {
        let slot = heads[(table << partition.headBits) + (signature & headMask)]!;
        while (slot !== noSlot) {
          const current = slot;
          slot = records[current * recordLength + tables + 2 * table]!;
          if (!chainsMixSignatures || records[current * recordLength + table] === signature) consider(current);
        }
      };
      for (let table = 0; table < tables; table++) visitBucket(table, querySignatures[table]!);
      if (this.#probes > 0) this.#probeNeighbours(visitBucket);
    }

    for (const slot of expired) this.#remove(partition, slot);
    expired.length = 0;
    if (bestSlot === noSlot) return undefined;
    // Refresh recency: a hit keeps the entry from eviction.
    const id = partition.ids[bestSlot]!;
    const location = this.#recency.get(id)!;
    this.#recency.delete(id);
    this.#recency.set(id, location);
    return { value: partition.values[bestSlot]!, similarity: Math.min(1, bar) };
  }

  /**
   * Query-directed multi-probe (Lv et al., 2007): a neighbouring bucket differs in a set of flipped bits, and
   * its score is the sum of the squared projections of those bits — how far the query would have to move to
   * land there. A heap over all tables yields the sets in rising score; each set taken out puts back its
   * "shift" (last bit replaced by the next less certain one) and its "expansion" (next bit added), which
   * enumerates every set exactly once.
   */
  #probeNeighbours(visitBucket: (table: number, signature: number) => void): void {
    const tables = this.#tables;
    const bits = this.#bits;
    const order = this.#bitOrder;
    const squared = this.#squaredProjections;
    const projections = this.#projections;
    for (let table = 0; table < tables; table++) {
      const base = table * bits;
      for (let bit = 0; bit < bits; bit++) {
        order[base + bit] = bit;
        squared[base + bit] = projections[base + bit]! * projections[base + bit]!;
      }
      // Insertion sort: a few dozen bits, mostly one pass.
      for (let position = 1; position < bits; position++) {
        const bit = order[base + position]!;
        const score = squared[base + bit]!;
        let before = position - 1;
        while (before >= 0 && squared[base + order[base + before]!]! > score) {
          order[base + before + 1] = order[base + before]!;
          before--;
        }
        order[base + before + 1] = bit;
      }
    }
    this.#heapSize = 0;
    for (let table = 0; table < tables; table++) this.#heapPush(squared[table * bits + order[table * bits]!]!, table, 1, 0);
    for (let probe = 0; probe < this.#probes && this.#heapSize > 0; probe++) {
      const score = this.#heapScores[0]!;
      const table = this.#heapTables[0]!;
      const mask = this.#heapMasks[0]!;
      const last = this.#heapLast[0]!;
      this.#heapPop();
      const base = table * bits;
      let signature = this.#querySignatures[table]!;
      for (let remaining = mask, position = 0; remaining !== 0; remaining >>>= 1, position++) {
        if (remaining & 1) signature ^= 1 << order[base + position]!;
      }
      visitBucket(table, signature);
      if (last + 1 < bits) {
        const nextScore = squared[base + order[base + last + 1]!]!;
        this.#heapPush(score - squared[base + order[base + last]!]! + nextScore, table, (mask & ~(1 << last)) | (1 << (last + 1)), last + 1);
        this.#heapPush(score + nextScore, table, mask | (1 << (last + 1)), last + 1);
      }
    }
  }

  // A binary heap over parallel typed arrays: a probe costs no object, and the heap is reused by every lookup.
  #heapPush(score: number, table: number, mask: number, last: number): void {
    const scores = this.#heapScores;
    const heapTables = this.#heapTables;
    const masks = this.#heapMasks;
    const lasts = this.#heapLast;
    let position = this.#heapSize++;
    while (position > 0) {
      const parent = (position - 1) >> 1;
      if (scores[parent]! <= score) break;
      scores[position] = scores[parent]!;
      heapTables[position] = heapTables[parent]!;
      masks[position] = masks[parent]!;
      lasts[position] = lasts[parent]!;
      position = parent;
    }
    scores[position] = score;
    heapTables[position] = table;
    masks[position] = mask;
    lasts[position] = last;
  }

  #heapPop(): void {
    const scores = this.#heapScores;
    const heapTables = this.#heapTables;
    const masks = this.#heapMasks;
    const lasts = this.#heapLast;
    const size = --this.#heapSize;
    if (size === 0) return;
    const score = scores[size]!;
    const table = heapTables[size]!;
    const mask = masks[size]!;
    const last = lasts[size]!;
    let position = 0;
    for (;;) {
      let child = 2 * position + 1;
      if (child >= size) break;
      if (child + 1 < size && scores[child + 1]! < scores[child]!) child++;
      if (scores[child]! >= score) break;
      scores[position] = scores[child]!;
      heapTables[position] = heapTables[child]!;
      masks[position] = masks[child]!;
      lasts[position] = lasts[child]!;
      position = child;
    }
    scores[position] = score;
    heapTables[position] = table;
    masks[position] = mask;
    lasts[position] = last;
  }

  /** Most differing sign bits (over all tables) that an entry at the threshold plausibly shows. */
  #hammingLimit(threshold: number): number {
    const bits = this.#tables * this.#bits;
    // Two vectors at angle θ fall on different sides of a random hyperplane with probability θ / π.
    const disagreement = Math.acos(Math.max(-1, Math.min(1, threshold))) / Math.PI;
    return Math.floor(bits * disagreement + hammingMargin * Math.sqrt(bits * disagreement * (1 - disagreement)));
  }

  #grow(partition: Partition<T>): void {
    const capacity = Math.max(16, partition.capacity * 2);
    partition.vectors = grown(partition.vectors, new Float32Array(capacity * this.#dimensions));
    partition.records = grown(partition.records, new Int32Array(capacity * this.#recordLength));
    partition.expiresAt = grown(partition.expiresAt, new Float64Array(capacity));
    partition.ids = grown(partition.ids, new Uint32Array(capacity));
    partition.capacity = capacity;
    // About one chain per slot: chains stay short, and a small partition does not pay for 2^bits heads per
    // table. Growing past that re-chains every entry from its stored signatures, once per doubling.
    const headBits = Math.min(this.#bits, Math.ceil(Math.log2(capacity)));
    if (headBits !== partition.headBits) {
      partition.headBits = headBits;
      partition.heads = new Int32Array(this.#tables << headBits).fill(noSlot);
      for (let slot = 0; slot < partition.highWater; slot++) if (partition.ids[slot] !== 0) this.#link(partition, slot);
    }
  }

  /** Puts the slot at the head of its chain in every table. */
  #link(partition: Partition<T>, slot: number): void {
    const tables = this.#tables;
    const recordLength = this.#recordLength;
    const headMask = (1 << partition.headBits) - 1;
    const { heads, records } = partition;
    const record = slot * recordLength;
    for (let table = 0; table < tables; table++) {
      const head = (table << partition.headBits) + (records[record + table]! & headMask);
      const first = heads[head]!;
      records[record + tables + 2 * table] = first;
      records[record + tables + 2 * table + 1] = noSlot;
      if (first !== noSlot) records[first * recordLength + tables + 2 * table + 1] = slot;
      heads[head] = slot;
    }
  }

  #remove(partition: Partition<T>, slot: number): void {
    const id = partition.ids[slot]!;
    if (id === 0) return;
    const tables = this.#tables;
    const recordLength = this.#recordLength;
    const headMask = (1 << partition.headBits) - 1;
    const { heads, records } = partition;
    const record = slot * recordLength;
    for (let table = 0; table < tables; table++) {
      const next = records[record + tables + 2 * table]!;
      const previous = records[record + tables + 2 * table + 1]!;
      if (previous === noSlot) heads[(table << partition.headBits) + (records[record + table]! & headMask)] = next;
      else records[previous * recordLength + tables + 2 * table] = next;
      if (next !== noSlot) records[next * recordLength + tables + 2 * table + 1] = previous;
    }
    this.#recency.delete(id);
    partition.ids[slot] = 0;
    partition.values[slot] = undefined;
    partition.freeSlots.push(slot);
    partition.live--;
    // An emptied partition goes with its arrays: tenants that stop asking leave nothing behind.
    if (partition.live === 0) this.#partitions.delete(partition.name);
  }
}
