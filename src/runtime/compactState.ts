/**
 * A fast-weight state stored compactly for caching chunk contributions: the two matrices (w1, w2: 99% of the
 * bytes) as int8 with one fp32 scale per row, the vectors as fp32. A quarter of the memory of a
 * FastWeightState, so that many chunks of many open files fit the memory budget. Rounding is to the nearest
 * step (error at most half a step, 1/254 of the row's largest magnitude) and it only ever enters sums of many
 * chunks, where it averages out; the state a completion uses is summed in fp32.
 */
import { STATE_TENSOR_NAMES, StateTensorName } from './model';
import { FastWeightState } from './fastWeights';
import { accumulateRows, quantizeRowsJs } from './simd/rows';

export interface QuantizedMatrix {
  kind: 'int8';
  values: Int8Array;
  /** One scale per row (the row's largest magnitude / 127). */
  scales: Float32Array;
  cols: number;
}

interface PlainVector {
  kind: 'fp32';
  values: Float32Array;
}

type CompactTensor = QuantizedMatrix | PlainVector;

export class CompactState {
  private constructor(private readonly tensors: Record<StateTensorName, CompactTensor>) {}

  static from(state: FastWeightState): CompactState {
    const tensors = {} as Record<StateTensorName, CompactTensor>;
    for (const name of STATE_TENSOR_NAMES) {
      const shape = state.shapes[name];
      const x = state.tensors[name];
      tensors[name] =
        shape.length === 2
          ? { kind: 'int8', ...quantizeRowsJs(x, shape[1]!) }
          : { kind: 'fp32', values: Float32Array.from(x) };
    }
    return new CompactState(tensors);
  }

  /**
   * From one weighting of a contribution graph run that also returned its matrices quantized per row
   * (outputs `<name>_int8` [K * rows, cols] and `<name>_scales` [K * rows], training/quantize.py; the same
   * rounding as quantizeRowsJs, done by onnxruntime): no fp32 matrix is read here.
   */
  static fromGraphOutputs(
    outputs: Record<string, { data: unknown }>,
    shapes: Record<StateTensorName, readonly number[]>,
    k: number,
    weightings: number,
  ): CompactState {
    const tensors = {} as Record<StateTensorName, CompactTensor>;
    for (const name of STATE_TENSOR_NAMES) {
      const shape = shapes[name];
      if (shape.length === 2) {
        const rows = shape[0]!;
        const cols = shape[1]!;
        const all = outputs[`${name}_int8`]!.data as Int8Array;
        const scales = outputs[`${name}_scales`]!.data as Float32Array;
        if (all.length !== weightings * rows * cols)
          throw new Error(`${name}_int8: unexpected size ${all.length}`);
        tensors[name] = {
          kind: 'int8',
          values: all.subarray(k * rows * cols, (k + 1) * rows * cols),
          scales: scales.subarray(k * rows, (k + 1) * rows),
          cols,
        };
      } else {
        const all = outputs[name]!.data as Float32Array;
        const size = all.length / weightings;
        tensors[name] = { kind: 'fp32', values: all.subarray(k * size, (k + 1) * size) };
      }
    }
    return new CompactState(tensors);
  }

  /**
   * A state as parts to add: its int8 rows, and with `twoPart` also the int8 rows of what they missed (about
   * 16-bit precision in half the bytes of fp32). Consumes `state` (the rounding error is left in it).
   */
  static parts(state: FastWeightState, twoPart: boolean): CompactState[] {
    const coarse = CompactState.from(state);
    if (!twoPart) return [coarse];
    coarse.addScaledTo(state, -1);
    return [coarse, CompactState.from(state)];
  }

  /** out = out + w * this */
  addScaledTo(out: FastWeightState, w: number): void {
    if (w === 0) return;
    CompactState.accumulate(out, [{ state: this, w }]);
  }

  /** out = a * out + w * this, in one pass (a cursor step scales a sum and adds or removes one chunk). */
  scaleAndAddTo(out: FastWeightState, a: number, w: number): void {
    CompactState.accumulate(out, [{ state: this, w }], a);
  }

  /**
   * out = a * out + sum_k w_k * state_k: one call for many chunks, so that each matrix of `out` travels to the
   * SIMD code once (simd/rows.ts).
   */
  static accumulate(out: FastWeightState, terms: readonly { state: CompactState; w: number }[], a = 1): void {
    for (const name of STATE_TENSOR_NAMES) {
      const y = out.tensors[name];
      const int8: { rows: QuantizedMatrix; w: number }[] = [];
      const fp32: { values: Float32Array; w: number }[] = [];
      for (const { state, w } of terms) {
        const t = state.tensors[name];
        if (t.kind === 'int8') int8.push({ rows: t, w });
        else fp32.push({ values: t.values, w });
      }
      if (fp32.length === 0) {
        accumulateRows(y, int8, a);
        continue;
      }
      if (a !== 1) for (let i = 0; i < y.length; i++) y[i] = a * y[i]!;
      for (const { values, w } of fp32) for (let i = 0; i < y.length; i++) y[i]! += w * values[i]!;
      if (int8.length > 0) accumulateRows(y, int8);
    }
  }

  get byteLength(): number {
    let n = 0;
    for (const name of STATE_TENSOR_NAMES) {
      const t = this.tensors[name];
      n += t.values.byteLength + (t.kind === 'int8' ? t.scales.byteLength : 0);
    }
    return n;
  }
}
