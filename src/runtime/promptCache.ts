/**
 * Keys and values of the tokens of recent prompts, so that the next request feeds the body only the tokens it
 * has not seen. The cache is a "tape": token ids at consecutive absolute positions (`base` + index) with their
 * keys and values. A new prompt reuses the tape when it starts at the tape's start (typing on) or when its
 * start lies inside the tape (the long-prompt cut moved forward): in that case the reused keys saw more left
 * context than a fresh prefill would, which is the file's real context, so nothing is lost.
 */
import type { FastWeightsRuntime, KvCache } from './runtime';

/** Shortest run of equal tokens that aligns a prompt inside the tape (shorter runs match by chance). */
const MIN_ALIGNED_RUN = 16;

/** Prompt tokens at a cut that may be tokenized differently from the same text on the tape. */
const MAX_SKIPPED_TOKENS = 3;

/**
 * The tape's keys and values: [rows, cap, Dh] buffers (rows = layers x heads) holding tape entry i of a row at
 * slot `start + i`. Entries are written in place and dropped from the front by moving `start`, so a request
 * copies only its fresh entries instead of the whole tape (measured: ~9 ms of JS copies per request before).
 */
interface TapeStore {
  keys: Float32Array;
  values: Float32Array;
  cap: number;
  start: number;
}

export class PromptCache {
  /** Token ids of the tape. */
  ids: number[] = [];
  /** Absolute position of ids[0]. */
  base = 0;
  hits = 0;
  misses = 0;
  private store: TapeStore | undefined;

  clear(): void {
    this.ids = [];
    this.store = undefined;
    this.base = 0;
  }

  /** Whether the tape holds keys and values. */
  get hasKv(): boolean {
    return this.store !== undefined;
  }

  /** Tape entries [from, to) as a compact cache (a copy, for the body's past input). */
  slice(rt: FastWeightsRuntime, from: number, to: number): KvCache {
    const st = this.store;
    const len = Math.max(0, to - from);
    const { rows, dh } = kvGeometry(rt);
    const keys = new Float32Array(rows * len * dh);
    const values = new Float32Array(rows * len * dh);
    if (st) {
      for (let r = 0; r < rows; r++) {
        const src = (r * st.cap + st.start + from) * dh;
        keys.set(st.keys.subarray(src, src + len * dh), r * len * dh);
        values.set(st.values.subarray(src, src + len * dh), r * len * dh);
      }
    }
    return { keys, values, length: len };
  }

  /**
   * Writes entries [from, present.length) of `present` to tape index `at` on, after keeping tape entries
   * [0, at). Grows or compacts the store when they do not fit behind `start`.
   */
  write(rt: FastWeightsRuntime, at: number, present: KvCache, from: number, maxTokens: number): void {
    const { rows, dh } = kvGeometry(rt);
    const fresh = present.length - from;
    const length = at + fresh;
    let st = this.store;
    if (!st || st.start + length > st.cap) {
      // Room for maxTokens plus slack, so that the front moves many times between two compactions.
      const cap = Math.max(length, maxTokens + Math.max(64, maxTokens >> 1));
      const next: TapeStore = {
        keys: new Float32Array(rows * cap * dh),
        values: new Float32Array(rows * cap * dh),
        cap,
        start: 0,
      };
      if (st && at > 0) {
        for (let r = 0; r < rows; r++) {
          const src = (r * st.cap + st.start) * dh;
          next.keys.set(st.keys.subarray(src, src + at * dh), r * cap * dh);
          next.values.set(st.values.subarray(src, src + at * dh), r * cap * dh);
        }
      }
      st = next;
      this.store = st;
    }
    for (let r = 0; r < rows; r++) {
      const src = (r * present.length + from) * dh;
      const dst = (r * st.cap + st.start + at) * dh;
      st.keys.set(present.keys.subarray(src, src + fresh * dh), dst);
      st.values.set(present.values.subarray(src, src + fresh * dh), dst);
    }
  }

  /** Drops the first `n` tape entries (ids and keys/values). */
  dropFront(n: number): void {
    if (n <= 0) return;
    this.ids = this.ids.slice(n);
    this.base += n;
    if (this.store) this.store.start += n;
  }
}

function kvGeometry(rt: FastWeightsRuntime): { rows: number; dh: number } {
  const c = rt.config;
  return { rows: c.n_layer * c.n_head, dh: c.head_dim };
}

/** Where a prompt continues the tape: tape index `resumeAt` holds prompt token `shared`. */
export interface TapeMatch {
  /** Prompt tokens already on the tape (0: none). */
  shared: number;
  /** Tape index right after the shared run. */
  resumeAt: number;
}

/** Length of the common run of `a` from `i` and `b` from `j`, at most `limit`. */
function runLength(a: readonly number[], i: number, b: readonly number[], j: number, limit: number): number {
  let n = 0;
  while (n < limit && i + n < a.length && j + n < b.length && a[i + n] === b[j + n]) n++;
  return n;
}

/**
 * The longest reuse of the tape for `ids`: the prompt from token `shared` on continues the tape at index
 * `resumeAt`. Either the prompt starts like the tape (typing on), or its start lies inside the tape (the
 * long-prompt cut moved forward). In the second case the first few prompt tokens may be tokenized differently
 * from the same text on the tape (a cut splits whitespace that the tape merged), so up to
 * MAX_SKIPPED_TOKENS of them may be covered by the tape instead. At least one prompt token is always fed.
 */
export function matchTape(tape: readonly number[], ids: readonly number[]): TapeMatch {
  const limit = ids.length - 1;
  if (tape.length === 0 || limit <= 0) return { shared: 0, resumeAt: 0 };
  const atStart = runLength(tape, 0, ids, 0, limit);
  let best: TapeMatch = { shared: atStart, resumeAt: atStart };
  if (atStart >= Math.min(limit, MIN_ALIGNED_RUN)) return best;
  for (let skip = 0; skip <= MAX_SKIPPED_TOKENS && skip < limit; skip++) {
    const first = ids[skip];
    for (let k = 1; k < tape.length; k++) {
      if (tape[k] !== first) continue;
      const n = runLength(tape, k, ids, skip, limit - skip);
      if (n >= MIN_ALIGNED_RUN && skip + n > best.shared) best = { shared: skip + n, resumeAt: k + n };
    }
  }
  return best;
}

/**
 * Puts a prompt's freshly computed keys and values (entries [from, present.length) of the body's `present`)
 * on the tape after the reused part, and keeps the tape at most `maxTokens` long by dropping its oldest
 * entries.
 */
export function extendTape(
  rt: FastWeightsRuntime,
  cache: PromptCache,
  match: TapeMatch,
  ids: readonly number[],
  present: KvCache,
  from: number,
  maxTokens: number,
): void {
  const reuse = match.shared > 0 && cache.hasKv;
  const at = reuse ? match.resumeAt : 0;
  cache.write(rt, at, present, from, maxTokens);
  cache.ids = [...(reuse ? cache.ids.slice(0, at) : []), ...ids.slice(match.shared)];
  if (!reuse) cache.base = 0;
  if (cache.ids.length > maxTokens) cache.dropFront(cache.ids.length - maxTokens);
  if (match.shared > 0) cache.hits++;
  else cache.misses++;
}

/**
 * One prompt cache per document, for the few documents used last: going back to a file reuses its prompt's
 * keys and values, and another document's keys never align with a prompt by chance.
 */
export class PromptCaches {
  private readonly byUri = new Map<string, PromptCache>();

  constructor(readonly capacity: number) {}

  /** The cache of `uri` without marking it used (undefined when there is none). */
  peek(uri: string): PromptCache | undefined {
    return this.byUri.get(uri);
  }

  /** The cache of `uri`, now the most recently used; made (dropping the least recently used) if missing. */
  for(uri: string): PromptCache {
    const cache = this.byUri.get(uri) ?? new PromptCache();
    this.byUri.delete(uri);
    this.byUri.set(uri, cache);
    for (const old of this.byUri.keys()) {
      if (this.byUri.size <= this.capacity) break;
      this.byUri.delete(old);
    }
    return cache;
  }

  delete(uri: string): void {
    this.byUri.delete(uri);
  }

  clear(): void {
    this.byUri.clear();
  }
}
