/**
 * The file's own n-gram cache (Tu, Su & Devanbu 2014), kept beside the fast-weight state: token n-gram
 * counts of the document, mixed into the model's next-token distribution while decoding,
 *
 *     p(x) = (1 - w) p_model(x) + w p_cache(x),
 *
 * where p_cache backs off from the longest context seen in the file to the file's unigram distribution
 * (p_k = (count(c_k, x) + beta p_{k-1}) / (count(c_k) + beta)), the rule of training/cache_peer.py. The FWL
 * state learns the file's style in a smooth way; the cache copies its exact token sequences (a repeated call,
 * an import path), and the two gains add up (see the model card).
 *
 * Counts are kept incrementally: each block of the block tokenizer (about a line) adds the n-grams that end
 * inside it, keyed by its text plus the tokens before it that those n-grams reach, so an edit changes the
 * counts of one or two blocks and undo finds the same keys again.
 */
import { blockAt, type TokenizedText } from './blockTokenizer';

export interface NgramCacheParams {
  /** Weight of the cache in the mixture (0 leaves the model alone). */
  weight: number;
  /** Back-off strength: how much a seen context still trusts the shorter one. */
  beta: number;
}

/** Tuned on the valid split against FWL whole-file scores (training/evaluate_suite.py, stage mix). */
export const DEFAULT_NGRAM_PARAMS: NgramCacheParams = { weight: 0.2, beta: 0.5 };

/** Longest context in tokens (order 4: three tokens predict the fourth). */
const MAX_CONTEXT = 3;

interface ContextCounts {
  total: number;
  next: Map<number, number>;
}

interface BlockEntry {
  /** The block's ids preceded by its left context (up to MAX_CONTEXT ids). */
  ids: readonly number[];
  context: number;
  copies: number;
}

export class FileNgrams {
  /** counts[k - 1]: contexts of k tokens -> what followed them. */
  private readonly counts: Map<number, ContextCounts>[] = [];
  /** Allocated with the first count, freed by clear(): empty caches cost nothing. */
  private unigram: Int32Array | undefined;
  private unigramTotal = 0;
  private blocks = new Map<string, BlockEntry>();
  private entries = 0;
  /** Characters of the block keys and ids of the block entries (part of the heap they hold). */
  private blockChars = 0;
  private blockIds = 0;

  constructor(private readonly vocab: number) {
    for (let k = 1; k <= MAX_CONTEXT; k++) this.counts.push(new Map());
  }

  /** Tokens counted. */
  get tokenCount(): number {
    return this.unigramTotal;
  }

  /**
   * Heap size estimate: the unigram table, the count maps (about 110 bytes an entry) and the block keys and
   * ids; within 3% of the heap growth measured on held-out files of 10,800 and 31,000 tokens.
   */
  get byteLength(): number {
    const blocks = this.blocks.size * 120 + this.blockChars * 2 + this.blockIds * 8;
    return (this.unigram?.byteLength ?? 0) + this.entries * 110 + blocks;
  }

  clear(): void {
    this.unigram = undefined;
    this.unigramTotal = 0;
    for (const m of this.counts) m.clear();
    this.blocks.clear();
    this.entries = 0;
    this.blockChars = 0;
    this.blockIds = 0;
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
    const wanted = new Map<string, BlockEntry>();
    for (let b = Math.max(0, fromBlock); b < Math.min(toBlock, tokenized.blocks.length); b++) {
      if (skip.includes(b)) continue;
      const block = tokenized.blocks[b]!;
      const from = Math.max(0, block.firstToken - MAX_CONTEXT);
      const context = block.firstToken - from;
      const key = `${tokenized.ids.slice(from, block.firstToken).join(',')}|${block.text}`;
      const entry = wanted.get(key);
      if (entry) entry.copies++;
      else
        wanted.set(key, {
          ids: [...tokenized.ids.slice(from, block.firstToken), ...block.ids],
          context,
          copies: 1,
        });
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

  /** Adds (times > 0) or removes (times < 0) the n-grams ending in a block's own tokens. */
  private add(entry: BlockEntry, times: number): void {
    const { ids, context } = entry;
    const unigram = (this.unigram ??= new Int32Array(this.vocab));
    for (let j = context; j < ids.length; j++) {
      const x = ids[j]!;
      unigram[x] = unigram[x]! + times;
      this.unigramTotal += times;
      let key = 0;
      for (let k = 1; k <= MAX_CONTEXT && j - k >= 0; k++) {
        key = key * this.vocab + ids[j - k]!;
        const table = this.counts[k - 1]!;
        let c = table.get(key);
        if (!c) {
          c = { total: 0, next: new Map() };
          table.set(key, c);
          this.entries++;
        }
        c.total += times;
        const n = (c.next.get(x) ?? 0) + times;
        if (n > 0) {
          if (!c.next.has(x)) this.entries++;
          c.next.set(x, n);
        } else {
          c.next.delete(x);
          this.entries--;
        }
        if (c.total <= 0) {
          table.delete(key);
          this.entries--;
        }
      }
    }
  }

  /**
   * p_cache(. | context) into `out` (length vocab), from the last tokens of `context` (most recent last).
   * Returns false, leaving `out` untouched, when the cache is empty.
   */
  distribution(context: readonly number[], beta: number, out: Float32Array): boolean {
    const unigram = this.unigram;
    if (!unigram || this.unigramTotal <= 0) return false;
    const inv = 1 / this.unigramTotal;
    for (let i = 0; i < this.vocab; i++) out[i] = unigram[i]! * inv;
    let key = 0;
    for (let k = 1; k <= MAX_CONTEXT && k <= context.length; k++) {
      key = key * this.vocab + context[context.length - k]!;
      const c = this.counts[k - 1]!.get(key);
      if (!c) break;
      const scale = beta / (c.total + beta);
      for (let i = 0; i < this.vocab; i++) out[i] = out[i]! * scale;
      const share = 1 / (c.total + beta);
      for (const [x, n] of c.next) out[x] = out[x]! + n * share;
    }
    return true;
  }
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
 * cursor, that unfinished line (its block and the next, which holds its line end) would teach the cache
 * that the line ends right at the cursor, and suggestions would come out empty.
 */
export function unfinishedLineBlocks(tokenized: TokenizedText, text: string, offset: number): number[] {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  if (offset <= 0 || text.slice(lineStart, offset).trim().length === 0) return [];
  const at = blockAt(tokenized, offset);
  return [at, at + 1];
}

/** Blocks [from, to) whose tokens lie within `maxTokens` centred on the block holding `offset`. */
export function blocksAround(
  tokenized: TokenizedText,
  offset: number,
  maxTokens: number,
): { from: number; to: number } {
  const { blocks, ids } = tokenized;
  if (ids.length <= maxTokens) return { from: 0, to: blocks.length };
  const at = blockAt(tokenized, offset);
  const centre = blocks[at]?.firstToken ?? 0;
  const lo = Math.max(0, Math.min(centre - maxTokens / 2, ids.length - maxTokens));
  let from = at;
  while (from > 0 && blocks[from - 1]!.firstToken >= lo) from--;
  let to = at + 1;
  while (to < blocks.length && blocks[to]!.firstToken + blocks[to]!.ids.length <= lo + maxTokens) to++;
  return { from, to };
}

/**
 * p_cache(ids[j] | ids[:j]) for every token of a file, the cache holding only the tokens before j (0 at
 * j = 0): the causal cache of training/cache_peer.py, for scoring a file the way the Python evaluation does.
 */
export function causalCacheProbs(ids: readonly number[], beta: number): Float64Array {
  const p = new Float64Array(ids.length);
  const unigram = new Map<number, number>();
  const contexts: Map<string, { total: number; next: Map<number, number> }>[] = [];
  for (let k = 1; k <= MAX_CONTEXT; k++) contexts.push(new Map());
  for (let j = 0; j < ids.length; j++) {
    const x = ids[j]!;
    if (j > 0) {
      let q = (unigram.get(x) ?? 0) / j;
      for (let k = 1; k <= MAX_CONTEXT && k <= j; k++) {
        const c = contexts[k - 1]!.get(ids.slice(j - k, j).join(','));
        if (!c) break;
        q = ((c.next.get(x) ?? 0) + beta * q) / (c.total + beta);
      }
      p[j] = q;
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
  return p;
}

/** Bits of a token under (1 - w) p_model + w p_cache, given its model bits (the model alone where j = 0). */
export function mixedBits(modelBits: number, pCache: number, weight: number, first: boolean): number {
  if (first) return modelBits;
  return -Math.log2((1 - weight) * Math.pow(2, -modelBits) + weight * pCache);
}
