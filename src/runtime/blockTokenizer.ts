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
}

export interface TokenizedText {
  blocks: TokenBlock[];
  ids: number[];
}

const WHITESPACE = /\s/;

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
  /** Ids of the blocks of the last text, by block text. */
  private cache = new Map<string, readonly number[]>();

  constructor(private readonly tokenizer: CodeTokenizer) {}

  tokenize(text: string): TokenizedText {
    const starts = blockStarts(text);
    const next = new Map<string, readonly number[]>();
    const blocks: TokenBlock[] = [];
    const ids: number[] = [];
    for (let b = 0; b < starts.length; b++) {
      const start = starts[b]!;
      const blockText = text.slice(start, starts[b + 1] ?? text.length);
      if (blockText.length === 0) continue;
      let blockIds = next.get(blockText) ?? this.cache.get(blockText);
      if (!blockIds) blockIds = this.tokenizer.encode(blockText);
      next.set(blockText, blockIds);
      blocks.push({ text: blockText, start, ids: blockIds, firstToken: ids.length });
      for (const id of blockIds) ids.push(id);
    }
    this.cache = next;
    return { blocks, ids };
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
  }
}
