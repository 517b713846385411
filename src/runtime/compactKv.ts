/**
 * A key/value cache stored as int8 rows, one fp32 scale per row of `head_dim` values (the rounding of
 * compactState.ts, done in WebAssembly SIMD): a quarter of the bytes. A document keeps its key/value snapshots so at the chunk starts
 * that are not next to the cursor, where an edit is rarer, so that it can keep them farther out.
 */
import type { QuantizedMatrix } from './compactState';
import type { KvCache } from './runtime';
import { accumulateRows, quantizeRows } from './simd/rows';

export interface CompactKv {
  keys: QuantizedMatrix;
  values: QuantizedMatrix;
  length: number;
}

export function compactKv(kv: KvCache, headDim: number): CompactKv {
  return {
    // In WebAssembly (about 2.4 instead of 6 ms for a 255-position snapshot).
    keys: { kind: 'int8', ...quantizeRows(kv.keys, headDim) },
    values: { kind: 'int8', ...quantizeRows(kv.values, headDim) },
    length: kv.length,
  };
}

function expandRows(rows: QuantizedMatrix): Float32Array {
  const out = new Float32Array(rows.values.length);
  accumulateRows(out, [{ rows, w: 1 }]);
  return out;
}

export function expandKv(kv: CompactKv): KvCache {
  return { keys: expandRows(kv.keys), values: expandRows(kv.values), length: kv.length };
}

export function compactKvBytes(kv: CompactKv): number {
  return (
    kv.keys.values.byteLength +
    kv.keys.scales.byteLength +
    kv.values.values.byteLength +
    kv.values.scales.byteLength
  );
}
