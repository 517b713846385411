/** Shared test helpers: the model folder under test and one runtime per mocha process. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClientOptions, ModelClient } from '../../src/host/client';
import { defaultModelDir, FastWeightsRuntime } from '../../src/runtime';

/** Repository root (tests run from out/test/unit/). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');

/** The model under test: FASTWEIGHTS_MODEL_DIR, else the shipped models/fw-code-small. */
export function modelDir(): string {
  const dir = defaultModelDir(ROOT);
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    throw new Error(
      `no model folder at ${dir}: export one (training/README.md) or set FASTWEIGHTS_MODEL_DIR`,
    );
  }
  return dir;
}

let shared: Promise<FastWeightsRuntime> | undefined;

/**
 * FASTWEIGHTS_TEST_KERNELS=unfused runs the graphs without onnxruntime's graph optimisations and on one
 * thread: other kernels on the same CPU, so that a numeric bound that holds only for one machine's kernels
 * fails here too (CI runs the numeric tests both ways).
 */
export const UNFUSED = process.env.FASTWEIGHTS_TEST_KERNELS === 'unfused';

/** One CPU runtime shared by the tests of this process. */
export function runtime(): Promise<FastWeightsRuntime> {
  shared ??= FastWeightsRuntime.load({
    modelDir: modelDir(),
    provider: 'cpu',
    ...(UNFUSED ? { graphOptimization: 'disabled', threads: 1, contributionThreads: 1 } : {}),
  });
  return shared;
}

export const FIXTURES = path.join(ROOT, 'test', 'unit', 'fixtures');

/** A temporary folder removed after the test run. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fastweights-${prefix}-`));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A model worker on the CPU, as the extension starts it (from the built out/worker.js). */
export function workerClient(options: Partial<ClientOptions> = {}): ModelClient {
  return new ModelClient({
    modelDir: modelDir(),
    provider: 'cpu',
    workerPath: path.join(ROOT, 'out', 'worker.js'),
    ...options,
  });
}

/**
 * Records a difference that a numeric bound checks, for npm run bench:spread (bench/kernelSpread.ts): with
 * FASTWEIGHTS_SPREAD_LOG set, appends `name<TAB>value` to that file (the bounds are set from these).
 */
export function noteSpread(name: string, value: number): void {
  const file = process.env.FASTWEIGHTS_SPREAD_LOG;
  if (file) fs.appendFileSync(file, `${name}\t${value}\n`);
}

/** A seeded generator (xorshift32) of numbers in [0, 1), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}
