/** What the state-accuracy benches share: the CPU int8 runtime, bits of the tokens after a position, sums. */
import * as path from 'node:path';
import { defaultModelDir, FastWeightsRuntime, FastWeightState, log2Prob } from '../src/runtime';

export function loadCpuRuntime(): Promise<FastWeightsRuntime> {
  return FastWeightsRuntime.load({
    modelDir: defaultModelDir(path.resolve(__dirname, '..')),
    provider: 'cpu',
    precision: 'int8',
  });
}

/** Bits of the `count` tokens after position t0 with `state` (`hidden`: the body's exact rows for `ids`). */
export async function bitsAfter(
  rt: FastWeightsRuntime,
  hidden: Float32Array,
  ids: readonly number[],
  t0: number,
  state: FastWeightState,
  count: number,
): Promise<number> {
  const d = rt.config.d_model;
  const logits = await rt.head(hidden.subarray(t0 * d, (t0 + count) * d), count, state);
  let sum = 0;
  for (let i = 0; i < count; i++) sum -= log2Prob(logits, i, rt.config.vocab_size, ids[t0 + i + 1]!);
  return sum;
}

export function addTo(table: Record<string, number>, key: string, x: number): void {
  table[key] = (table[key] ?? 0) + x;
}
