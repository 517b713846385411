/**
 * `npm run bench:chunks -- DIR [--edits 6] [--json]`: how far one-line edits reach into the chunk layout
 * (`layoutChunks`, the rule that decides which chunks an edit makes the state compute again). For each
 * TypeScript, JavaScript or Python file of DIR with at least 100 lines, `--edits` seeded lines get " // see
 * above" appended, and the chunks whose cache key (their tokens and the KEY_CONTEXT tokens before them)
 * changed are counted. Also the chunk sizes, in whole files and in 30-line windows (a small open file). Only
 * the tokenizer runs, no model: about half a minute on the valid split.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { BlockTokenizer, TokenizedText } from '../src/runtime/blockTokenizer';
import {
  DEFAULT_CHUNK_TOKENS as CHUNK_TOKENS,
  KEY_CONTEXT,
  layoutChunks,
} from '../src/runtime/documentState';
import { CodeTokenizer } from '../src/runtime/tokenizer';

const MAX_CHARS = 200_000; // the extension's input guards send at most 262,144 characters

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Share of `values` that pass `test`, to 3 decimals. */
function share(values: number[], test: (n: number) => boolean): number {
  return Math.round((1000 * values.filter(test).length) / Math.max(1, values.length)) / 1000;
}

function chunkKeys(tokenized: TokenizedText): Set<string> {
  const ids = [0, ...tokenized.ids];
  return new Set(
    layoutChunks(tokenized, CHUNK_TOKENS).map((c) =>
      ids.slice(Math.max(0, c.first - KEY_CONTEXT), c.end + 1).join(','),
    ),
  );
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { edits: { type: 'string', default: '6' }, json: { type: 'boolean', default: false } },
  });
  const dir = positionals[0];
  if (!dir) throw new Error('usage: npm run bench:chunks -- DIR [--edits N] [--json]');
  const root = path.resolve(__dirname, '..');
  const tokenizer = CodeTokenizer.fromFile(path.join(root, 'models', 'fw-code-small', 'tokenizer.json'));
  const names = (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => /\.(ts|tsx|js|py)$/.test(f))
    .sort();
  let seed = 7;
  const random = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const changed: number[] = [];
  let files = 0;
  let chunks = 0;
  let positions = 0;
  let windowChunks = 0;
  let windowPositions = 0;
  for (const name of names) {
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    const lines = text.split('\n');
    if (text.length > MAX_CHARS || lines.length < 100) continue;
    files++;
    const tokenized = new BlockTokenizer(tokenizer).tokenize(text);
    chunks += layoutChunks(tokenized, CHUNK_TOKENS).length;
    positions += tokenized.ids.length;
    const window = new BlockTokenizer(tokenizer).tokenize(lines.slice(40, 70).join('\n'));
    windowChunks += layoutChunks(window, CHUNK_TOKENS).length;
    windowPositions += window.ids.length;
    const before = chunkKeys(tokenized);
    for (let e = 0; e < Number(values.edits); e++) {
      const line = Math.floor(random() * lines.length);
      const edited = [...lines.slice(0, line), lines[line] + ' // see above', ...lines.slice(line + 1)].join(
        '\n',
      );
      const after = chunkKeys(new BlockTokenizer(tokenizer).tokenize(edited));
      changed.push([...after].filter((k) => !before.has(k)).length);
    }
  }
  const sorted = [...changed].sort((a, b) => a - b);
  const result = {
    files,
    edits: changed.length,
    chunks_changed_per_edit: {
      mean: Math.round((1000 * changed.reduce((a, b) => a + b, 0)) / Math.max(1, changed.length)) / 1000,
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? 0,
      share_over_1: share(changed, (n) => n > 1),
      share_over_2: share(changed, (n) => n > 2),
    },
    mean_chunk_positions: Math.round((10 * positions) / Math.max(1, chunks)) / 10,
    mean_chunk_positions_30_line_windows: Math.round((10 * windowPositions) / Math.max(1, windowChunks)) / 10,
  };
  if (values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const c = result.chunks_changed_per_edit;
  console.log(
    `${files} files, ${changed.length} one-line edits: chunks changed per edit mean ${c.mean}, p90 ${c.p90}, ` +
      `p99 ${c.p99}, max ${c.max}; more than one: ${(100 * c.share_over_1).toFixed(1)}%, more than two: ` +
      `${(100 * c.share_over_2).toFixed(1)}%\n` +
      `mean chunk: ${result.mean_chunk_positions} positions (30-line windows: ` +
      `${result.mean_chunk_positions_30_line_windows})`,
  );
}

main();
