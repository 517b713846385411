/**
 * Indexes about `target` tokens of held-out code (data/test-files and data/valid-files when fetched, else
 * the repository's own sources) as the worker does (tokenize file by file, then the suffix array), and
 * times lookups of the longest match before random positions, as a decoding step asks (issue 24).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FastWeightsRuntime } from '../src/runtime';
import { listFiles } from '../src/replay/regions';
import { SuffixIndex } from '../src/runtime/suffixIndex';
import { WorkspaceTokens, type WorkspaceFile } from '../src/runtime/workspaceTokens';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export async function measureWorkspaceIndex(rt: FastWeightsRuntime, root: string, target = 1_000_000) {
  const held = ['test-files', 'valid-files'].map((d) => path.join(root, 'data', d));
  let files = held.filter((d) => fs.existsSync(d)).flatMap((d) => listFiles([d]));
  const source =
    files.length > 0 ? 'data/test-files and data/valid-files' : "the repository's src/ and training/";
  if (files.length === 0) files = listFiles([path.join(root, 'src'), path.join(root, 'training')]);

  // Index: read and tokenize files until the target is reached (round after round when the files are fewer).
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  const docs: Uint16Array[] = [];
  const listed: WorkspaceFile[] = [];
  let tokens = 0;
  let read = 0;
  for (let round = 0; tokens < target; round++) {
    for (const f of files) {
      if (tokens >= target) break;
      const text = fs.readFileSync(f, 'utf8');
      listed.push({ uri: `${round}:${f}`, text });
      const ids = rt.tokenizer.encode(text);
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

  // The worker's rebuild after one file changed: the other files' ids are kept (workspaceTokens.ts).
  const kept = new WorkspaceTokens((t) => rt.tokenizer.encode(t));
  const now = (): Promise<void> => Promise.resolve();
  await kept.update(listed, now, () => false);
  listed[0] = { uri: listed[0]!.uri, text: `${listed[0]!.text}\n// changed\n` };
  const r0 = performance.now();
  SuffixIndex.build((await kept.update(listed, now, () => false))!);
  const reindexMs = performance.now() - r0;

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
  const result = {
    source,
    files_read: read,
    tokens: index.tokenCount,
    bytes_per_token: index.byteLength / index.tokenCount,
    index_mb: index.byteLength / 1048576,
    index_s: totalMs / 1000,
    tokenize_s: tokenizeMs / 1000,
    suffix_array_s: buildMs / 1000,
    reindex_one_changed_s: reindexMs / 1000,
    heap_growth_mb: (heapAfter - heapBefore) / 1048576,
    lookup_us: {
      p50: percentile(lookups, 50),
      p95: percentile(lookups, 95),
      p99: percentile(lookups, 99),
      max: lookups[lookups.length - 1],
    },
    match_tokens: { p50: percentile(lengths, 50), p95: percentile(lengths, 95) },
  };
  return { ...result, index };
}
