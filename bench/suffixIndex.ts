/**
 * The workspace n-gram index (src/runtime/suffixIndex.ts) against the targets of issue 24: at most 16 bytes
 * per indexed token, a 1M-token workspace indexed in at most 15 s on a 2-core machine (tokenizing included)
 * within 64 MB, a lookup per decoding step in at most 50 microseconds.
 *
 * The "workspace" is held-out code (data/test-files and data/valid-files when fetched, else the repository's
 * own sources), read and tokenized file by file as an indexer would.
 * Usage: npm run bench:index [-- --tokens N] [--json]
 */
import * as path from 'node:path';
import { defaultModelDir, FastWeightsRuntime } from '../src/runtime';
import { machineInfo } from './cpuFlags';
import { measureWorkspaceIndex } from './workspaceIndex';

const ROOT = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const at = args.indexOf('--tokens');
  const target = at >= 0 ? Number(args[at + 1]) : 1_000_000;
  const rt = await FastWeightsRuntime.load({ modelDir: defaultModelDir(ROOT), provider: 'cpu' });
  const { index: _index, ...measured } = await measureWorkspaceIndex(rt, ROOT, target);
  await rt.dispose();
  const result = { ...measured, machine: machineInfo() };
  if (json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(
    `indexed ${result.tokens} tokens of ${result.files_read} files (${result.source}) in ${result.index_s.toFixed(1)} s ` +
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
