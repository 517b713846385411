/**
 * Sums of fast-weight states in WebAssembly SIMD (rows.wat): y = a * y + sum_k w_k * x_k for matrices x_k
 * stored as int8 rows with one scale per row (CompactState), 16 values per step, and out = a * x + b * y in
 * float32, 4 per step, where V8 runs the same JavaScript loops one value at a time (measured here: a chunk
 * contribution added in 0.24 instead of 2.2 ms, a cursor state combined in 0.5 instead of 2.8 ms; copying in
 * and out of the module's memory included). y is copied in once per call, however many terms it adds. Also
 * the rounding of float32 rows to such int8 rows (key/value snapshots: 2.4 instead of 6 ms for 255
 * positions). Plain JavaScript where WebAssembly SIMD is missing or a row is not a multiple of 16 values.
 */
import { ROWS_WASM_BASE64 } from './rowsWasm';

export interface Int8Rows {
  values: Int8Array;
  /** One per row. */
  scales: Float32Array;
  cols: number;
}

export interface RowsTerm {
  rows: Int8Rows;
  w: number;
}

// The few WebAssembly declarations used here (this project's TypeScript libraries do not include the DOM's).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface RowsModule {
  memory: WasmMemory;
  axpbyRows: (y: number, x: number, scales: number, rows: number, cols: number, a: number, w: number) => void;
  sumScaled: (out: number, x: number, y: number, n: number, a: number, b: number) => void;
  quantizeRows: (x: number, out: number, scales: number, rows: number, cols: number) => void;
}

let loaded: RowsModule | null | undefined;

const align16 = (n: number): number => (n + 15) & ~15;

function rowsModule(): RowsModule | null {
  if (loaded === undefined) {
    try {
      const module = new WebAssembly.Module(Buffer.from(ROWS_WASM_BASE64, 'base64'));
      const exports = new WebAssembly.Instance(module, {}).exports as unknown as RowsModule;
      loaded = {
        memory: exports.memory,
        axpbyRows: exports.axpbyRows,
        sumScaled: exports.sumScaled,
        quantizeRows: exports.quantizeRows,
      };
    } catch {
      loaded = null; // no WebAssembly SIMD here: the JavaScript loop below
    }
  }
  return loaded;
}

/** The module's memory, at least `bytes` long. */
function memoryOf(wasm: RowsModule, bytes: number): ArrayBuffer {
  const memory = wasm.memory;
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  return memory.buffer;
}

/** out = a * x + b * y (float32, same lengths). */
export function sumScaled(out: Float32Array, x: Float32Array, a: number, y: Float32Array, b: number): void {
  const n = out.length;
  const wasm = rowsModule();
  if (!wasm || n < 1024) {
    for (let i = 0; i < n; i++) out[i] = a * x[i]! + b * y[i]!;
    return;
  }
  const at = align16(n * 4);
  const buffer = memoryOf(wasm, 3 * at);
  new Float32Array(buffer, 0, n).set(x);
  new Float32Array(buffer, at, n).set(y);
  // (n not a multiple of 4: the last step reads and writes past n, inside the module's memory.)
  wasm.sumScaled(2 * at, 0, at, n, a, b);
  out.set(new Float32Array(buffer, 2 * at, n));
}

/** Adding and subtracting 1.5 * 2^52 rounds a double to the nearest integer (ties to even), without a branch. */
const ROUND = 6755399441055744;

/**
 * Float32 rows of `cols` values as int8 rows, one scale per row (its largest magnitude / 127), each value
 * rounded to the nearest step. In WebAssembly (rows.wat) where `cols` is a multiple of 16: there the
 * product x * (1 / scale) is a float32 one, so a value at a tie between two steps may round the other way
 * than in the JavaScript loop (at most one step, in rare values).
 */
export function quantizeRows(x: Float32Array, cols: number): Int8Rows {
  const rows = x.length / cols;
  const wasm = rowsModule();
  if (!wasm || cols % 16 !== 0) return quantizeRowsJs(x, cols);
  const n = x.length;
  const outAt = align16(n * 4);
  const scalesAt = align16(outAt + n);
  const buffer = memoryOf(wasm, scalesAt + rows * 4);
  new Float32Array(buffer, 0, n).set(x);
  wasm.quantizeRows(0, outAt, scalesAt, rows, cols);
  return {
    values: new Int8Array(buffer, outAt, n).slice(),
    scales: new Float32Array(buffer, scalesAt, rows).slice(),
    cols,
  };
}

/**
 * The same in JavaScript, the product in double precision: CompactState rounds chunk contributions with it
 * (the rounding their tests and measurements were made with; the float32 product rounds some ties the
 * other way).
 */
export function quantizeRowsJs(x: Float32Array, cols: number): Int8Rows {
  const rows = x.length / cols;
  const values = new Int8Array(x.length);
  const scales = new Float32Array(rows);
  // Branch-free loops: with values of random sign, the former sign tests mispredicted about half the time
  // (measured 3.4 ms -> 1.0 ms for a 256 x 1024 matrix).
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const end = off + cols;
    let max = 0;
    for (let c = off; c < end; c++) {
      const v = Math.abs(x[c]!);
      max = v > max ? v : max;
    }
    if (max === 0) continue;
    const scale = max / 127;
    const inv = 1 / scale;
    scales[r] = scale;
    for (let c = off; c < end; c++) values[c] = x[c]! * inv + ROUND - ROUND;
  }
  return { values, scales, cols };
}

/** Whether accumulateRows runs in WebAssembly (false: its JavaScript loop); `force` is for tests. */
export function simdRows(force?: boolean): boolean {
  if (force === false) loaded = null;
  else if (force === true) loaded = undefined;
  return rowsModule() !== null;
}

export function accumulateRows(y: Float32Array, terms: readonly RowsTerm[], a = 1): void {
  const wasm = rowsModule();
  if (!wasm || terms.length === 0 || terms.some((t) => t.rows.cols % 16 !== 0)) {
    accumulateRowsJs(y, terms, a);
    return;
  }
  const n = y.length;
  const xAt = align16(n * 4);
  const rows = Math.max(...terms.map((t) => t.rows.scales.length));
  const scalesAt = align16(xAt + n);
  const buffer = memoryOf(wasm, scalesAt + rows * 4);
  const yIn = new Float32Array(buffer, 0, n);
  yIn.set(y);
  const x = new Int8Array(buffer, xAt, n);
  let scaleFirst = a;
  for (const { rows: r, w } of terms) {
    if (r.values.length !== n) throw new Error(`int8 rows of ${r.values.length} values added to ${n}`);
    x.set(r.values);
    new Float32Array(buffer, scalesAt, r.scales.length).set(r.scales);
    wasm.axpbyRows(0, xAt, scalesAt, r.scales.length, r.cols, scaleFirst, w);
    scaleFirst = 1;
  }
  y.set(yIn);
}

/** The same in JavaScript. */
function accumulateRowsJs(y: Float32Array, terms: readonly RowsTerm[], a: number): void {
  if (a !== 1) for (let i = 0; i < y.length; i++) y[i] = a * y[i]!;
  for (const { rows, w } of terms) {
    const { values, scales, cols } = rows;
    for (let r = 0; r < scales.length; r++) {
      const s = w * scales[r]!;
      if (s === 0) continue;
      const off = r * cols;
      const end = off + cols;
      for (let c = off; c < end; c++) y[c]! += s * values[c]!;
    }
  }
}
