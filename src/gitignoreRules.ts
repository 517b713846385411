/**
 * The workspace index leaves out what git ignores (issue 24): build output, vendored copies and generated
 * files listed in .gitignore are not the project's own code. The rules of each .gitignore apply below its
 * folder, and a deeper file's rule wins over a shallower one's, as in git. No editor API here: the
 * workspace feed hands in the files' text, and unit tests can check the rules.
 */
import ignore, { Ignore } from 'ignore';

export interface IgnoreFile {
  /** The folder of the .gitignore, relative to the workspace folder with '/' separators ('' at the top). */
  dir: string;
  text: string;
}

export class GitignoreRules {
  /** Shallowest first, so later (deeper) rules decide last. */
  private readonly levels: { dir: string; rules: Ignore }[];

  constructor(files: readonly IgnoreFile[]) {
    this.levels = files
      .map((f) => ({ dir: trimSlashes(f.dir), rules: ignore().add(f.text) }))
      .sort((a, b) => depth(a.dir) - depth(b.dir) || a.dir.localeCompare(b.dir));
  }

  get size(): number {
    return this.levels.length;
  }

  /** Whether git would ignore the file at `relPath` (relative to the workspace folder, '/' separators). */
  ignores(relPath: string): boolean {
    const file = trimSlashes(relPath);
    let ignored = false;
    for (const { dir, rules } of this.levels) {
      if (dir !== '' && !file.startsWith(`${dir}/`)) continue;
      const result = rules.test(dir === '' ? file : file.slice(dir.length + 1));
      if (result.ignored) ignored = true;
      else if (result.unignored) ignored = false;
    }
    return ignored;
  }
}

function trimSlashes(p: string): string {
  return p.replace(/^\/+|\/+$/g, '');
}

function depth(dir: string): number {
  return dir === '' ? 0 : dir.split('/').length;
}
