"""Which files of a package come before a target file (repo_sequences.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from repo_sequences import Package, folder_distance, js_imports, py_imports  # noqa: E402

TS = {
    "src/index.ts": "export * from './store'\nexport { helper } from './util/helper.js'\n",
    "src/store.ts": "import { helper } from './util/helper'\nimport type { T } from '../types'\n",
    "src/util/helper.ts": "export const helper = 1\n",
    "src/util/other.ts": "export const other = 2\n",
    "src/view/index.tsx": "import { store } from '../store'\n",
    "types.ts": "export type T = number\n",
    "test/store.test.ts": "import { store } from '../src/store'\nconst x = require('./fixture')\n",
}


def test_relative_imports_resolve_to_package_paths():
    paths = set(TS)
    assert js_imports("src/index.ts", TS["src/index.ts"], paths) == [
        "src/store.ts",
        "src/util/helper.ts",
    ]
    assert js_imports("src/store.ts", TS["src/store.ts"], paths) == [
        "src/util/helper.ts",
        "types.ts",
    ]
    assert js_imports("test/store.test.ts", TS["test/store.test.ts"], paths) == ["src/store.ts"]
    assert js_imports("src/view/index.tsx", "import x from 'react'\n", paths) == []  # not relative
    py = {"pkg/__init__.py": "", "pkg/lex.py": "", "pkg/sub/yacc.py": "", "pkg/sub/util.py": ""}
    text = "from ..lex import Lexer\nfrom . import util\nfrom .missing import x\n"
    assert py_imports("pkg/sub/yacc.py", text, set(py)) == ["pkg/lex.py", "pkg/sub/util.py"]
    assert (
        py_imports("pkg/lex.py", "from . import sub\n", set(py)) == []
    )  # a folder without __init__


def test_related_files_come_in_the_rule_s_order():
    pkg = Package(TS)
    related = pkg.related("src/store.ts")
    # imported first, then the importers, then the same folder, then by folder distance
    assert related[:2] == ["src/util/helper.ts", "types.ts"]
    assert related[2:5] == ["src/index.ts", "src/view/index.tsx", "test/store.test.ts"]
    assert set(related) == set(TS) - {"src/store.ts"}
    assert pkg.imported_by["src/store.ts"] == [
        "src/index.ts",
        "src/view/index.tsx",
        "test/store.test.ts",
    ]


def test_context_fits_the_budget_and_skips_what_does_not_fit():
    pkg = Package(TS)
    length = len
    ctx = pkg.context("src/store.ts", 60, length)
    assert sum(len(TS[p]) for p in ctx) <= 60
    assert ctx[0] == "src/util/helper.ts"
    assert pkg.context("src/store.ts", 0, length) == []


def test_folder_distance():
    assert folder_distance("a/b/x.ts", "a/b/y.ts") == 0
    assert folder_distance("a/b/x.ts", "a/c/y.ts") == 2
    assert folder_distance("x.ts", "a/b/y.ts") == 2
