/**
 * Which text the replay types: held-out files, shuffled by a seed, and in each one region of whole lines
 * (the user rewrites that part of an existing file; the rest of the file is there around it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TRAINED_LANGUAGES } from '../completion/languages';

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

/**
 * File extensions by VS Code language id: the trained languages, which the replay types by default, and
 * the others it can measure when `--languages` names them (issue 26). A C or C++ header (.h) goes to
 * whichever of the two is named first.
 */
const EXTENSIONS: Record<string, readonly string[]> = {
  typescript: ['.ts'],
  typescriptreact: ['.tsx'],
  javascript: ['.js', '.mjs', '.cjs'],
  javascriptreact: ['.jsx'],
  python: ['.py'],
  go: ['.go'],
  rust: ['.rs'],
  java: ['.java'],
  csharp: ['.cs'],
  c: ['.c', '.h'],
  cpp: ['.cpp', '.cc', '.cxx', '.hpp', '.h'],
  php: ['.php'],
  ruby: ['.rb'],
  shellscript: ['.sh', '.bash'],
  json: ['.json'],
  yaml: ['.yml', '.yaml'],
  markdown: ['.md'],
};

export const REPLAY_LANGUAGES: readonly string[] = Object.keys(EXTENSIONS);

/** The language id of each extension among the given languages. */
function languageByExtension(languages: readonly string[]): Map<string, string> {
  const byExtension = new Map<string, string>();
  for (const language of languages) {
    const extensions = EXTENSIONS[language];
    if (!extensions) throw new Error(`the replay does not know language "${language}"`);
    for (const ext of extensions) if (!byExtension.has(ext)) byExtension.set(ext, language);
  }
  return byExtension;
}

/** Source files of the given languages under the given files and folders, in a stable order. */
export function listFiles(inputs: string[], languages: readonly string[] = TRAINED_LANGUAGES): string[] {
  const byExtension = languageByExtension(languages);
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) walk(path.join(p, name));
    } else if (byExtension.has(path.extname(p))) {
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
  languages: readonly string[] = TRAINED_LANGUAGES,
): Region | undefined {
  const languageId = languageByExtension(languages).get(path.extname(file));
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
