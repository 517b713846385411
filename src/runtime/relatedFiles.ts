/**
 * Which files of a repository are most related to one file: the rule of training/repo_sequences.py, so that
 * the repository state the runtime builds and the sequences the head is trained on pick the same context.
 * In order: the files it imports (relative imports resolved; Python's absolute ones when they name the
 * repository's own modules), the files that import it, its folder, then every other file, nearest folder
 * first. Paths are repository-relative with forward slashes.
 */
import * as posix from 'node:path/posix';

const JS_IMPORT = /(?:from\s+|require\(\s*|import\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g;
const PY_FROM = /^\s*from\s+(\.+)([\w.]*)\s+import\s+([\w, ()*]+)/gm;
const PY_ABSOLUTE = /^\s*(?:from\s+([A-Za-z_][\w.]*)\s+import|import\s+([A-Za-z_][\w.]*))/gm;
const JS_EXTENSIONS = ['.ts', '.tsx', '.js', '.jsx', '.mjs', '.cjs'];

function jsImports(path: string, text: string, paths: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const folder = posix.dirname(path);
  for (const [, spec] of text.matchAll(JS_IMPORT)) {
    const base = posix.normalize(posix.join(folder, spec!));
    const stem = base.replace(/\.(m|c)?js$/, ''); // TypeScript's "./a.js" names a.ts
    const candidates = [
      base,
      ...JS_EXTENSIONS.map((e) => stem + e),
      ...JS_EXTENSIONS.map((e) => `${base}/index${e}`),
    ];
    const found = candidates.find((c) => paths.has(c));
    if (found && found !== path && !out.includes(found)) out.push(found);
  }
  return out;
}

/** Dotted module name -> path of each Python file (a src/ layout counts from inside src/). */
function pythonModules(paths: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of [...paths].sort()) {
    if (!p.endsWith('.py')) continue;
    let stem = p.slice(0, -'.py'.length);
    if (stem.endsWith('/__init__')) stem = stem.slice(0, -'/__init__'.length);
    if (stem.startsWith('src/')) stem = stem.slice('src/'.length);
    const name = stem.replace(/\//g, '.');
    if (!out.has(name)) out.set(name, p);
  }
  return out;
}

function pyImports(
  path: string,
  text: string,
  paths: ReadonlySet<string>,
  modules: ReadonlyMap<string, string>,
): string[] {
  const out: string[] = [];
  const add = (p: string | undefined): void => {
    if (p && p !== path && !out.includes(p)) out.push(p);
  };
  const folder = posix.dirname(path);
  for (const [, dots, module, names] of text.matchAll(PY_FROM)) {
    let base = folder;
    for (let i = 0; i < dots!.length - 1; i++) base = posix.dirname(base);
    const parts = module!.split('.').filter(Boolean);
    // from . import a, b: each name may be a module of the folder
    const targets = parts.length
      ? [posix.join(base, ...parts)]
      : names!.split(',').map((n) => posix.join(base, n.replace(/[() ]/g, '')));
    for (const t of targets) for (const c of [`${t}.py`, `${t}/__init__.py`]) if (paths.has(c)) add(c);
  }
  for (const [, a, b] of text.matchAll(PY_ABSOLUTE)) {
    let name = a ?? b ?? '';
    // "import a.b.c" where c is a name in a/b.py
    while (name && !modules.has(name)) name = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
    add(modules.get(name));
  }
  return out;
}

/** Steps between the folders of two paths (0: the same folder). */
export function folderDistance(a: string, b: string): number {
  const fa = posix
    .dirname(a)
    .split('/')
    .filter((p) => p && p !== '.');
  const fb = posix
    .dirname(b)
    .split('/')
    .filter((p) => p && p !== '.');
  let common = 0;
  while (common < Math.min(fa.length, fb.length) && fa[common] === fb[common]) common++;
  return fa.length - common + (fb.length - common);
}

/** A repository's files (path -> text) and its import graph. */
export class RepositoryGraph {
  private readonly imports = new Map<string, string[]>();
  private readonly importedBy = new Map<string, string[]>();

  constructor(readonly files: ReadonlyMap<string, string>) {
    const paths = new Set(files.keys());
    const modules = pythonModules(paths);
    for (const [p, text] of files) {
      const found = p.endsWith('.py')
        ? pyImports(p, text, paths, modules)
        : JS_EXTENSIONS.some((e) => p.endsWith(e))
          ? jsImports(p, text, paths)
          : [];
      this.imports.set(p, found);
    }
    for (const p of [...paths].sort()) {
      for (const q of this.imports.get(p)!) {
        const list = this.importedBy.get(q) ?? [];
        list.push(p);
        this.importedBy.set(q, list);
      }
    }
  }

  importsOf(path: string): readonly string[] {
    return this.imports.get(path) ?? [];
  }

  /** Every other file, most related first (see the module's rule). */
  related(target: string): string[] {
    const imports = this.importsOf(target);
    const importers = this.importedBy.get(target) ?? [];
    const rank = new Map<string, [number, number]>();
    for (const p of this.files.keys()) {
      if (p === target) continue;
      const tier = imports.includes(p)
        ? 0
        : importers.includes(p)
          ? 1
          : posix.dirname(p) === posix.dirname(target)
            ? 2
            : 3;
      rank.set(p, [tier, folderDistance(p, target)]);
    }
    return [...rank.keys()].sort((a, b) => {
      const [ta, da] = rank.get(a)!;
      const [tb, db] = rank.get(b)!;
      return ta - tb || da - db || (a < b ? -1 : a > b ? 1 : 0);
    });
  }

  /** The related files that fit in `budget` (measured by `length`), most related first. */
  context(target: string, budget: number, length: (text: string) => number): string[] {
    const out: string[] = [];
    let used = 0;
    for (const p of this.related(target)) {
      const n = length(this.files.get(p)!);
      if (used + n > budget) continue;
      out.push(p);
      used += n;
    }
    return out;
  }
}
