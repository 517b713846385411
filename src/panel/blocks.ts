/**
 * Groups the evaluation's per-token bits into blocks of lines, so the panel can show where in the file the
 * adaptation helps. Pure: no editor API, unit-tested.
 */
import type { TokenScores } from '../runtime/evaluate';

export interface GainBlock {
  /** 0-based, inclusive. */
  startLine: number;
  endLine: number;
  tokens: number;
  bytes: number;
  staticBitsPerByte: number;
  adaptedBitsPerByte: number;
  wholeFileBitsPerByte: number;
  /** (static - adapted) / static in %, positive when adaptation helps. */
  gainPct: number;
  /** Static minus adapted bits over the block: its share of the file's gain. */
  bitsSaved: number;
}

export interface LineBlocks {
  linesPerBlock: number;
  blocks: GainBlock[];
}

/** Round block sizes, so the chart's axis reads "lines 1-20, 21-40, ...". */
const NICE_SIZES = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000];

/** UTF-8 byte offset where each line ends (its line break included), for every line of `text`. */
export function lineEndBytes(text: string): number[] {
  const ends: number[] = [];
  let bytes = 0;
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    bytes += Buffer.byteLength(text.slice(start, end), 'utf8');
    ends.push(bytes);
    if (nl < 0) return ends;
    start = end;
  }
}

export function pickBlockSize(lines: number, maxBlocks: number): number {
  for (const size of NICE_SIZES) if (Math.ceil(lines / size) <= maxBlocks) return size;
  return Math.ceil(lines / maxBlocks);
}

export function gainPct(staticValue: number, adaptedValue: number): number {
  return staticValue > 0 ? ((staticValue - adaptedValue) / staticValue) * 100 : 0;
}

/**
 * Each token belongs to the line of its last byte (a token "\n    foo" is mostly the next line's text).
 * Scores cover the file's first tokens only when the evaluation was truncated; lines after them get no block.
 */
export function lineBlocks(text: string, scores: TokenScores, maxBlocks = 40): LineBlocks {
  const ends = lineEndBytes(text);
  const n = scores.bytes.length;
  const lineOfToken = new Uint32Array(n);
  let line = 0;
  let offset = 0;
  for (let i = 0; i < n; i++) {
    offset += scores.bytes[i]!;
    const last = Math.max(0, offset - 1);
    while (line < ends.length - 1 && last >= ends[line]!) line++;
    lineOfToken[i] = line;
  }
  const coveredLines = n > 0 ? lineOfToken[n - 1]! + 1 : 0;
  const size = pickBlockSize(Math.max(1, coveredLines), maxBlocks);
  const count = Math.ceil(coveredLines / size);
  const sums = Array.from({ length: count }, () => ({ tokens: 0, bytes: 0, st: 0, ad: 0, wf: 0 }));
  for (let i = 0; i < n; i++) {
    const s = sums[Math.floor(lineOfToken[i]! / size)]!;
    s.tokens++;
    s.bytes += scores.bytes[i]!;
    s.st += scores.staticBits[i]!;
    s.ad += (scores.adaptedBits ?? scores.staticBits)[i]!;
    s.wf += (scores.wholeFileBits ?? scores.staticBits)[i]!;
  }
  const blocks: GainBlock[] = [];
  sums.forEach((s, b) => {
    if (s.tokens === 0 || s.bytes === 0) return;
    const st = s.st / s.bytes;
    const ad = s.ad / s.bytes;
    blocks.push({
      startLine: b * size,
      endLine: Math.min((b + 1) * size, ends.length) - 1,
      tokens: s.tokens,
      bytes: s.bytes,
      staticBitsPerByte: st,
      adaptedBitsPerByte: ad,
      wholeFileBitsPerByte: s.wf / s.bytes,
      gainPct: gainPct(st, ad),
      bitsSaved: s.st - s.ad,
    });
  });
  return { linesPerBlock: size, blocks };
}
