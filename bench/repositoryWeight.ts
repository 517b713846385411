/**
 * `npm run bench:repository -- SPLIT_DIR [--weights 0,0.25,0.5,1,2] [--max-tokens 1024] [--files 12]
 * [--budget 16384] [--json]`: the repository state's weight (repositoryState.ts), fitted on a held-out split
 * whose folders are packages. Each package is a workspace (eval --workspace); up to --files of its code files
 * are scored (their first --max-tokens tokens) with the whole-file state plus w times the state of their
 * most related other files, alone (fwl) and with the file cache and the index (all). Tune on valid only.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { collectCodeFiles, DEFAULT_NGRAM_PARAMS, EvalWorkspace, evaluateText } from '../src/runtime';
import { loadCpuRuntime } from './scoring';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      weights: { type: 'string', default: '0,0.25,0.5,1,2' },
      'max-tokens': { type: 'string', default: '1024' },
      files: { type: 'string', default: '12' },
      budget: { type: 'string', default: '16384' },
      json: { type: 'boolean', default: false },
    },
  });
  const split = positionals[0];
  if (!split) throw new Error('usage: npm run bench:repository -- SPLIT_DIR [--weights ...]');
  const weights = values.weights.split(',').map(Number);
  const maxTokens = Number(values['max-tokens']);
  const rt = await loadCpuRuntime();
  const bits: Record<string, number> = {};
  const add = (key: string, x: number): void => void (bits[key] = (bits[key] ?? 0) + x);
  let bytes = 0;
  let scored = 0;
  const t0 = performance.now();
  for (const name of fs.readdirSync(split).sort()) {
    const dir = path.join(split, name);
    if (!fs.statSync(dir).isDirectory()) continue;
    const files = collectCodeFiles([dir]).sort();
    const texts = new Map(files.map((f) => [path.resolve(f), fs.readFileSync(f, 'utf8')] as const));
    const ws = EvalWorkspace.build(rt, path.resolve(dir), texts, { maxTokens: Number(values.budget) });
    // Files spread over the package (every k-th in path order), so one folder does not stand for it.
    const step = Math.max(1, Math.floor(files.length / Number(values.files)));
    for (const file of files.filter((_, i) => i % step === 0).slice(0, Number(values.files))) {
      const use = await ws.forFile(path.resolve(file));
      const workspace = {
        index: use.index,
        params: use.params,
        ...(use.exclude ? { exclude: use.exclude } : {}),
      };
      for (const w of weights) {
        const s = await evaluateText(rt, texts.get(path.resolve(file))!, {
          perToken: false,
          adapted: false,
          maxTokens,
          ngrams: DEFAULT_NGRAM_PARAMS,
          workspace,
          repository: { state: use.repository.state, weight: w },
        });
        if (w === weights[0]) {
          bytes += s.bytes;
          scored++;
          add('whole_file', s.wholeFileBits!);
          add('whole_file_cache', s.cacheBits!.wholeFile!);
        }
        add(`fwl_${w}`, s.repositoryBits!);
        add(`all_${w}`, s.workspaceBits!);
      }
    }
    console.error(
      `[repository] ${name}: ${scored} files so far (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  const bpb = Object.fromEntries(Object.entries(bits).map(([k, b]) => [k, b / bytes]));
  if (values.json) {
    console.log(
      JSON.stringify({ cpu: os.cpus()[0]?.model, files: scored, bytes, max_tokens: maxTokens, bpb }),
    );
    return;
  }
  console.log(`${os.cpus()[0]?.model}; ${scored} files, ${bytes} bytes, first ${maxTokens} tokens of each`);
  const base = bpb['whole_file']!;
  const cache = bpb['whole_file_cache']!;
  console.log(`whole file ${base.toFixed(4)}, + file cache ${cache.toFixed(4)} bits/byte`);
  for (const w of weights) {
    const f = bpb[`fwl_${w}`]!;
    const a = bpb[`all_${w}`]!;
    console.log(
      `w=${w}: file + repository ${f.toFixed(4)} (${(((f - base) / base) * 100).toFixed(2)}%), ` +
        `all ${a.toFixed(4)} (${(((a - cache) / cache) * 100).toFixed(2)}% vs file + cache)`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
