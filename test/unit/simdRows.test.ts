import * as assert from 'node:assert/strict';
import { accumulateRows, Int8Rows, quantizeRows, simdRows, sumScaled } from '../../src/runtime/simd/rows';
import { CompactState, FastWeightState } from '../../src/runtime';

function randomRows(rows: number, cols: number, seed: number): Int8Rows {
  let s = seed;
  const next = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const values = Int8Array.from({ length: rows * cols }, () => Math.round(next() * 127));
  const scales = Float32Array.from({ length: rows }, (_, r) => (r % 7 === 3 ? 0 : Math.abs(next()) * 0.01));
  return { values, scales, cols };
}

describe('int8 row sums in WebAssembly SIMD', () => {
  after(() => simdRows(true));

  it('runs in WebAssembly on Node 20 and gives the JavaScript loop’s sums', () => {
    assert.ok(simdRows(true), 'WebAssembly SIMD is available');
    for (const [rows, cols] of [
      [256, 1024],
      [1024, 256],
      [3, 16],
    ] as const) {
      const terms = [1, 2, 3].map((k) => ({ rows: randomRows(rows, cols, k), w: 0.5 - k * 0.7 }));
      // A view into a larger buffer, as the graph's outputs are.
      const big = randomRows(rows * 2, cols, 9);
      terms.push({
        rows: { values: big.values.subarray(rows * cols), scales: big.scales.subarray(rows), cols },
        w: 2,
      });
      const start = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i));
      const wasm = start.slice();
      simdRows(true);
      accumulateRows(wasm, terms, 0.75);
      const js = start.slice();
      simdRows(false);
      accumulateRows(js, terms, 0.75);
      simdRows(true);
      let worst = 0;
      for (let i = 0; i < js.length; i++) worst = Math.max(worst, Math.abs(wasm[i]! - js[i]!));
      assert.ok(worst < 1e-5, `${rows}x${cols}: largest difference ${worst}`);
      assert.notDeepEqual(wasm, start, 'the sum changed y');
    }
  });

  it('rounds float32 rows to int8 as the JavaScript loop does (but for the odd tie)', () => {
    for (const [rows, cols] of [
      [256, 1024],
      [1530, 64],
      [3, 16],
      [2, 24], // not a multiple of 16: the JavaScript loop either way
    ] as const) {
      const x = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 5)));
      x.fill(0, cols, 2 * cols); // a row of zeros
      simdRows(true);
      const wasm = quantizeRows(x, cols);
      simdRows(false);
      const js = quantizeRows(x, cols);
      simdRows(true);
      assert.deepEqual(wasm.scales, js.scales, `${rows}x${cols}: scales`);
      let off = 0;
      for (let i = 0; i < x.length; i++) {
        assert.ok(Math.abs(wasm.values[i]! - js.values[i]!) <= 1, `${rows}x${cols}: value ${i}`);
        if (wasm.values[i] !== js.values[i]) off++;
      }
      assert.ok(off <= x.length / 1000, `${rows}x${cols}: ${off} values a step off`);
      assert.ok(wasm.values.subarray(cols, 2 * cols).every((v) => v === 0) && wasm.scales[1] === 0);
      assert.ok(
        wasm.values.some((v) => v === 127 || v === -127),
        'the largest magnitude takes the last step',
      );
    }
  });

  it('combines two float32 states as the JavaScript loop does, for any length', () => {
    assert.ok(simdRows(true));
    for (const n of [262144, 5001, 1027, 17]) {
      const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
      const y = Float32Array.from({ length: n }, (_, i) => Math.cos(3 * i));
      const out = new Float32Array(n).fill(7);
      sumScaled(out, x, 0.25, y, -1.5);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(out[i]! - (0.25 * x[i]! - 1.5 * y[i]!)));
      assert.ok(worst < 1e-6, `n ${n}: largest difference ${worst}`);
    }
  });

  it('adds many compact states in one call as one at a time would', () => {
    const shapes = {
      state_w1: [32, 64],
      state_b1: [64],
      state_w2: [64, 32],
      state_b2: [32],
      state_gamma: [32],
      state_beta: [32],
    };
    const state = (seed: number): FastWeightState => {
      const tensors: Record<string, Float32Array> = {};
      for (const [name, shape] of Object.entries(shapes)) {
        const n = shape.reduce((a, b) => a * b, 1);
        tensors[name] = Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i));
      }
      return FastWeightState.fromTensors(tensors as never, shapes as never);
    };
    const compact = [1, 2, 3, 4].map((k) => CompactState.from(state(k)));
    const batched = state(0);
    CompactState.accumulate(
      batched,
      compact.map((c, k) => ({ state: c, w: k - 1.5 })),
      0.5,
    );
    const oneByOne = state(0).scale(0.5);
    compact.forEach((c, k) => c.addScaledTo(oneByOne, k - 1.5));
    const diff = batched.clone().addScaled(oneByOne, -1).norm() / oneByOne.norm();
    assert.ok(diff < 1e-6, `relative difference ${diff}`);
  });
});
