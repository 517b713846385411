/**
 * How much the workspace's n-grams (src/runtime/workspaceNgrams.ts over a SuffixIndex) add to the model, the
 * file's fast-weight state and the file's n-gram cache, on packages the model never saw (issue 24).
 *
 * Each package of a held-out split is a workspace: every scored file is predicted with the index of its
 * package's files, its own occurrences left out (as if the rest of the repository were open). The gate is
 * fitted on the valid split only and then applied to the test split. The extension's int8 graphs score.
 * Usage: npm run bench:workspace [-- --valid-files N] [--test-files N] [--max-tokens N] [--json]
 * (needs data/valid-files and data/test-files: python training/corpus.py fetch, then files --split ...).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultModelDir, evaluateText, FastWeightsRuntime } from '../src/runtime';
import { causalCacheProbs, DEFAULT_NGRAM_PARAMS, mixedBits } from '../src/runtime/fileNgrams';
import { listFiles, seededRandom, shuffled } from '../src/replay/regions';
import { SuffixIndex } from '../src/runtime/suffixIndex';
import {
  DEFAULT_WORKSPACE_PARAMS,
  mixWorkspaceBits,
  WorkspaceNgramParams,
  workspaceMatches,
  WorkspaceTokenMatches,
} from '../src/runtime/workspaceNgrams';
import { machineInfo } from './cpuFlags';

const ROOT = path.resolve(__dirname, '..');
/** Tokens from the start of a file that count as "its first lines", where only the workspace knows more. */
const EARLY = 512;

interface Scored {
  bytes: Uint32Array;
  /** Per-token bits: the model alone, with the file's state, each also mixed with the file's cache. */
  modes: Record<'static' | 'static_cache' | 'adapted' | 'adapted_cache', Float64Array>;
  matches: WorkspaceTokenMatches;
}

async function scoreSplit(
  rt: FastWeightsRuntime,
  split: string,
  files: number,
  maxTokens: number,
): Promise<Scored[]> {
  const dir = path.join(ROOT, 'data', `${split}-files`);
  if (!fs.existsSync(dir))
    throw new Error(`${dir} is missing: python training/corpus.py files --split ${split}`);
  const packages = fs.readdirSync(dir).filter((p) => fs.statSync(path.join(dir, p)).isDirectory());
  // Files to score, spread over the packages, at least 64 tokens each.
  const candidates = shuffled(
    packages.flatMap((p) => listFiles([path.join(dir, p)]).map((f) => ({ pkg: p, file: f }))),
    seededRandom(7),
  );
  const perPackage = Math.ceil(files / packages.length);
  const picked = new Map<string, string[]>();
  for (const c of candidates) {
    const list = picked.get(c.pkg) ?? [];
    if (list.length < perPackage && [...picked.values()].flat().length < files) {
      list.push(c.file);
      picked.set(c.pkg, list);
    }
  }
  const out: Scored[] = [];
  for (const [pkg, chosen] of picked) {
    const all = listFiles([path.join(dir, pkg)]);
    const ids = all.map((f) => rt.tokenizer.encode(fs.readFileSync(f, 'utf8')));
    const index = SuffixIndex.build(ids);
    for (const file of chosen) {
      const k = all.indexOf(file);
      const fileIds = ids[k]!.slice(0, maxTokens);
      if (fileIds.length < 64) continue;
      const text = fs.readFileSync(file, 'utf8');
      const s = await evaluateText(rt, text, { maxTokens, wholeFile: false, perToken: true });
      const per = s.perToken!;
      const cache = causalCacheProbs(fileIds, DEFAULT_NGRAM_PARAMS);
      const withCache = (bits: Float32Array): Float64Array =>
        Float64Array.from(bits, (b, j) => mixedBits(b, cache.p[j]!, cache.weight[j]!, j === 0));
      out.push({
        bytes: per.bytes,
        modes: {
          static: Float64Array.from(per.staticBits),
          static_cache: withCache(per.staticBits),
          adapted: Float64Array.from(per.adaptedBits!),
          adapted_cache: withCache(per.adaptedBits!),
        },
        matches: workspaceMatches(index, fileIds, DEFAULT_WORKSPACE_PARAMS.maxLength, index.documentSpan(k)),
      });
    }
    process.stderr.write(
      `[workspace] ${split} ${pkg}: ${chosen.length} files scored, index ${index.tokenCount} tokens\n`,
    );
  }
  return out;
}

/** Bits per byte of one mode over the files, optionally only tokens before or after EARLY. */
function bitsPerByte(
  scored: Scored[],
  mode: keyof Scored['modes'],
  params: WorkspaceNgramParams | undefined,
  part: 'all' | 'early' | 'late' = 'all',
): number {
  let bits = 0;
  let bytes = 0;
  for (const s of scored) {
    const from = part === 'late' ? EARLY : 0;
    const to = part === 'early' ? Math.min(EARLY, s.bytes.length) : s.bytes.length;
    if (from >= to) continue;
    const slice = s.modes[mode].subarray(from, to);
    const m: WorkspaceTokenMatches = {
      p: s.matches.p.subarray(from, to),
      length: s.matches.length.subarray(from, to),
      total: s.matches.total.subarray(from, to),
      top: s.matches.top.subarray(from, to),
    };
    bits += params ? mixWorkspaceBits(slice, m, params) : slice.reduce((a, b) => a + b, 0);
    for (let j = from; j < to; j++) bytes += s.bytes[j]!;
  }
  return bits / Math.max(1, bytes);
}

/** Coordinate search of the gate on `scored` (the valid split), for the mode the extension ships. */
function fitGate(scored: Scored[]): WorkspaceNgramParams {
  let best = { ...DEFAULT_WORKSPACE_PARAMS, gate: [...DEFAULT_WORKSPACE_PARAMS.gate] };
  let bestBits = bitsPerByte(scored, 'adapted_cache', best);
  const steps = [1, 0.1, 0.3, 1];
  for (let round = 0; round < 4; round++) {
    for (let g = 0; g < best.gate.length; g++) {
      for (const dir of [1, -1]) {
        for (;;) {
          const gate = [...best.gate];
          gate[g]! += (dir * steps[g]!) / (round + 1);
          const trial = { ...best, gate };
          const b = bitsPerByte(scored, 'adapted_cache', trial);
          if (b >= bestBits - 1e-6) break;
          best = trial;
          bestBits = b;
        }
      }
    }
  }
  return best;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, dflt: number): number => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args[at + 1]) : dflt;
  };
  const json = args.includes('--json');
  const maxTokens = arg('--max-tokens', 4096);
  const rt = await FastWeightsRuntime.load({
    modelDir: defaultModelDir(ROOT),
    provider: 'cpu',
    precision: 'int8',
  });
  const t0 = performance.now();
  const valid = await scoreSplit(rt, 'valid', arg('--valid-files', 40), maxTokens);
  const test = await scoreSplit(rt, 'test', arg('--test-files', 60), maxTokens);
  await rt.dispose();
  const params = fitGate(valid);
  const table: Record<string, Record<string, number>> = {};
  for (const [name, scored] of [
    ['valid', valid],
    ['test', test],
  ] as const) {
    for (const part of ['all', 'early', 'late'] as const) {
      const row: Record<string, number> = {};
      for (const mode of ['static', 'static_cache', 'adapted', 'adapted_cache'] as const) {
        row[mode] = bitsPerByte(scored, mode, undefined, part);
        row[`${mode}_workspace`] = bitsPerByte(scored, mode, params, part);
      }
      table[`${name}.${part}`] = row;
    }
  }
  const result = {
    files: { valid: valid.length, test: test.length },
    max_tokens: maxTokens,
    gate: params.gate.map((g) => Math.round(g * 1000) / 1000),
    bits_per_byte: table,
    seconds: Math.round((performance.now() - t0) / 1000),
    machine: machineInfo(),
  };
  if (json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const cols = Object.keys(table['test.all']!);
  console.log(`bits per byte (int8 graphs; gate fitted on valid: ${result.gate.join(', ')})`);
  console.log(`| rows | ${cols.join(' | ')} |`);
  for (const [row, v] of Object.entries(table))
    console.log(`| ${row} | ${cols.map((c) => v[c]!.toFixed(4)).join(' | ')} |`);
  console.log(
    `early: the first ${EARLY} tokens of each file; files: ${valid.length} valid, ${test.length} test`,
  );
  console.log(`machine: ${result.machine.cpus} x ${result.machine.cpu_model}; ${result.seconds} s`);
}

void main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
