"""Resolve the corpus package NAMES below to pinned versions, archive URLs, checksums and licences,
and write training/corpus_manifest.json (read by training/corpus.py).

    python training/corpus_build_manifest.py            # keep pins already in the manifest
    python training/corpus_build_manifest.py --update   # re-resolve every package to its latest

npm: https://registry.npmjs.org/<name>/<version|latest> gives the tarball URL, dist.integrity
(sha512) and the declared licence. PyPI: https://pypi.org/pypi/<name>/json gives the sdist URL,
its sha256 and the licence (an older pinned version is looked up under "releases"; some PyPI
front ends answer with relative file URLs, which are rewritten to files.pythonhosted.org).
A list entry "name@version" pins that version (used where only older releases ship source).
Only the standard library is used.

Splits are by package GROUP (an npm scope, a family prefix like d3-, or a GROUPS entry, so that
sibling packages never straddle train and test), from a hash of SPLIT_SALT and the group: ~90/5/5
by count. The salt was picked once, by trying "fastweights-corpus-v<N>" for N = 1, 2, ... on the
extracted corpus, as the first whose valid and test splits each hold 4-6.5% of the bytes, 35-60%
of them Python, at least 15% TypeScript and 10% JavaScript, at least 3 packages of each language,
at least 5 files over 16 KB per language, and no package over 35% of the split. Changing the
package lists changes those numbers: check `python training/corpus.py stats` after a rebuild.
The split of every package is written into the manifest, which is what corpus.py reads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from corpus import split_of  # same directory: one implementation of the split rule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(ROOT, "training", "corpus_manifest.json")

SPLIT_SALT = "fastweights-corpus-v7158"
VALID_PCT = 5
TEST_PCT = 5

# Package families whose members share authors and code: a name starting with one of these
# prefixes is grouped under the prefix for splitting (npm scopes are grouped by scope anyway).
FAMILIES = ("d3-", "prosemirror-", "eslint", "django", "flask-")

# Other groups of related packages (same authors, one built on the other), by name.
# fmt: off
GROUPS = {
    "npm": {
        "redux": "redux", "react-redux": "redux", "@reduxjs/toolkit": "redux",
        "msw": "msw", "@mswjs/interceptors": "msw",
        "mongodb": "mongodb", "bson": "mongodb",
        "svelte": "svelte", "@sveltejs/kit": "svelte",
        "@jupyterlab/notebook": "jupyter", "@jupyterlab/apputils": "jupyter",
        "@jupyterlab/cells": "jupyter", "@lumino/widgets": "jupyter",
        "@deck.gl/core": "vis.gl", "@luma.gl/core": "vis.gl", "@math.gl/core": "vis.gl",
        "@loaders.gl/core": "vis.gl",
        "yjs": "yjs", "y-prosemirror": "yjs", "lib0": "yjs",
        "unified": "unified", "vfile": "unified", "mdast-util-to-markdown": "unified",
        "hast-util-to-html": "unified",
        "postcss": "postcss", "autoprefixer": "postcss",
        "pino": "fastify", "find-my-way": "fastify", "avvio": "fastify",
        "light-my-request": "fastify",
        "joi": "@hapi",
        "cheerio": "cheerio", "htmlparser2": "cheerio",
        "protobufjs": "protobufjs", "long": "protobufjs",
    },
    "pypi": {
        "flask": "pallets", "werkzeug": "pallets", "jinja2": "pallets", "click": "pallets",
        "httpx": "encode", "httpcore": "encode", "starlette": "encode", "uvicorn": "encode",
        "hypercorn": "pgjones", "quart": "pgjones",
        "pyflakes": "pycqa", "pycodestyle": "pycqa", "flake8": "pycqa",
        "attrs": "attrs", "cattrs": "attrs",
        "pytest": "pytest", "pluggy": "pytest",
        "pydantic": "pydantic", "pydantic-settings": "pydantic",
        "typer": "tiangolo", "sqlmodel": "tiangolo",
        "aiohttp": "aio-libs", "yarl": "aio-libs", "multidict": "aio-libs",
        "jedi": "jedi", "parso": "jedi",
        "djangorestframework": "django",
    },
}
# fmt: on

# Files of a package left out on top of the filters (fnmatch patterns on the path in the package),
# for build products that the generic filters cannot tell from source.
EXCLUDE = {
    "npm": {"terser": ["tools/domprops.js"]},  # a data list of DOM property names
    "pypi": {"rich": ["rich/_emoji_codes.py"]},  # a data table
}

# Licences the registry metadata does not declare, read from the LICENSE file in the archive.
LICENSE_OVERRIDES = {
    "npm": {},
    "pypi": {"peewee": "MIT (LICENSE file; no registry metadata)"},
}

# fmt: off
NPM_PACKAGES = [
    # TypeScript: packages that ship their src/
    "rxjs", "@reduxjs/toolkit", "redux", "react-redux", "immer", "mobx", "@tanstack/query-core",
    "@tanstack/react-query", "@tanstack/router-core", "@tanstack/react-router",
    "@tanstack/form-core", "@tanstack/virtual-core", "@tanstack/store", "@trpc/server",
    "@trpc/client", "@trpc/react-query", "msw", "@mswjs/interceptors", "prosemirror-model",
    "prosemirror-view", "prosemirror-transform", "prosemirror-state", "prosemirror-commands",
    "@tiptap/core", "@tiptap/extension-table", "@tiptap/extension-link", "@milkdown/core", "ajv",
    "mongodb", "bson", "hls.js", "pdf-lib", "@effect/platform", "true-myth", "wonka", "cheerio",
    "htmlparser2", "graphql-request", "@supabase/auth-js", "@supabase/postgrest-js",
    "@supabase/supabase-js", "@preact/signals-core", "@hookform/resolvers", "@grpc/grpc-js",
    "ethers", "@noble/hashes", "@noble/curves", "chevrotain", "@jupyterlab/notebook",
    "@jupyterlab/apputils", "@jupyterlab/cells", "@lumino/widgets", "@docusaurus/theme-classic",
    "@loopback/core", "@loopback/repository", "@loopback/rest", "@deck.gl/core",
    "@internationalized/date",
    # JavaScript: hand-written sources
    "eslint", "mongoose", "svelte", "terser", "knex", "leaflet", "mocha", "yjs", "y-prosemirror",
    "joi", "@hapi/hapi", "execa", "axios", "jquery", "luxon", "markdownlint", "postcss",
    "autoprefixer", "nunjucks", "bull", "webpack-dev-server", "preact", "jszip", "ws",
    "alpinejs", "commander", "enquirer", "handlebars", "busboy", "howler", "unified", "vfile",
    "mdast-util-to-markdown", "hast-util-to-html", "escodegen", "pg", "tweetnacl", "winston",
    "semver", "backbone", "@mdx-js/mdx", "node-fetch", "express", "mustache", "koa", "nearley",
    "js-yaml@3.14.1", "d3-array@2.12.1", "d3-scale@3.3.0", "d3-shape@2.1.0", "d3-geo@2.0.2",
    "d3-force@2.1.1", "d3-hierarchy@2.0.0", "simple-peer",
]

PYPI_PACKAGES = [
    "flask", "werkzeug", "jinja2", "click", "requests", "urllib3", "httpx", "h11", "starlette",
    "pydantic", "marshmallow", "attrs", "rich", "isort", "pyflakes", "pycodestyle", "parso",
    "yarl", "multidict", "beautifulsoup4", "bleach", "markdown", "mistune", "tomlkit", "pluggy",
    "sqlparse", "peewee", "toolz", "more-itertools", "arrow", "python-dateutil", "mako",
    "wtforms", "graphene", "uvicorn", "websockets", "pexpect", "fire", "simpy", "lark", "ply",
    "voluptuous", "jsonschema", "tqdm", "loguru", "structlog", "wrapt", "responses", "pyjwt",
    "einops", "typing-extensions", "nbformat", "feedparser", "mido", "tabulate", "prettytable",
    "humanize", "inflect", "funcy", "tenacity", "cachetools", "bottle", "django-filter",
    "python-dotenv", "emoji", "idna", "charset-normalizer", "hypercorn",
]
# fmt: on


def group_of(ecosystem: str, name: str) -> str:
    """Split group of a package: its listed group, its npm scope, its family prefix, or its name."""
    if name in GROUPS[ecosystem]:
        return f"{ecosystem}:{GROUPS[ecosystem][name]}"
    if name.startswith("@"):
        return f"{ecosystem}:{name.split('/')[0]}"
    for fam in FAMILIES:
        if name.startswith(fam):
            return f"{ecosystem}:{fam}"
    return f"{ecosystem}:{name}"


def get_json(url: str) -> dict:
    req = urllib.request.Request(url, headers={"User-Agent": "fastweights-corpus"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def short_license(value) -> str | None:
    """A one-line licence string from a registry field (string, {type}, or list of those)."""
    if isinstance(value, list):
        parts = [short_license(v) for v in value]
        parts = [p for p in parts if p]
        return " OR ".join(parts) if parts else None
    if isinstance(value, dict):
        value = value.get("type")
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or value.upper() == "UNKNOWN":
        return None
    first = value.splitlines()[0].strip()
    if len(value) > 80 or "\n" in value:
        return f"custom text: {first[:60]}" if first else None
    return value


def resolve_npm(name: str, version: str | None) -> dict:
    quoted = urllib.parse.quote(name, safe="@")
    doc = get_json(f"https://registry.npmjs.org/{quoted}/{version or 'latest'}")
    dist = doc["dist"]
    if not dist.get("integrity", "").startswith("sha512-"):
        raise ValueError(f"{name}: no sha512 integrity")
    return {
        "ecosystem": "npm",
        "name": name,
        "version": doc["version"],
        "url": dist["tarball"],
        "integrity": dist["integrity"],
        "license": short_license(doc.get("license") or doc.get("licenses")) or "UNKNOWN",
    }


def pypi_license(info: dict) -> str:
    """license_expression, else a short license field, else the License classifiers, else the
    first line of a licence text given in the license field."""
    lic = short_license(info.get("license_expression"))
    if lic:
        return lic
    field = short_license(info.get("license"))
    if field and not field.startswith("custom text") and "classifier" not in field.lower():
        return field
    classifiers = [c for c in info.get("classifiers") or [] if c.startswith("License ::")]
    classifiers = [c.split(" :: ")[-1] for c in classifiers if c.count("::") >= 2]
    if classifiers:
        return " OR ".join(classifiers)
    return field or "UNKNOWN"


def is_copyleft_only(lic: str) -> bool:
    """True when the declared licence is copyleft (GPL family) with no permissive alternative."""
    alts = [a.strip(" ()") for a in lic.replace(" or ", " OR ").split(" OR ")]
    return all("GPL" in a or "GNU" in a for a in alts)


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'name' or 'name@version' (npm scopes start with '@')."""
    at = spec.rfind("@")
    if at > 0:
        return spec[:at], spec[at + 1 :]
    return spec, None


def canonical_pypi_url(url: str) -> str:
    """Files URL as https://files.pythonhosted.org/packages/...; some PyPI front ends answer with a
    relative '../../packages/packages/...' path."""
    if url.startswith("https://"):
        return url
    rel = url
    while rel.startswith("../"):
        rel = rel[3:]
    rel = rel.removeprefix("packages/")
    if not rel.startswith("packages/"):
        raise ValueError(f"unexpected PyPI file URL {url!r}")
    return f"https://files.pythonhosted.org/{rel}"


def resolve_pypi(name: str, version: str | None) -> dict:
    doc = get_json(f"https://pypi.org/pypi/{name}/json")
    version = version or doc["info"]["version"]
    if version == doc["info"]["version"]:
        files = doc["urls"]
    else:  # a pinned older version: its files are listed under releases (licence from latest info)
        files = doc.get("releases", {}).get(version) or []
    sdists = [u for u in files if u["packagetype"] == "sdist" and not u.get("yanked")]
    if not sdists:
        raise ValueError(f"{name}: no sdist for {version}")
    sd = sdists[0]
    return {
        "ecosystem": "pypi",
        "name": name,
        "version": version,
        "url": canonical_pypi_url(sd["url"]),
        "sha256": sd["digests"]["sha256"],
        "license": pypi_license(doc["info"]),
    }


def resolve(ecosystem: str, name: str, version: str | None) -> dict:
    entry = (resolve_npm if ecosystem == "npm" else resolve_pypi)(name, version)
    group = group_of(ecosystem, name)
    entry["group"] = group
    entry["split"] = split_of(group, SPLIT_SALT, VALID_PCT, TEST_PCT)
    if entry["license"] == "UNKNOWN" and name in LICENSE_OVERRIDES[ecosystem]:
        entry["license"] = LICENSE_OVERRIDES[ecosystem][name]
    if name in EXCLUDE[ecosystem]:
        entry["exclude"] = EXCLUDE[ecosystem][name]
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--update", action="store_true", help="re-resolve pinned packages to latest")
    ap.add_argument("--out", default=MANIFEST)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args(argv)

    pinned = {}
    if os.path.exists(args.out) and not args.update:
        with open(args.out, encoding="utf-8") as f:
            for p in json.load(f)["packages"]:
                pinned[(p["ecosystem"], p["name"])] = p["version"]

    wanted = {}  # (ecosystem, name) -> version pinned in the list, if any
    for eco, specs in (("npm", NPM_PACKAGES), ("pypi", PYPI_PACKAGES)):
        for spec in specs:
            name, version = parse_spec(spec)
            if (eco, name) in wanted:
                raise SystemExit(f"duplicate package in the lists: {eco}:{name}")
            wanted[(eco, name)] = version
    entries, failures = [], []
    with ThreadPoolExecutor(max_workers=args.workers) as ex:
        futs = {k: ex.submit(resolve, k[0], k[1], v or pinned.get(k)) for k, v in wanted.items()}
        for k, fut in futs.items():
            try:
                entries.append(fut.result())
            except Exception as e:  # noqa: BLE001 - report and go on
                failures.append(f"{k[0]}:{k[1]}: {type(e).__name__}: {e}")
    entries.sort(key=lambda e: (e["ecosystem"], e["name"]))
    for e in entries:
        if is_copyleft_only(e["license"]) or e["license"] == "UNKNOWN":
            print(
                f"WARNING {e['ecosystem']}:{e['name']}: licence {e['license']!r}", file=sys.stderr
            )
    manifest = {
        "description": "FastWeights code corpus: pinned registry packages; see training/corpus.py",
        "split_rule": f"sha256('{SPLIT_SALT}:' + group) % 100: "
        f"<{100 - VALID_PCT - TEST_PCT} train, <{100 - TEST_PCT} valid, else test",
        "packages": entries,
    }
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    counts = {}
    for e in entries:
        counts[(e["split"], e["ecosystem"])] = counts.get((e["split"], e["ecosystem"]), 0) + 1
    print(
        f"wrote {args.out}: {len(entries)} packages; "
        + ", ".join(f"{s}/{e} {n}" for (s, e), n in sorted(counts.items()))
    )
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
