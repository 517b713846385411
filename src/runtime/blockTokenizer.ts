/**
 * Incremental tokenization of a document: the text is cut into blocks at points where the byte-level BPE
 * pre-tokenizer always starts a new piece, each block is tokenized on its own, and blocks are cached by
 * their text. After an edit only the edited blocks are tokenized again, and the ids equal those of the whole
 * text tokenized at once.
 *
 * Cut points: right before a "\n" that follows a character other than whitespace. No pre-token pattern
 * (letters, digits, punctuation runs, contractions) contains "\n", so the piece before such a cut ends there
 * whether the text goes on or not, and the "\n" starts the next piece in both cases.
 */
import type { CodeTokenizer } from './tokenizer';

export interface TokenBlock {
  text: string;
  /** Offset of the block's first character in the document. */
  start: number;
  ids: readonly number[];
  /** Index (in the document's ids, without bos) of the block's first token. */
  firstToken: number;
  /** blockHash(text), kept with the block so that a chunk layout need not hash every block again. */
  hash: number;
}

export interface TokenizedText {
  blocks: TokenBlock[];
  ids: number[];
}

const WHITESPACE = /\s/;

/** A well-mixed 32-bit hash of a block's text (FNV-1a, then a finalizer: the cut rule compares whole values). */
export function blockHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Length of the longest common prefix of `a` and `b` (`fromEnd`: suffix), at most `max` characters. A binary
 * search over slice comparisons, which run as native memory compares: on a 230,000-character document
 * about 0.05 ms, where a loop over charCodeAt took about 2 ms.
 */
export function commonAffix(a: string, b: string, max: number, fromEnd = false): number {
  const part = (s: string, n: number): string => (fromEnd ? s.slice(s.length - n) : s.slice(0, n));
  let lo = 0;
  let hi = Math.min(max, a.length, b.length);
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (part(a, mid) === part(b, mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Index of the block holding character `offset` (the last block starting at or before it; 0 if none). */
export function blockAt(tokenized: TokenizedText, offset: number): number {
  const { blocks } = tokenized;
  let lo = 0;
  let hi = Math.max(0, blocks.length - 1);
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (blocks[mid]!.start <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Offsets where blocks start (0 first). */
export function blockStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n', 1); i >= 0; i = text.indexOf('\n', i + 1)) {
    if (!WHITESPACE.test(text[i - 1]!)) starts.push(i);
  }
  return starts;
}

export class BlockTokenizer {
  /** Ids and hashes of blocks seen lately, by block text (undo and re-typing find theirs here). */
  private cache = new Map<string, { ids: readonly number[]; hash: number }>();
  /** The last text and its blocks: an edit re-cuts only the part between their common prefix and suffix. */
  private last: { text: string; tokenized: TokenizedText } | undefined;

  constructor(private readonly tokenizer: CodeTokenizer) {}

  tokenize(text: string): TokenizedText {
    const last = this.last;
    const tokenized = last
      ? this.retokenize(last.text, last.tokenized, text)
      : this.tokenizeRange(text, 0, text.length, 0);
    this.last = { text, tokenized };
    // Blocks no longer in the text stay cached until the cache is twice the document's blocks.
    if (this.cache.size > 2 * tokenized.blocks.length + 64) {
      this.cache = new Map(tokenized.blocks.map((b) => [b.text, { ids: b.ids, hash: b.hash }]));
    }
    return tokenized;
  }

  /** Blocks and ids of text[from, to), which starts a block and ends one (or the text); ids from `firstToken`. */
  private tokenizeRange(text: string, from: number, to: number, firstToken: number): TokenizedText {
    const blocks: TokenBlock[] = [];
    const ids: number[] = [];
    const cuts = [from];
    for (let i = text.indexOf('\n', from + 1); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) {
      if (!WHITESPACE.test(text[i - 1]!)) cuts.push(i);
    }
    for (let b = 0; b < cuts.length; b++) {
      const start = cuts[b]!;
      const blockText = text.slice(start, cuts[b + 1] ?? to);
      if (blockText.length === 0) continue;
      let known = this.cache.get(blockText);
      if (!known) {
        known = { ids: this.tokenizer.encode(blockText), hash: blockHash(blockText) };
        this.cache.set(blockText, known);
      }
      blocks.push({
        text: blockText,
        start,
        ids: known.ids,
        firstToken: firstToken + ids.length,
        hash: known.hash,
      });
      for (const id of known.ids) ids.push(id);
    }
    return { blocks, ids };
  }

  /**
   * The blocks of `text` from those of `before`: blocks that end before the first changed character keep
   * their place, blocks that start inside the unchanged tail move by the change in length, and only the part
   * between is cut and tokenized again. A cut before a "\n" depends on that character and the one before it,
   * so a block start next to the change is re-decided too.
   */
  private retokenize(before: string, old: TokenizedText, text: string): TokenizedText {
    if (before === text) return old;
    const max = Math.min(before.length, text.length);
    const prefix = commonAffix(before, text, max);
    const suffix = commonAffix(before, text, max - prefix, true);
    const { blocks } = old;
    if (blocks.length === 0) return this.tokenizeRange(text, 0, text.length, 0);
    // Kept at the start: the blocks before the one holding prefix - 1.
    const head = prefix === 0 ? 0 : blockAt(old, prefix - 1);
    // Kept at the end: the blocks starting at or after the unchanged tail's second character.
    let tail = blocks.length;
    while (tail > head + 1 && blocks[tail - 1]!.start >= before.length - suffix + 1) tail--;
    const delta = text.length - before.length;
    const from = head < blocks.length ? blocks[head]!.start : text.length;
    const to = tail < blocks.length ? blocks[tail]!.start + delta : text.length;
    const headTokens = head < blocks.length ? blocks[head]!.firstToken : old.ids.length;
    const middle = this.tokenizeRange(text, from, to, headTokens);
    const oldTailTokens = tail < blocks.length ? blocks[tail]!.firstToken : old.ids.length;
    const tokenShift = headTokens + middle.ids.length - oldTailTokens;
    const moved = blocks.slice(tail).map((b) => ({
      text: b.text,
      start: b.start + delta,
      ids: b.ids,
      firstToken: b.firstToken + tokenShift,
      hash: b.hash,
    }));
    // concat, not spread: a 5,000-line file has some 40,000 ids.
    return {
      blocks: blocks.slice(0, head).concat(middle.blocks, moved),
      ids: old.ids.slice(0, headTokens).concat(middle.ids, old.ids.slice(oldTailTokens)),
    };
  }

  /** Tokens of the text before `offset` (a token straddling the offset counts), from the blocks. */
  tokensBefore(tokenized: TokenizedText, offset: number): number {
    const { blocks } = tokenized;
    if (blocks.length === 0) return 0;
    const block = blocks[blockAt(tokenized, offset)]!;
    const inside = offset - block.start;
    if (inside <= 0) return block.firstToken;
    if (inside >= block.text.length) return block.firstToken + block.ids.length;
    return block.firstToken + this.tokenizer.encode(block.text.slice(0, inside)).length;
  }

  clear(): void {
    this.cache.clear();
    this.last = undefined;
  }
}
