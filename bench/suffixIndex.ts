/**
 * The workspace n-gram index (src/runtime/suffixIndex.ts) against the targets of issue 24: at most 16 bytes
 * per indexed token, a 1M-token workspace indexed in at most 15 s on a 2-core machine (tokenizing included)
 * within 64 MB, a lookup per decoding step in at most 50 microseconds.
 *
 * The "workspace" is held-out code (data/test-files and data/valid-files when fetched, else the repository's
 * own sources), read and tokenized file by file as an indexer would.
 * Usage: npm run bench:index [-- --tokens N] [--json]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultModelDir, FastWeightsRuntime } from '../src/runtime';
import { SuffixIndex } from '../src/runtime/suffixIndex';
import { machineInfo } from './cpuFlags';

const ROOT = path.resolve(__dirname, '..');
const SOURCE = /\.(ts|tsx|js|jsx|mjs|py)$/;

function listFiles(dir: string, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules') listFiles(p, out);
    else if (e.isFile() && SOURCE.test(e.name)) out.push(p);
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const at = args.indexOf('--tokens');
  const target = at >= 0 ? Number(args[at + 1]) : 1_000_000;
  const held = ['test-files', 'valid-files'].map((d) => path.join(ROOT, 'data', d));
  let files = held.flatMap((d) => listFiles(d));
  const source =
    files.length > 0 ? 'data/test-files and data/valid-files' : "the repository's src/ and training/";
  if (files.length === 0)
    files = [path.join(ROOT, 'src'), path.join(ROOT, 'training')].flatMap((d) => listFiles(d));
  const rt = await FastWeightsRuntime.load({ modelDir: defaultModelDir(ROOT), provider: 'cpu' });

  // Index: read and tokenize files until the target is reached (round after round when the files are fewer).
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  const docs: Uint16Array[] = [];
  let tokens = 0;
  let read = 0;
  for (let round = 0; tokens < target; round++) {
    for (const f of files) {
      if (tokens >= target) break;
      const ids = rt.tokenizer.encode(fs.readFileSync(f, 'utf8'));
      docs.push(Uint16Array.from(ids.slice(0, target - tokens)));
      tokens += Math.min(ids.length, target - tokens);
      read++;
    }
    if (round > 100) break;
  }
  const tokenizeMs = performance.now() - t0;
  const index = SuffixIndex.build(docs);
  const totalMs = performance.now() - t0;
  const buildMs = totalMs - tokenizeMs;
  gc?.(); // what stays: the index and the documents' id lists, not the tokenizer's garbage
  const heapAfter = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;

  // Lookups: the context before random positions of the indexed documents, as a decoding step asks.
  const lookups: number[] = [];
  const lengths: number[] = [];
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 0x100000000;
  for (let k = 0; k < 2000; k++) {
    const d = docs[Math.floor(rnd() * docs.length)]!;
    if (d.length < 2) continue;
    const end = 1 + Math.floor(rnd() * (d.length - 1));
    const context = d.subarray(Math.max(0, end - 64), end);
    const s = performance.now();
    const r = index.next(context);
    lookups.push((performance.now() - s) * 1000);
    lengths.push(r.length);
  }
  lookups.sort((a, b) => a - b);
  lengths.sort((a, b) => a - b);
  await rt.dispose();
  const result = {
    source,
    files_read: read,
    tokens: index.tokenCount,
    bytes_per_token: index.byteLength / index.tokenCount,
    index_mb: index.byteLength / 1048576,
    index_s: totalMs / 1000,
    tokenize_s: tokenizeMs / 1000,
    suffix_array_s: buildMs / 1000,
    heap_growth_mb: (heapAfter - heapBefore) / 1048576,
    lookup_us: {
      p50: percentile(lookups, 50),
      p95: percentile(lookups, 95),
      p99: percentile(lookups, 99),
      max: lookups[lookups.length - 1],
    },
    match_tokens: { p50: percentile(lengths, 50), p95: percentile(lengths, 95) },
    machine: machineInfo(),
  };
  if (json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(
    `indexed ${result.tokens} tokens of ${read} files (${source}) in ${result.index_s.toFixed(1)} s ` +
      `(tokenizing ${result.tokenize_s.toFixed(1)} s, suffix array ${result.suffix_array_s.toFixed(1)} s); ` +
      `${result.bytes_per_token.toFixed(1)} bytes per token, ${result.index_mb.toFixed(1)} MB ` +
      `(heap and buffers grew ${result.heap_growth_mb.toFixed(0)} MB after GC, the documents' id lists included)`,
  );
  console.log(
    `lookup of the longest match (context of up to 64 tokens): p50 ${result.lookup_us.p50.toFixed(1)} us, ` +
      `p95 ${result.lookup_us.p95.toFixed(1)} us, p99 ${result.lookup_us.p99.toFixed(1)} us, max ${result.lookup_us.max?.toFixed(1)} us; ` +
      `match length p50 ${result.match_tokens.p50}, p95 ${result.match_tokens.p95} tokens`,
  );
  console.log(
    `machine: ${result.machine.cpus} x ${result.machine.cpu_model} (${result.machine.cpu_flags.join(' ')})`,
  );
}

void main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
