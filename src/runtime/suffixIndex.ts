/**
 * A suffix array over token ids: the compact n-gram index the workspace model needs (issue 24). It answers
 * "what followed the longest suffix of this context that occurs in the indexed text, and how often" with no
 * bound on the n-gram order (an infini-gram), in 6 bytes per indexed token (2 for the id, 4 for its suffix
 * array entry), where the per-file trie (fileNgrams.ts) costs hundreds.
 *
 * Documents are indexed one after another with a separator between them, so that no match runs from one
 * into the next. The array is built by prefix doubling with a counting sort per round (O(n log n) with
 * typed arrays only); a workspace changes by rebuilding its index, which at about a second per million
 * tokens is cheaper than keeping an incremental structure.
 */

/** Token ids must be below this; it is the separator between documents. */
export const MAX_TOKEN_ID = 0xfffe;
const SEPARATOR = 0xffff;
const NOTHING = { from: 0, to: 0 };

export interface NextTokens {
  /** Tokens of the context's longest suffix that occurs followed by a token (0: none). */
  length: number;
  /** Occurrences of that suffix with a next token. */
  total: number;
  /** Next token id -> count (from at most `maxCount` of the occurrences, spread over them, when there are more). */
  counts: Map<number, number>;
}

export class SuffixIndex {
  private constructor(
    /** The indexed ids, documents separated by SEPARATOR. */
    readonly tokens: Uint16Array,
    /** Start positions of the suffixes of `tokens`, in lexicographic order. */
    readonly suffixes: Uint32Array,
    /** Where each document starts in `tokens` (its separator follows its last token). */
    private readonly starts: Uint32Array,
  ) {}

  /** Indexes `documents` (arrays of token ids below MAX_TOKEN_ID), in this order. */
  static build(documents: readonly ArrayLike<number>[]): SuffixIndex {
    let n = 0;
    for (const d of documents) n += d.length + 1;
    const tokens = new Uint16Array(n);
    const starts = new Uint32Array(documents.length);
    let at = 0;
    for (const [k, d] of documents.entries()) {
      starts[k] = at;
      for (let i = 0; i < d.length; i++) {
        const id = d[i]!;
        if (!(id >= 0 && id < MAX_TOKEN_ID)) throw new Error(`token id ${id} out of range`);
        tokens[at++] = id;
      }
      tokens[at++] = SEPARATOR;
    }
    return new SuffixIndex(tokens, suffixArray(tokens), starts);
  }

  /** The positions [from, to) of document `k` in `tokens` (for `next`'s `exclude`). */
  documentSpan(k: number): { from: number; to: number } {
    const from = this.starts[k]!;
    const to = k + 1 < this.starts.length ? this.starts[k + 1]! - 1 : this.tokens.length - 1;
    return { from, to };
  }

  get tokenCount(): number {
    return this.tokens.length;
  }

  get byteLength(): number {
    return this.tokens.byteLength + this.suffixes.byteLength;
  }

  /** The suffix array range [lo, hi) of the suffixes that start with `pattern[from..to)`. */
  range(pattern: ArrayLike<number>, from = 0, to = pattern.length): [number, number] {
    const { tokens, suffixes } = this;
    const len = to - from;
    // Compares the suffix at `start` with the pattern: <0 if it sorts before, 0 if it starts with it.
    const compare = (start: number): number => {
      for (let i = 0; i < len; i++) {
        const p = start + i;
        if (p >= tokens.length) return -1;
        const d = tokens[p]! - pattern[from + i]!;
        if (d !== 0) return d;
      }
      return 0;
    };
    let lo = 0;
    let hi = suffixes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(suffixes[mid]!) < 0) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    let top = suffixes.length;
    while (end < top) {
      const mid = (end + top) >>> 1;
      if (compare(suffixes[mid]!) <= 0) end = mid + 1;
      else top = mid;
    }
    return [lo, end];
  }

  /**
   * What followed the longest suffix of `context` (1 to `maxLength` tokens) that occurs in the index with a
   * token after it; counts from at most `maxCount` occurrences, spread evenly over them when there are more.
   * Length 0 and no counts when not even the last token occurs with a successor. Occurrences starting in
   * `exclude` (a document's span: the file being scored, left out of its own workspace) do not count.
   */
  next(
    context: ArrayLike<number>,
    maxLength = 64,
    maxCount = 1024,
    exclude: { from: number; to: number } = NOTHING,
  ): NextTokens {
    const end = context.length;
    // Occurring is monotone in the suffix length: binary search for the longest that has a next token,
    // counting only once, for that one.
    let lo = 0;
    let hi = Math.min(maxLength, end);
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.hasNext(context, end - mid, end, exclude)) lo = mid;
      else hi = mid - 1;
    }
    if (lo === 0) return { length: 0, total: 0, counts: new Map() };
    return this.countNext(context, end - lo, end, maxCount, exclude);
  }

  /** Whether `context[from..to)` occurs with a token after it (not the end of its document). */
  private hasNext(
    context: ArrayLike<number>,
    from: number,
    to: number,
    exclude: { from: number; to: number },
  ): boolean {
    const [lo, hi] = this.range(context, from, to);
    for (let j = lo; j < hi; j++) {
      const at = this.suffixes[j]!;
      if (at >= exclude.from && at < exclude.to) continue;
      if (this.tokens[at + to - from] !== SEPARATOR) return true;
    }
    return false;
  }

  private countNext(
    context: ArrayLike<number>,
    from: number,
    to: number,
    maxCount: number,
    exclude: { from: number; to: number },
  ): NextTokens {
    const [lo, hi] = this.range(context, from, to);
    const len = to - from;
    const counts = new Map<number, number>();
    let total = 0;
    const n = hi - lo;
    const step = n > maxCount ? n / maxCount : 1;
    for (let k = 0; k < Math.min(n, maxCount); k++) {
      const at = this.suffixes[lo + Math.floor(k * step)]!;
      if (at >= exclude.from && at < exclude.to) continue;
      const next = this.tokens[at + len];
      if (next === undefined || next === SEPARATOR) continue;
      counts.set(next, (counts.get(next) ?? 0) + 1);
      total++;
    }
    // Sampled: scale the total to the whole range (the counts stay a sample of it).
    if (step > 1 && total > 0) total = Math.round((total * n) / maxCount);
    return { length: len, total, counts };
  }
}

/**
 * The suffix array of `s` by prefix doubling: after the round with step k, suffixes are sorted by their
 * first 2k tokens; each round orders by (rank[i], rank[i + k]) with one counting sort, the second key's
 * order coming from the previous round's array.
 */
export function suffixArray(s: Uint16Array): Uint32Array {
  const n = s.length;
  const sa = new Uint32Array(n);
  if (n === 0) return sa;
  let rank = new Int32Array(n);
  let next = new Int32Array(n);
  const order = new Uint32Array(n);
  // Round 0: sort by the first token (counting sort over the id range).
  const counts = new Int32Array(Math.max(n, 0x10000) + 1);
  for (let i = 0; i < n; i++) counts[s[i]! + 1]!++;
  for (let v = 1; v <= 0x10000; v++) counts[v]! += counts[v - 1]!;
  for (let i = 0; i < n; i++) sa[counts[s[i]!]!++] = i;
  let classes = 0;
  for (let j = 0; j < n; j++) {
    if (j > 0 && s[sa[j]!] !== s[sa[j - 1]!]) classes++;
    rank[sa[j]!] = classes;
  }
  classes++;
  for (let k = 1; classes < n; k *= 2) {
    // Second key: suffixes with nothing k tokens on come first, then the others in the order of i + k.
    let m = 0;
    for (let i = n - k; i < n; i++) order[m++] = i;
    for (let j = 0; j < n; j++) if (sa[j]! >= k) order[m++] = sa[j]! - k;
    // Stable counting sort of that order by the first key.
    counts.fill(0, 0, classes + 1);
    for (let i = 0; i < n; i++) counts[rank[i]! + 1]!++;
    for (let c = 1; c <= classes; c++) counts[c]! += counts[c - 1]!;
    for (let j = 0; j < n; j++) {
      const i = order[j]!;
      sa[counts[rank[i]!]!++] = i;
    }
    // New classes: equal when both keys are.
    next[sa[0]!] = 0;
    classes = 1;
    for (let j = 1; j < n; j++) {
      const a = sa[j - 1]!;
      const b = sa[j]!;
      const same = rank[a] === rank[b] && (a + k < n ? rank[a + k]! : -1) === (b + k < n ? rank[b + k]! : -1);
      if (!same) classes++;
      next[b] = classes - 1;
    }
    [rank, next] = [next, rank];
  }
  return sa;
}
