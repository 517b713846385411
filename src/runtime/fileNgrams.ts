/**
 * The file's own n-gram cache (Tu, Su & Devanbu 2014), kept beside the fast-weight state: token n-gram
 * counts of the document, mixed into the model's next-token distribution while decoding,
 *
 *     p(x) = (1 - w) p_model(x) + w p_cache(x),
 *
 * where p_cache backs off from the longest context seen in the file to the file's unigram distribution
 * (p_k = (count(c_k, x) + beta p_{k-1}(x)) / (count(c_k) + beta)), the rule of training/cache_peer.py. The
 * weight w is a gate: a logistic function of how much the cache knows here (the longest context matched, how
 * often it was seen, how sure its prediction is), so a long exact repeat is copied and a fresh context
 * leaves the model alone. The FWL state learns the file's style in a smooth way; the cache copies its exact
 * token sequences (a repeated call, an import path), and the two gains add up (see the model card).
 *
 * Counts are kept incrementally: each block of the block tokenizer (about a line) adds the n-grams that end
 * inside it, keyed by its text plus the tokens before it that those n-grams reach, so an edit changes the
 * counts of a few blocks and undo finds the same keys again.
 */
import { blockAt, type TokenizedText } from './blockTokenizer';
import { ContextTable } from './contextTable';

export interface NgramCacheParams {
  /** Back-off strength: how much a seen context still trusts the shorter one. */
  beta: number;
  /**
   * Gate coefficients: w = sigmoid(g0 + g1 k / MAX_CONTEXT + g2 ln(1 + n) + g3 top + g4 [k = MAX_CONTEXT] top)
   * for the longest context matched (k tokens, seen n times, its most frequent next token `top` of them).
   */
  gate: readonly number[];
  /** A fixed weight instead of the gate (0 leaves the model alone). */
  weight?: number;
}

/**
 * Fitted on the valid split against the shipped model's FWL scores (training/evaluate_suite.py, stage mix);
 * refit whenever models/fw-code-small changes.
 */
export const DEFAULT_NGRAM_PARAMS: NgramCacheParams = {
  beta: 1.0,
  gate: [-4.263, 2.493, 0.146, 2.011, 0.648],
};

/** Longest context in tokens (order 8: seven tokens predict the eighth). */
export const MAX_CONTEXT = 7;

/** What the cache matched before a token: the features of the gate. */
export interface CacheMatch {
  /** Tokens of the longest context seen (0: only the unigram counts). */
  order: number;
  /** Times that context was seen (for order 0, the tokens counted). */
  count: number;
  /** Share of its most frequent continuation (0 for order 0). */
  top: number;
}

/** The mixture weight of the cache for a match. */
export function cacheWeight(params: NgramCacheParams, m: CacheMatch): number {
  if (params.weight !== undefined) return params.weight;
  const g = params.gate;
  const z =
    g[0]! +
    (g[1]! * m.order) / MAX_CONTEXT +
    g[2]! * Math.log1p(m.count) +
    g[3]! * m.top +
    (m.order === MAX_CONTEXT ? g[4]! * m.top : 0);
  return 1 / (1 + Math.exp(-z));
}

/** Whether the params can ever give the cache weight. */
export function cacheEnabled(params: NgramCacheParams): boolean {
  return params.weight === undefined || params.weight > 0;
}

interface BlockEntry {
  /** The block's ids preceded by its left context (up to MAX_CONTEXT ids). */
  ids: readonly number[];
  context: number;
  copies: number;
}

export class FileNgrams {
  /**
   * Contexts as a trie read backwards from the predicted token: the node of (c_{-k}, ..., c_{-1}) is keyed by
   * its parent's id (the context without c_{-k}; 0 for the empty one) times the vocabulary plus c_{-k}.
   */
  private readonly nodes = new ContextTable();
  /** Allocated with the first count, freed by clear(): empty caches cost nothing. */
  private unigram: Int32Array | undefined;
  private unigramTotal = 0;
  private blocks = new Map<string, BlockEntry>();
  /** Characters of the block keys and ids of the block entries (part of the heap they hold). */
  private blockChars = 0;
  private blockIds = 0;
  /** What the counts are of: the blocks of `tokenized` in [from, to) not in `skip`. */
  private counted: { tokenized: TokenizedText; from: number; to: number; skip: Set<number> } | undefined;

  constructor(private readonly vocab: number) {}

  /** Tokens counted. */
  get tokenCount(): number {
    return this.unigramTotal;
  }

  /** Contexts held (the nodes of the trie). */
  get contextCount(): number {
    return this.nodes.size;
  }

  /**
   * Heap size estimate: the unigram table, the trie's context nodes and the block keys and ids.
   */
  get byteLength(): number {
    const blocks = this.blocks.size * 120 + this.blockChars * 2 + this.blockIds * 8;
    return (this.unigram?.byteLength ?? 0) + this.nodes.byteLength + blocks;
  }

  clear(): void {
    this.unigram = undefined;
    this.unigramTotal = 0;
    this.nodes.clear();
    this.blocks.clear();
    this.blockChars = 0;
    this.blockIds = 0;
    this.counted = undefined;
  }

  /**
   * Makes the counts those of `tokenized` (the blocks from `fromBlock` to `toBlock`, default all, except
   * those in `skip`), touching only the blocks that changed since the last update.
   */
  update(
    tokenized: TokenizedText,
    fromBlock = 0,
    toBlock = tokenized.blocks.length,
    skip: readonly number[] = [],
  ): void {
    const from = Math.max(0, fromBlock);
    const to = Math.min(toBlock, tokenized.blocks.length);
    const skipped = new Set(skip);
    if (this.counted) this.updateFrom(this.counted, tokenized, from, to, skipped);
    else this.recount(tokenized, from, to, skipped);
    this.counted = { tokenized, from, to, skip: skipped };
  }

  /**
   * The counts of `tokenized` from those of `last`, through the blocks that changed: blocks at the start and
   * at the end with the same text and the same ids before them keep their keys (an edit changes a few
   * blocks in the middle), so only the others, and those whose window or skip status changed, are keyed.
   */
  private updateFrom(
    last: NonNullable<FileNgrams['counted']>,
    tokenized: TokenizedText,
    from: number,
    to: number,
    skip: ReadonlySet<number>,
  ): void {
    const old = last.tokenized;
    const nOld = old.blocks.length;
    const nNew = tokenized.blocks.length;
    let head = 0;
    while (head < nOld && head < nNew && sameBlock(old, head, tokenized, head)) head++;
    let tail = 0;
    while (
      tail < nOld - head &&
      tail < nNew - head &&
      sameBlock(old, nOld - 1 - tail, tokenized, nNew - 1 - tail)
    )
      tail++;
    const wasCounted = (i: number): boolean => i >= last.from && i < last.to && !last.skip.has(i);
    const isCounted = (j: number): boolean => j >= from && j < to && !skip.has(j);
    // Blocks of the last count that no longer count, then blocks that count now and did not.
    for (let i = 0; i < nOld; i++) {
      if (!wasCounted(i)) continue;
      const j = i < head ? i : i >= nOld - tail ? i - nOld + nNew : -1;
      if (j < 0 || !isCounted(j)) this.countBlock(old, i, -1);
    }
    for (let j = 0; j < nNew; j++) {
      if (!isCounted(j)) continue;
      const i = j < head ? j : j >= nNew - tail ? j - nNew + nOld : -1;
      if (i < 0 || !wasCounted(i)) this.countBlock(tokenized, j, 1);
    }
  }

  /** The counts of the blocks [from, to) not in `skip`, keyed afresh (the first update). */
  private recount(tokenized: TokenizedText, from: number, to: number, skip: ReadonlySet<number>): void {
    const wanted = new Map<string, BlockEntry>();
    for (let b = from; b < to; b++) {
      if (skip.has(b)) continue;
      const { key, entry } = blockEntry(tokenized, b);
      const seen = wanted.get(key);
      if (seen) seen.copies++;
      else wanted.set(key, entry);
    }
    for (const [key, old] of this.blocks) {
      const now = wanted.get(key)?.copies ?? 0;
      if (now < old.copies) this.add(old, now - old.copies);
    }
    for (const [key, entry] of wanted) {
      const before = this.blocks.get(key)?.copies ?? 0;
      if (entry.copies > before) this.add(entry, entry.copies - before);
    }
    this.blocks = wanted;
    this.blockChars = 0;
    this.blockIds = 0;
    for (const [key, entry] of wanted) {
      this.blockChars += key.length;
      this.blockIds += entry.ids.length;
    }
  }

  /**
   * The counts update(tokenized, fromBlock, toBlock, skip) makes, when the last update had the same blocks
   * with `before` as its skip list: only the blocks whose skipping changed are touched (a completion on
   * another line costs that line, not a pass over the whole file).
   */
  reskip(
    tokenized: TokenizedText,
    fromBlock: number,
    toBlock: number,
    before: readonly number[],
    skip: readonly number[],
  ): void {
    const inRange = (b: number): boolean =>
      b >= Math.max(0, fromBlock) && b < Math.min(toBlock, tokenized.blocks.length);
    for (const b of new Set(skip)) if (inRange(b) && !before.includes(b)) this.countBlock(tokenized, b, -1);
    for (const b of new Set(before)) if (inRange(b) && !skip.includes(b)) this.countBlock(tokenized, b, 1);
    const c = this.counted;
    const same = c && c.tokenized === tokenized && c.from === Math.max(0, fromBlock);
    if (same && c.to === Math.min(toBlock, tokenized.blocks.length)) c.skip = new Set(skip);
    else this.counted = undefined; // (not what the last update counted: the next one keys every block)
  }

  /** One copy of block `b` more (1) or less (-1), its entry kept or dropped with it. */
  private countBlock(tokenized: TokenizedText, b: number, times: 1 | -1): void {
    const { key, entry } = blockEntry(tokenized, b);
    const old = this.blocks.get(key);
    if (times > 0 && !old) {
      this.blocks.set(key, entry);
      this.blockChars += key.length;
      this.blockIds += entry.ids.length;
      this.add(entry, 1);
      return;
    }
    if (!old) return; // not counted: nothing to take away
    old.copies += times;
    this.add(old, times);
    if (old.copies <= 0) {
      this.blocks.delete(key);
      this.blockChars -= key.length;
      this.blockIds -= old.ids.length;
    }
  }

  /**
   * Adds (times > 0) or removes (times < 0) the n-grams ending in a block's own tokens. A longer context is
   * never seen more often than the shorter one it extends, so a node emptied here has no counted children.
   */
  private add(entry: BlockEntry, times: number): void {
    const { ids, context } = entry;
    const unigram = (this.unigram ??= new Int32Array(this.vocab));
    for (let j = context; j < ids.length; j++) {
      const x = ids[j]!;
      unigram[x] = unigram[x]! + times;
      this.unigramTotal += times;
      let parent = 0;
      for (let k = 1; k <= MAX_CONTEXT && j - k >= 0; k++) {
        const slot = this.nodes.findOrAdd(parent * this.vocab + ids[j - k]!);
        parent = this.nodes.id(slot);
        this.nodes.count(slot, x, times);
      }
    }
  }

  /**
   * p_cache(. | context) into `out` (length vocab), from the last tokens of `context` (most recent last), and
   * what the cache matched there. Returns undefined, leaving `out` untouched, when the cache is empty.
   */
  distribution(context: readonly number[], beta: number, out: Float32Array): CacheMatch | undefined {
    const unigram = this.unigram;
    if (!unigram || this.unigramTotal <= 0) return undefined;
    const inv = 1 / this.unigramTotal;
    for (let i = 0; i < this.vocab; i++) out[i] = unigram[i]! * inv;
    const match: CacheMatch = { order: 0, count: this.unigramTotal, top: 0 };
    let parent = 0;
    for (let k = 1; k <= MAX_CONTEXT && k <= context.length; k++) {
      const slot = this.nodes.find(parent * this.vocab + context[context.length - k]!);
      if (slot < 0) break;
      parent = this.nodes.id(slot);
      const total = this.nodes.total(slot);
      const scale = beta / (total + beta);
      for (let i = 0; i < this.vocab; i++) out[i] = out[i]! * scale;
      const share = 1 / (total + beta);
      let most = 0;
      this.nodes.forEachNext(slot, (x, n) => {
        out[x] = out[x]! + n * share;
        if (n > most) most = n;
      });
      match.order = k;
      match.count = total;
      match.top = most / total;
    }
    return match;
  }
}

/** Whether block i of a and block j of b have the same key (text, and the MAX_CONTEXT ids before them). */
function sameBlock(a: TokenizedText, i: number, b: TokenizedText, j: number): boolean {
  const x = a.blocks[i]!;
  const y = b.blocks[j]!;
  if (x.text !== y.text) return false;
  const n = Math.min(MAX_CONTEXT, x.firstToken);
  if (Math.min(MAX_CONTEXT, y.firstToken) !== n) return false;
  for (let k = 1; k <= n; k++) if (a.ids[x.firstToken - k] !== b.ids[y.firstToken - k]) return false;
  return true;
}

/** A block's content key (its left context and text) and a one-copy entry of its ids. */
function blockEntry(tokenized: TokenizedText, b: number): { key: string; entry: BlockEntry } {
  const block = tokenized.blocks[b]!;
  const from = Math.max(0, block.firstToken - MAX_CONTEXT);
  const left = tokenized.ids.slice(from, block.firstToken);
  return {
    key: `${left.join(',')}|${block.text}`,
    entry: { ids: [...left, ...block.ids], context: block.firstToken - from, copies: 1 },
  };
}

/**
 * The mixture (1 - w) softmax(logits) + w cache into `out` (probabilities over the first `vocab` entries of
 * `logits`).
 */
export function mixWithCache(
  logits: Float32Array,
  vocab: number,
  cache: Float32Array,
  weight: number,
  out: Float32Array,
): void {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < vocab; i++) {
    const e = Math.exp(logits[i]! - max);
    out[i] = e;
    sum += e;
  }
  const keep = (1 - weight) / sum;
  for (let i = 0; i < vocab; i++) out[i] = out[i]! * keep + weight * cache[i]!;
}

/**
 * The blocks not to count while completing at `offset`: when the cursor's line already has text before the
 * cursor, indentation alone included, that unfinished line (its block and the next, which holds its line
 * end) would teach the cache that the line ends right at the cursor, and suggestions would come out empty
 * (after `def f():` and the editor's indentation, the cache had the header followed by an empty line).
 */
export function unfinishedLineBlocks(tokenized: TokenizedText, text: string, offset: number): number[] {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  if (offset <= 0 || offset === lineStart) return [];
  const at = blockAt(tokenized, offset);
  return [at, at + 1];
}

/**
 * Blocks [from, to) whose tokens lie within `maxTokens` centred on the block holding `offset`; or `previous`,
 * the window counted last, while that block lies in its middle half (as the fast-weight state's window does):
 * a window moved with every cursor move re-keys every block that enters or leaves it, a few thousand tokens
 * for a jump of a hundred lines.
 */
export function blocksAround(
  tokenized: TokenizedText,
  offset: number,
  maxTokens: number,
  previous?: { from: number; to: number },
): { from: number; to: number } {
  const { blocks, ids } = tokenized;
  if (ids.length <= maxTokens) return { from: 0, to: blocks.length };
  const at = blockAt(tokenized, offset);
  const centre = blocks[at]?.firstToken ?? 0;
  if (previous && previous.from < previous.to && previous.to <= blocks.length) {
    const first = blocks[previous.from]!.firstToken;
    const end = blocks[previous.to - 1]!.firstToken + blocks[previous.to - 1]!.ids.length;
    const margin = maxTokens / 4;
    const inMiddle =
      (first === 0 || centre >= first + margin) && (end >= ids.length || centre <= end - margin);
    if (inMiddle && end - first <= maxTokens + margin) return previous;
  }
  const lo = Math.max(0, Math.min(centre - maxTokens / 2, ids.length - maxTokens));
  let from = at;
  while (from > 0 && blocks[from - 1]!.firstToken >= lo) from--;
  let to = at + 1;
  while (to < blocks.length && blocks[to]!.firstToken + blocks[to]!.ids.length <= lo + maxTokens) to++;
  return { from, to };
}

/**
 * p_cache(ids[j] | ids[:j]) and the gate's weight for every token of a file, the cache holding only the
 * tokens before j (0 at j = 0): the causal cache of training/cache_peer.py, for scoring a file the way the
 * Python evaluation does.
 */
export function causalCacheProbs(
  ids: readonly number[],
  params: NgramCacheParams,
): { p: Float64Array; weight: Float64Array } {
  const p = new Float64Array(ids.length);
  const weight = new Float64Array(ids.length);
  const unigram = new Map<number, number>();
  const contexts: Map<string, { total: number; next: Map<number, number> }>[] = [];
  for (let k = 1; k <= MAX_CONTEXT; k++) contexts.push(new Map());
  for (let j = 0; j < ids.length; j++) {
    const x = ids[j]!;
    if (j > 0) {
      let q = (unigram.get(x) ?? 0) / j;
      const match: CacheMatch = { order: 0, count: j, top: 0 };
      for (let k = 1; k <= MAX_CONTEXT && k <= j; k++) {
        const c = contexts[k - 1]!.get(ids.slice(j - k, j).join(','));
        if (!c) break;
        q = ((c.next.get(x) ?? 0) + params.beta * q) / (c.total + params.beta);
        match.order = k;
        match.count = c.total;
        match.top = Math.max(...c.next.values()) / c.total;
      }
      p[j] = q;
      weight[j] = cacheWeight(params, match);
    }
    unigram.set(x, (unigram.get(x) ?? 0) + 1);
    for (let k = 1; k <= MAX_CONTEXT && k <= j; k++) {
      const key = ids.slice(j - k, j).join(',');
      let c = contexts[k - 1]!.get(key);
      if (!c) contexts[k - 1]!.set(key, (c = { total: 0, next: new Map() }));
      c.total++;
      c.next.set(x, (c.next.get(x) ?? 0) + 1);
    }
  }
  return { p, weight };
}

/** Bits of a token under (1 - w) p_model + w p_cache, given its model bits (the model alone where j = 0). */
export function mixedBits(modelBits: number, pCache: number, weight: number, first: boolean): number {
  if (first) return modelBits;
  return -Math.log2((1 - weight) * Math.pow(2, -modelBits) + weight * pCache);
}
