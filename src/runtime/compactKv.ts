/**
 * A key/value cache stored as int8 rows, one fp32 scale per row of `head_dim` values (the rounding of
 * compactState.ts, done in WebAssembly SIMD): a quarter of the bytes. A document keeps its key/value snapshots
 * so at the chunk starts that are not next to the cursor, where an edit is rarer, so that it can keep them
 * farther out.
 *
 * The rows are held in blocks of consecutive positions, and a cache is a list of pieces of blocks. The
 * snapshots one body pass keeps at consecutive chunk starts overlap (255 positions each, chunks of about
 * 115): the next one shares the blocks of the one before and adds a block of the positions between the two
 * starts only (issue 25: about half the bytes), the same int8 rows as a copy of its own would hold.
 */
import type { QuantizedMatrix } from './compactState';
import type { KvCache } from './runtime';
import { accumulateRows, quantizeRows } from './simd/rows';

/** Int8 rows of `length` consecutive positions, laid out as a KvCache: [heads of all layers, length, dh]. */
interface KvBlock {
  keys: QuantizedMatrix;
  values: QuantizedMatrix;
  length: number;
  /**
   * Precise blocks: the int8 rows of what `keys` and `values` missed, so that the two add up to within
   * 1/64,000 of each row's largest value (half the bytes of fp32; the snapshot typing starts from).
   */
  rest?: { keys: QuantizedMatrix; values: QuantizedMatrix };
}

export interface CompactKv {
  /** Positions [from, to) of each block, in turn. */
  pieces: readonly { block: KvBlock; from: number; to: number }[];
  length: number;
}

function quantizeBlock(kv: KvCache, headDim: number): KvBlock {
  return {
    // In WebAssembly (about 2.4 instead of 6 ms for a 255-position snapshot).
    keys: { kind: 'int8', ...quantizeRows(kv.keys, headDim) },
    values: { kind: 'int8', ...quantizeRows(kv.values, headDim) },
    length: kv.length,
  };
}

/** The rows and the int8 rows of what they missed (see KvBlock.rest). */
function preciseRows(x: Float32Array, headDim: number): { rows: QuantizedMatrix; rest: QuantizedMatrix } {
  const rows: QuantizedMatrix = { kind: 'int8', ...quantizeRows(x, headDim) };
  const missed = x.slice();
  accumulateRows(missed, [{ rows, w: -1 }]);
  return { rows, rest: { kind: 'int8', ...quantizeRows(missed, headDim) } };
}

/** A cache as one precise block (KvBlock.rest): 16-bit precision in half the bytes of fp32. */
export function preciseKv(kv: KvCache, headDim: number): CompactKv {
  const keys = preciseRows(kv.keys, headDim);
  const values = preciseRows(kv.values, headDim);
  const block: KvBlock = {
    keys: keys.rows,
    values: values.rows,
    length: kv.length,
    rest: { keys: keys.rest, values: values.rest },
  };
  return { pieces: [{ block, from: 0, to: kv.length }], length: kv.length };
}

/** Whether a cache holds precise blocks (preciseKv), not int8 rows alone. */
export function isPreciseKv(kv: CompactKv): boolean {
  return kv.pieces.some((p) => p.block.rest !== undefined);
}

export function compactKv(kv: KvCache, headDim: number): CompactKv {
  const block = quantizeBlock(kv, headDim);
  return { pieces: [{ block, from: 0, to: kv.length }], length: kv.length };
}

/**
 * The cache of `before` without its first `drop` positions, followed by `rows` (quantized here): `before`'s
 * blocks are shared, not copied.
 */
export function extendCompactKv(before: CompactKv, drop: number, rows: KvCache, headDim: number): CompactKv {
  const pieces: { block: KvBlock; from: number; to: number }[] = [];
  let skip = drop;
  for (const p of before.pieces) {
    const n = p.to - p.from;
    if (skip >= n) {
      skip -= n;
      continue;
    }
    pieces.push({ block: p.block, from: p.from + skip, to: p.to });
    skip = 0;
  }
  if (rows.length > 0) pieces.push({ block: quantizeBlock(rows, headDim), from: 0, to: rows.length });
  return { pieces, length: Math.max(0, before.length - drop) + rows.length };
}

function expandRows(rows: QuantizedMatrix, rest?: QuantizedMatrix): Float32Array {
  const out = new Float32Array(rows.values.length);
  accumulateRows(
    out,
    rest
      ? [
          { rows, w: 1 },
          { rows: rest, w: 1 },
        ]
      : [{ rows, w: 1 }],
  );
  return out;
}

export function expandKv(kv: CompactKv): KvCache {
  const only = kv.pieces.length === 1 ? kv.pieces[0]! : undefined;
  if (only && only.from === 0 && only.to === only.block.length) {
    const { keys, values, rest } = only.block;
    return {
      keys: expandRows(keys, rest?.keys),
      values: expandRows(values, rest?.values),
      length: kv.length,
    };
  }
  const first = kv.pieces[0]?.block;
  if (!first) return { keys: new Float32Array(0), values: new Float32Array(0), length: 0 };
  const dh = first.keys.cols;
  const heads = first.keys.values.length / Math.max(1, first.length * dh);
  const keys = new Float32Array(heads * kv.length * dh);
  const values = new Float32Array(heads * kv.length * dh);
  let at = 0; // position in the result where the piece goes
  for (const { block, from, to } of kv.pieces) {
    const k = expandRows(block.keys, block.rest?.keys);
    const v = expandRows(block.values, block.rest?.values);
    const n = to - from;
    for (let r = 0; r < heads; r++) {
      const src = (r * block.length + from) * dh;
      const dst = (r * kv.length + at) * dh;
      keys.set(k.subarray(src, src + n * dh), dst);
      values.set(v.subarray(src, src + n * dh), dst);
    }
    at += n;
  }
  return { keys, values, length: kv.length };
}

/** Positions [from, to) of a block, as a block of their own (int8 rows copied, nothing rounded again). */
function sliceBlock(block: KvBlock, from: number, to: number): KvBlock {
  const dh = block.keys.cols;
  const heads = block.keys.values.length / Math.max(1, block.length * dh);
  const n = to - from;
  const slice = (m: QuantizedMatrix): QuantizedMatrix => {
    const values = new Int8Array(heads * n * dh);
    const scales = new Float32Array(heads * n);
    for (let r = 0; r < heads; r++) {
      const src = r * block.length + from;
      values.set(m.values.subarray(src * dh, (src + n) * dh), r * n * dh);
      scales.set(m.scales.subarray(src, src + n), r * n);
    }
    return { kind: 'int8', values, scales, cols: dh };
  };
  const rest = block.rest && { keys: slice(block.rest.keys), values: slice(block.rest.values) };
  return { keys: slice(block.keys), values: slice(block.values), length: n, ...(rest ? { rest } : {}) };
}

/**
 * The same caches with each block cut to the positions they still use: a snapshot that shared the tail of
 * an earlier one, since freed, held the whole of that one's block (issue 25). Lossless.
 */
export function repackKv(caches: readonly CompactKv[]): CompactKv[] {
  const used = new Map<KvBlock, { from: number; to: number }>();
  for (const kv of caches) {
    for (const p of kv.pieces) {
      const u = used.get(p.block);
      used.set(p.block, u ? { from: Math.min(u.from, p.from), to: Math.max(u.to, p.to) } : p);
    }
  }
  const cut = new Map<KvBlock, KvBlock>();
  for (const [block, u] of used) {
    if (u.from > 0 || u.to < block.length) cut.set(block, sliceBlock(block, u.from, u.to));
  }
  return caches.map((kv) => {
    if (!kv.pieces.some((p) => cut.has(p.block))) return kv;
    const pieces = kv.pieces.map((p) => {
      const block = cut.get(p.block);
      const shift = used.get(p.block)!.from;
      return block ? { block, from: p.from - shift, to: p.to - shift } : p;
    });
    return { pieces, length: kv.length };
  });
}

/** The blocks a cache holds (shared ones are counted once by compactKvBytes). */
export function kvBlocks(kv: CompactKv): KvBlock[] {
  return kv.pieces.map((p) => p.block);
}

/** Bytes of the blocks of these caches, each block once however many of them share it. */
export function compactKvBytes(...caches: CompactKv[]): number {
  let n = 0;
  const bytes = (m: QuantizedMatrix): number => m.values.byteLength + m.scales.byteLength;
  for (const block of new Set(caches.flatMap(kvBlocks))) {
    n += bytes(block.keys) + bytes(block.values);
    if (block.rest) n += bytes(block.rest.keys) + bytes(block.rest.values);
  }
  return n;
}
