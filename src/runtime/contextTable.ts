/**
 * The context nodes of the file n-gram trie (fileNgrams.ts) in flat typed arrays: an open-addressing hash
 * table from a node's key (its parent's id times the vocabulary plus one token) to its id, the times its
 * context was seen and its first continuation. A node as a JS object in a Map cost about 128 bytes; a slot
 * here costs 24, and the table is 37-75% full. Most long contexts have one continuation; the others of
 * a node live in a Map keyed by its id, made only where a second continuation appears.
 */

const EMPTY = -1;
const DELETED = -2;
/** Slots used (nodes and deleted ones) beyond which the table is rehashed. */
const MAX_LOAD = 0.75;
const MIN_CAPACITY = 256;
/** Heap bytes of a Map of others: the Map itself, and each entry (measured with node --expose-gc). */
const MAP_BYTES = 200;
const MAP_ENTRY_BYTES = 40;

export class ContextTable {
  private keys = new Float64Array(0);
  private ids = new Int32Array(0);
  private totals = new Int32Array(0);
  private tokens = new Int32Array(0);
  private counts = new Int32Array(0);
  private others = new Map<number, Map<number, number>>();
  private otherEntries = 0;
  private live = 0;
  private used = 0;
  private nextId = 1;

  /** Nodes held. */
  get size(): number {
    return this.live;
  }

  get byteLength(): number {
    const arrays =
      this.keys.byteLength +
      this.ids.byteLength +
      this.totals.byteLength +
      this.tokens.byteLength +
      this.counts.byteLength;
    return arrays + this.others.size * MAP_BYTES + this.otherEntries * MAP_ENTRY_BYTES;
  }

  clear(): void {
    this.keys = new Float64Array(0);
    this.ids = new Int32Array(0);
    this.totals = new Int32Array(0);
    this.tokens = new Int32Array(0);
    this.counts = new Int32Array(0);
    this.others.clear();
    this.otherEntries = 0;
    this.live = 0;
    this.used = 0;
  }

  /** The slot of the node with `key`, or -1. */
  find(key: number): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    if (mask < 0) return -1;
    for (let i = hash(key) & mask; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) return i;
      if (k === EMPTY) return -1;
    }
  }

  /** The slot of the node with `key`, made (seen 0 times) when missing. */
  findOrAdd(key: number): number {
    const found = this.find(key);
    if (found >= 0) return found;
    if (this.used + 1 > this.keys.length * MAX_LOAD) this.rehash();
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = hash(key) & mask;
    while (keys[i] !== EMPTY && keys[i] !== DELETED) i = (i + 1) & mask;
    if (keys[i] === EMPTY) this.used++;
    keys[i] = key;
    this.ids[i] = this.nextId++;
    this.totals[i] = 0;
    this.tokens[i] = -1;
    this.counts[i] = 0;
    this.live++;
    return i;
  }

  id(slot: number): number {
    return this.ids[slot]!;
  }

  total(slot: number): number {
    return this.totals[slot]!;
  }

  /**
   * Adds `times` to the count of `x` after the node's context (and to its total); a node seen no more is
   * removed. Returns the node's total.
   */
  count(slot: number, x: number, times: number): number {
    const total = (this.totals[slot] = this.totals[slot]! + times);
    const id = this.ids[slot]!;
    if (x === this.tokens[slot]) {
      this.counts[slot] = this.counts[slot]! + times;
    } else if (this.counts[slot]! <= 0 && !this.others.get(id)?.has(x)) {
      this.tokens[slot] = x;
      this.counts[slot] = times;
    } else {
      let others = this.others.get(id);
      if (!others) this.others.set(id, (others = new Map()));
      const before = others.get(x);
      const n = (before ?? 0) + times;
      if (n > 0) {
        if (before === undefined) this.otherEntries++;
        others.set(x, n);
      } else if (before !== undefined) {
        others.delete(x);
        this.otherEntries--;
      }
      if (others.size === 0) this.others.delete(id);
    }
    if (total <= 0) this.remove(slot);
    return total;
  }

  /** Calls `each` with every continuation of the node and its count (the inline one first). */
  forEachNext(slot: number, each: (x: number, n: number) => void): void {
    if (this.counts[slot]! > 0) each(this.tokens[slot]!, this.counts[slot]!);
    const others = this.others.get(this.ids[slot]!);
    if (others) for (const [x, n] of others) each(x, n);
  }

  private remove(slot: number): void {
    const id = this.ids[slot]!;
    const others = this.others.get(id);
    if (others) {
      this.otherEntries -= others.size;
      this.others.delete(id);
    }
    this.keys[slot] = DELETED;
    this.live--;
  }

  /** A table sized for the nodes held (twice as large when they fill more than half of it). */
  private rehash(): void {
    const old = { keys: this.keys, ids: this.ids, totals: this.totals, tokens: this.tokens };
    const counts = this.counts;
    let capacity = Math.max(MIN_CAPACITY, old.keys.length);
    while ((this.live + 1) * 2 > capacity) capacity *= 2;
    this.keys = new Float64Array(capacity).fill(EMPTY);
    this.ids = new Int32Array(capacity);
    this.totals = new Int32Array(capacity);
    this.tokens = new Int32Array(capacity);
    this.counts = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let j = 0; j < old.keys.length; j++) {
      const key = old.keys[j]!;
      if (key < 0) continue;
      let i = hash(key) & mask;
      while (this.keys[i] !== EMPTY) i = (i + 1) & mask;
      this.keys[i] = key;
      this.ids[i] = old.ids[j]!;
      this.totals[i] = old.totals[j]!;
      this.tokens[i] = old.tokens[j]!;
      this.counts[i] = counts[j]!;
    }
    this.used = this.live;
  }
}

/** A 32-bit mix of a non-negative integer key below 2^53. */
function hash(key: number): number {
  const lo = key >>> 0;
  const hi = Math.floor(key / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 13)) >>> 0;
}
