/**
 * Large inputs for the benchmarks made of real code the model never saw: the corpus test split
 * (`data/test-files`, written by `python training/corpus.py files --split test`) when it has been fetched.
 * No file is repeated, so no chunk of the joined text meets a copy of itself in the chunk cache.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface HeldOutText {
  text: string;
  /** Where the text came from, for the benchmark's notes. */
  source: string;
  /** Files joined (the last one may be cut). */
  files: number;
}

/** The test-split files with one of `extensions`, in path order; empty when the split is not on disk. */
export function heldOutFiles(root: string, extensions: readonly string[]): string[] {
  const dir = path.join(root, 'data', 'test-files');
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => extensions.includes(path.extname(f)))
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * The first `lines` lines of the test-split files with one of `extensions`, joined in path order; undefined
 * when the split is not on disk or holds fewer lines.
 */
export function heldOutText(
  root: string,
  lines: number,
  extensions: readonly string[],
): HeldOutText | undefined {
  const out: string[] = [];
  let files = 0;
  for (const file of heldOutFiles(root, extensions)) {
    if (out.length >= lines) break;
    const text = fs.readFileSync(file, 'utf8');
    out.push(...(text.endsWith('\n') ? text.slice(0, -1) : text).split('\n'));
    files++;
  }
  if (out.length < lines) return undefined;
  return {
    text: out.slice(0, lines).join('\n') + '\n',
    source: `data/test-files (${files} ${extensions.join('/')} files of the test split, in path order)`,
    files,
  };
}

/** The first `count` files of DIR (ts, js, py; path order) of 12-40 KB: large enough for many chunks. */
export function mediumFiles(dir: string, count: number): string[] {
  const names = (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => /\.(ts|js|py)$/.test(f))
    .sort();
  const texts: string[] = [];
  for (const name of names) {
    if (texts.length >= count) break;
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    if (text.length > 12000 && text.length < 40000) texts.push(text);
  }
  return texts;
}

/** A seeded generator of integers below n (the same places on every run). */
export function seededRandom(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
}
