/**
 * Which text the replay types: held-out files, shuffled by a seed, and in each one region of whole lines
 * (the user rewrites that part of an existing file; the rest of the file is there around it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Region {
  file: string;
  languageId: string;
  /** Text before the region (ends with a newline or is empty). */
  before: string;
  /** The lines to type, without the newline after the last one. */
  text: string;
  /** Text after the region's last line (the newline between them is kept in the document). */
  after: string;
}

const LANGUAGES: Record<string, string> = {
  '.ts': 'typescript',
  '.tsx': 'typescriptreact',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascriptreact',
  '.py': 'python',
};

/** Source files under the given files and folders, in a stable order. */
export function listFiles(inputs: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) walk(path.join(p, name));
    } else if (LANGUAGES[path.extname(p)] !== undefined) {
      out.push(p);
    }
  };
  for (const input of inputs) walk(input);
  return out;
}

/** A small deterministic generator (mulberry32, shared with the evaluator), so a seed names a run. */
export { mulberry32 as seededRandom } from '../runtime/evaluate';

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * One region of about `chars` characters of whole lines, starting at a random non-blank line that is not
 * in the first tenth of the file (so there is context before it), or undefined for a file too small.
 */
export function pickRegion(
  file: string,
  text: string,
  chars: number,
  random: () => number,
): Region | undefined {
  const languageId = LANGUAGES[path.extname(file)];
  if (!languageId) return undefined;
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  if (lines.length < 20 || text.length < 4 * chars) return undefined;
  const candidates: number[] = [];
  for (let i = Math.floor(lines.length / 10); i < lines.length - 5; i++) {
    if (lines[i]!.trim().length > 0) candidates.push(i);
  }
  if (candidates.length === 0) return undefined;
  const first = candidates[Math.floor(random() * candidates.length)]!;
  let last = first;
  let size = lines[first]!.length;
  while (last + 1 < lines.length - 1 && size + 1 + lines[last + 1]!.length <= chars) {
    last++;
    size += 1 + lines[last]!.length;
  }
  return {
    file,
    languageId,
    before: lines
      .slice(0, first)
      .map((l) => l + '\n')
      .join(''),
    text: lines.slice(first, last + 1).join('\n'),
    after: lines.slice(last + 1).join('\n'),
  };
}
