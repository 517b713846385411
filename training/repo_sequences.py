"""Repository sequences: which files of a package come before a given file (issue 27, item 1).

The FWL head is to learn to carry a state from a repository's other files into the file being
written. A training (or evaluation) example is then a target file with a context: other files of its
package, related ones first, within a token budget. Related, in order:

    1. files the target imports (relative imports resolved to package paths),
    2. files that import the target,
    3. files in the target's folder,
    4. every other file, nearest folder first.

The state is carried in the order the context is listed reversed (least related first), so the most
related text is nearest the target, where the decayed state weighs it most.

    python training/repo_sequences.py data/corpus/valid.jsonl --budget 4096 [--limit 5]

prints, for a few targets, the context the rule picks. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable

# import x from './a'; export * from "../b"; require('./c'); import('./d')
JS_IMPORT = re.compile(
    r"""(?:from\s+|require\(\s*|import\(\s*|import\s+)['"](\.{1,2}/[^'"]+)['"]"""
)
# from .a import b; from ..pkg.mod import c; from . import d
PY_FROM = re.compile(r"^\s*from\s+(\.+)([\w.]*)\s+import\s+([\w, ()*]+)", re.M)
# from bleach.callbacks import x; import bleach.html5lib_shim
PY_ABSOLUTE = re.compile(
    r"^\s*(?:from\s+([A-Za-z_][\w.]*)\s+import|import\s+([A-Za-z_][\w.]*))", re.M
)
JS_EXTENSIONS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")


def js_imports(path: str, text: str, paths: set[str]) -> list[str]:
    """Package paths a JS/TS file imports by relative specifiers that resolve to one of `paths`."""
    out = []
    folder = posixpath.dirname(path)
    for spec in JS_IMPORT.findall(text):
        base = posixpath.normpath(posixpath.join(folder, spec))
        stem = re.sub(r"\.(m|c)?js$", "", base)  # TypeScript's "./a.js" names a.ts
        candidates = [
            base,
            *(stem + e for e in JS_EXTENSIONS),
            *(f"{base}/index{e}" for e in JS_EXTENSIONS),
        ]
        found = next((c for c in candidates if c in paths), None)
        if found and found != path and found not in out:
            out.append(found)
    return out


def py_imports(path: str, text: str, paths: set[str]) -> list[str]:
    """Package paths a Python file imports: relative (from .x import y) and absolute ones naming the
    package's own modules (from pkg.x import y, import pkg.x)."""
    out = []
    folder = posixpath.dirname(path)
    for dots, module, names in PY_FROM.findall(text):
        base = folder
        for _ in range(len(dots) - 1):
            base = posixpath.dirname(base)
        parts = [p for p in module.split(".") if p]
        targets = [posixpath.join(base, *parts)] if parts else []
        if not parts:  # from . import a, b: each name may be a module of the folder
            targets = [posixpath.join(base, n.strip("() ")) for n in names.split(",")]
        for t in targets:
            for c in (f"{t}.py", f"{t}/__init__.py"):
                if c in paths and c != path and c not in out:
                    out.append(c)
    modules = python_modules(paths)
    for a, b in PY_ABSOLUTE.findall(text):
        name = a or b
        while name and name not in modules:  # "import a.b.c" where c is a name in a/b.py
            name = name.rpartition(".")[0]
        found = modules.get(name)
        if found and found != path and found not in out:
            out.append(found)
    return out


def python_modules(paths: set[str]) -> dict[str, str]:
    """Dotted module name -> path of each Python file (a src/ layout counts from inside src/)."""
    out = {}
    for p in sorted(paths):
        if not p.endswith(".py"):
            continue
        stem = p[: -len(".py")].removesuffix("/__init__").removeprefix("src/")
        out.setdefault(stem.replace("/", "."), p)
    return out


def imports_of(path: str, text: str, paths: set[str]) -> list[str]:
    if path.endswith(".py"):
        return py_imports(path, text, paths)
    if path.endswith(JS_EXTENSIONS):
        return js_imports(path, text, paths)
    return []


def folder_distance(a: str, b: str) -> int:
    """Steps between the folders of two paths (0: the same folder)."""
    fa = [p for p in posixpath.dirname(a).split("/") if p]
    fb = [p for p in posixpath.dirname(b).split("/") if p]
    common = 0
    while common < min(len(fa), len(fb)) and fa[common] == fb[common]:
        common += 1
    return len(fa) - common + len(fb) - common


class Package:
    """One package's files (path -> text) and its import graph."""

    def __init__(self, files: dict[str, str]):
        self.files = files
        paths = set(files)
        self.imports = {p: imports_of(p, t, paths) for p, t in files.items()}
        self.imported_by: dict[str, list[str]] = defaultdict(list)
        for p in sorted(files):
            for q in self.imports[p]:
                self.imported_by[q].append(p)

    def related(self, target: str) -> list[str]:
        """Every other file of the package, most related first (see the module's rule)."""
        rank: dict[str, tuple[int, int, str]] = {}
        for p in self.files:
            if p == target:
                continue
            if p in self.imports[target]:
                tier = 0
            elif p in self.imported_by.get(target, ()):
                tier = 1
            elif posixpath.dirname(p) == posixpath.dirname(target):
                tier = 2
            else:
                tier = 3
            rank[p] = (tier, folder_distance(p, target), p)
        return sorted(rank, key=rank.__getitem__)

    def context(self, target: str, budget: int, length: Callable[[str], int]) -> list[str]:
        """The related files that fit in `budget` (measured by `length`), most related first."""
        out, used = [], 0
        for p in self.related(target):
            n = length(self.files[p])
            if used + n > budget:
                continue
            out.append(p)
            used += n
        return out


def packages_of(records: Iterable[dict]) -> dict[str, Package]:
    files: dict[str, dict[str, str]] = defaultdict(dict)
    for r in records:
        files[r["package"]][r["path"]] = r["text"]
    return {name: Package(f) for name, f in sorted(files.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("jsonl")
    ap.add_argument("--budget", type=int, default=4096, help="context size, in bytes / 3.5")
    ap.add_argument("--limit", type=int, default=5, help="targets shown per package")
    args = ap.parse_args(argv)
    with open(args.jsonl) as f:
        packages = packages_of(json.loads(line) for line in f if line.strip())
    for name, pkg in packages.items():
        edges = sum(len(v) for v in pkg.imports.values())
        print(f"{name}: {len(pkg.files)} files, {edges} import edges")
        for target in sorted(pkg.files)[: args.limit]:
            ctx = pkg.context(target, args.budget, lambda t: int(len(t.encode()) / 3.5))
            print(f"  {target} <- {', '.join(ctx[:6])}{' ...' if len(ctx) > 6 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
