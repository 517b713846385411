/**
 * The spread of fp32 results across onnxruntime's kernels, behind the numeric bounds of the unit tests.
 *
 * Machines of this project's kind differ in CPU (Intel with AMX, AMD Zen 4 without), so onnxruntime picks
 * other kernels and fp32 results differ in their last bits. On one machine, graphs run without graph
 * optimisations on one thread ("unfused") take other kernels too. This script:
 *  1. runs the numeric unit tests both ways, each difference they bound recorded (test/unit/helpers.ts
 *     noteSpread), and prints the largest per bound and kernel path;
 *  2. compares the same computations across the two kernel paths: a document's fast-weight state after a
 *     whole pass, and bits per byte of the parity fixture.
 * Usage: npm run bench:spread [-- --json]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DocumentState, evaluateText, FastWeightState, FastWeightsRuntime } from '../src/runtime';
import { defaultModelDir } from '../src/runtime';
import { machineInfo } from './cpuFlags';

const ROOT = path.resolve(__dirname, '..');
const NUMERIC_TESTS = ['incremental', 'state', 'parity', 'drafts'].map((f) =>
  path.join(ROOT, 'out', 'test', 'unit', `${f}.test.js`),
);

type Spread = Record<string, { fused: number; unfused: number }>;

function runTests(kernels: 'fused' | 'unfused', into: Spread): boolean {
  const log = path.join(os.tmpdir(), `fastweights-spread-${process.pid}-${kernels}.tsv`);
  fs.rmSync(log, { force: true });
  let passed = true;
  try {
    execFileSync(
      process.execPath,
      [
        path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'),
        '--no-config',
        '--timeout',
        '300000',
        ...NUMERIC_TESTS,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, FASTWEIGHTS_SPREAD_LOG: log, FASTWEIGHTS_TEST_KERNELS: kernels },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  } catch {
    passed = false; // a bound failed: what was recorded before it still counts
  }
  const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
  for (const line of text.split('\n').filter(Boolean)) {
    const [name, value] = line.split('\t') as [string, string];
    const row = (into[name] ??= { fused: 0, unfused: 0 });
    row[kernels] = Math.max(row[kernels], Number(value));
  }
  fs.rmSync(log, { force: true });
  return passed;
}

function relativeDiff(a: FastWeightState, b: FastWeightState): number {
  return a.clone().addScaled(b, -1).norm() / b.norm();
}

async function acrossKernels(): Promise<Record<string, number>> {
  const modelDir = defaultModelDir(ROOT);
  const fused = await FastWeightsRuntime.load({ modelDir, provider: 'cpu' });
  const unfused = await FastWeightsRuntime.load({
    modelDir,
    provider: 'cpu',
    graphOptimization: 'disabled',
    threads: 1,
    contributionThreads: 1,
  });
  const fixtures = path.join(ROOT, 'test', 'unit', 'fixtures');
  const text = ['sample.ts', 'sample.py']
    .map((f) => fs.readFileSync(path.join(fixtures, f), 'utf8'))
    .join('\n');
  const docs = [new DocumentState(fused), new DocumentState(unfused)];
  for (const d of docs) await d.rebuild(text, { priority: 'foreground', chunkTokens: 64, snapshots: false });
  let state = 0;
  for (const at of [0.3, 0.5, 0.8]) {
    const t = Math.floor(docs[0]!.tokenCount * at);
    state = Math.max(state, relativeDiff(docs[1]!.stateAt(t), docs[0]!.stateAt(t)));
  }
  const fx = JSON.parse(fs.readFileSync(path.join(modelDir, 'parity_fixture.json'), 'utf8')) as {
    file: string;
  };
  const parityText = fs.readFileSync(path.join(modelDir, fx.file), 'utf8');
  const [a, b] = [await evaluateText(fused, parityText), await evaluateText(unfused, parityText)];
  const rel = (x: number, y: number): number => Math.abs(x - y) / Math.abs(y);
  await fused.dispose();
  await unfused.dispose();
  return {
    'state.whole_pass': state,
    'bits.static': rel(b.staticBits, a.staticBits),
    'bits.adapted': rel(b.adaptedBits!, a.adaptedBits!),
    'bits.whole_file': rel(b.wholeFileBits!, a.wholeFileBits!),
  };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const spread: Spread = {};
  const passed = { fused: runTests('fused', spread), unfused: runTests('unfused', spread) };
  const across = await acrossKernels();
  const machine = machineInfo();
  if (json) {
    console.log(
      JSON.stringify(
        { machine, tests_passed: passed, within_tests: spread, across_kernels: across },
        null,
        2,
      ),
    );
    return;
  }
  const fmt = (x: number): string => x.toExponential(2);
  console.log(
    'largest difference a test bounds, per kernel path (tests passed: ' +
      `fused ${passed.fused}, unfused ${passed.unfused})`,
  );
  for (const [name, v] of Object.entries(spread).sort())
    console.log(`  ${name.padEnd(36)} ${fmt(v.fused)}  ${fmt(v.unfused)}`);
  console.log('the same computation, fused against unfused kernels (relative):');
  for (const [name, v] of Object.entries(across)) console.log(`  ${name.padEnd(36)} ${fmt(v)}`);
  console.log(`machine: ${machine.cpus} x ${machine.cpu_model} (${machine.cpu_flags.join(' ')})`);
}

void main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
