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

v2 (issue 4) grew the corpus past 300 MB with FROZEN held-out splits: the valid and test packages
(and their pinned versions) stay exactly as in v1, because published scores are on them. With an
existing manifest, a package keeps its recorded split; a new package joins train, and a new package
whose group holds a valid/test package is refused. --update never moves a held-out pin. New
packages whose only licence is copyleft are left out. Some v2 npm packages turned out to ship only
compiled code: they stay pinned but contribute no files (data/corpus/stats.json lists them).
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
FAMILIES = ("d3-", "prosemirror-", "eslint", "django", "flask-", "vega")

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
        # v2 (issue 4)
        "fastify": "fastify", "fastify-plugin": "fastify", "@fastify/static": "fastify",
        "@fastify/cors": "fastify", "@fastify/websocket": "fastify",
        "@fastify/multipart": "fastify",
        "micromark": "unified", "micromark-core-commonmark": "unified",
        "mdast-util-from-markdown": "unified", "remark-parse": "unified",
        "remark-stringify": "unified", "rehype-parse": "unified",
        "hast-util-from-parse5": "unified",
        "effect": "@effect", "fp-ts": "gcanti", "io-ts": "gcanti", "monocle-ts": "gcanti",
        "vue": "vue", "vue-router": "vue", "vuex": "vue", "pinia": "vue", "@vueuse/core": "vue",
        "lit-html": "lit", "lit-element": "lit", "@lit/reactive-element": "lit",
        "@lit/task": "lit", "@lit/context": "lit", "solid-js": "solid", "@solidjs/router": "solid",
        "pg-protocol": "pg", "pg-pool": "pg", "acorn": "acorn", "acorn-walk": "acorn",
        "estraverse": "escodegen", "esutils": "escodegen", "esquery": "escodegen",
        "parse5": "cheerio", "domhandler": "cheerio", "domutils": "cheerio",
        "css-select": "cheerio", "css-what": "cheerio", "lodash-es": "lodash",
        "bn.js": "indutny", "elliptic": "indutny", "decimal.js": "mikemcl", "big.js": "mikemcl",
        "bignumber.js": "mikemcl", "fraction.js": "infusion", "complex.js": "infusion",
        "@codemirror/view": "codemirror", "@codemirror/state": "codemirror",
        "@codemirror/language": "codemirror", "@codemirror/autocomplete": "codemirror",
        "@codemirror/commands": "codemirror", "@codemirror/search": "codemirror",
        "@codemirror/lint": "codemirror", "@lezer/common": "codemirror", "@lezer/lr": "codemirror",
        "@lezer/javascript": "codemirror", "@lezer/python": "codemirror",
        "codemirror": "codemirror", "@scure/base": "@noble", "@scure/bip32": "@noble",
        "@scure/bip39": "@noble", "viem": "wevm", "ox": "wevm", "abitype": "wevm",
        "minimatch": "isaacs-glob", "glob": "isaacs-glob", "picomatch": "micromatch",
        "micromatch": "micromatch", "braces": "micromatch", "fill-range": "micromatch",
        "pug-lexer": "pug", "pug-parser": "pug", "pug-code-gen": "pug", "pug-runtime": "pug",
        "yargs-parser": "yargs", "optionator": "gkz", "levn": "gkz",
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
        # v2 (issue 4)
        "fastapi": "tiangolo", "pydantic-core": "pydantic",
        "flake8-bugbear": "pycqa", "mccabe": "pycqa", "pydocstyle": "pycqa", "bandit": "pycqa",
        "ipython": "jupyter", "ipykernel": "jupyter", "traitlets": "jupyter",
        "jupyter-client": "jupyter", "jupyter-server": "jupyter", "jupyterlab-server": "jupyter",
        "nbconvert": "jupyter", "notebook": "jupyter",
        "dask": "dask", "distributed": "dask", "jax": "jax", "flax": "jax", "optax": "jax",
        "transformers": "huggingface", "diffusers": "huggingface", "accelerate": "huggingface",
        "peft": "huggingface", "datasets": "huggingface", "evaluate": "huggingface",
        "trl": "huggingface", "timm": "huggingface",
        "langchain": "langchain", "langchain-core": "langchain",
        "opentelemetry-api": "opentelemetry", "opentelemetry-sdk": "opentelemetry",
        "poetry": "poetry", "poetry-core": "poetry",
        "pip": "pypa", "setuptools": "pypa", "virtualenv": "pypa",
        "sqlalchemy": "sqlalchemy", "alembic": "sqlalchemy", "celery": "celery", "kombu": "celery",
        "numba": "numba", "llvmlite": "numba", "panel": "holoviz", "holoviews": "holoviz",
        "param": "holoviz", "pymc": "pymc", "arviz": "pymc", "fabric": "pyinvoke",
        "invoke": "pyinvoke", "paramiko": "pyinvoke", "boto3": "aws", "botocore": "aws",
        "s3transfer": "aws", "hydra-core": "omegaconf", "omegaconf": "omegaconf",
        "motor": "pymongo", "pymongo": "pymongo", "numpy": "numpy", "scipy": "scipy",
        "pytest-asyncio": "pytest", "trio": "trio", "anyio": "anyio",
        "python-lsp-server": "python-lsp", "jedi-language-server": "jedi",
        "cookiecutter": "cookiecutter", "jinja2-time": "cookiecutter",
        "opensearch-py": "elasticsearch", "elasticsearch": "elasticsearch",
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
    "pypi": {
        "peewee": "MIT (LICENSE file; no registry metadata)",
        "pyglet": "BSD-3-Clause (LICENSE file; no registry metadata)",
        "cookiecutter": "BSD-3-Clause (LICENSE file; no registry metadata)",
        "huey": "MIT (LICENSE file; no registry metadata)",
    },
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
    # v2 (issue 4): train only (see FROZEN_SPLITS)
    "effect", "@effect/sql", "@effect/cli", "@effect/rpc", "@effect/experimental",
    "@effect/opentelemetry", "fp-ts", "io-ts", "monocle-ts", "zod", "@tanstack/table-core",
    "@tanstack/db", "@tanstack/query-persist-client-core", "@tanstack/history",
    "@tanstack/solid-query", "@tanstack/vue-query", "three", "phaser", "ol", "@cesium/engine",
    "@cesium/widgets", "maplibre-gl", "playcanvas", "aframe", "vega", "vega-lite",
    "vega-dataflow", "vega-scenegraph", "vega-view", "vega-parser", "vega-encode", "vega-util",
    "vega-scale", "vega-functions", "vega-expression", "vega-transforms", "vega-hierarchy",
    "vega-geo", "vega-force", "vega-label", "vega-statistics", "vega-loader", "vega-runtime",
    "vega-selections", "vega-event-selector", "vega-format", "vega-time", "vega-voronoi",
    "vega-wordcloud", "vega-regression", "vega-crossfilter", "vega-projection",
    "vega-view-transforms", "webpack", "stylelint", "jsdom", "undici", "sequelize", "mysql2",
    "nodemailer", "node-forge", "sinon", "chai", "karma", "blessed", "lodash", "lodash-es",
    "ramda", "moment", "core-js", "highlight.js", "codemirror@5.65.19", "jquery-ui", "exceljs",
    "fast-xml-parser", "@xmldom/xmldom", "markdown-it", "katex", "cytoscape", "two.js",
    "matter-js", "dashjs", "shaka-player", "selenium-webdriver", "natural", "compromise",
    "restify", "sails", "@node-red/runtime", "@node-red/nodes", "@node-red/registry",
    "@node-red/util", "@node-red/editor-api", "npm", "eslint-plugin-react", "eslint-plugin-import",
    "eslint-plugin-unicorn", "eslint-plugin-vue", "eslint-plugin-jsx-a11y", "eslint-plugin-n",
    "eslint-plugin-promise", "vue@2.7.16", "bootstrap", "foundation-sites", "crypto-js", "bn.js",
    "elliptic", "sax", "request", "superagent", "socket.io-parser", "engine.io-parser", "fastify",
    "pino", "find-my-way", "avvio", "light-my-request", "fastify-plugin", "@fastify/static",
    "@fastify/cors", "@fastify/websocket", "@fastify/multipart", "micromark",
    "micromark-core-commonmark", "mdast-util-from-markdown", "remark-parse", "remark-stringify",
    "rehype-parse", "hast-util-from-parse5", "@lezer/common", "@lezer/lr", "@lezer/javascript",
    "@lezer/python", "@codemirror/view", "@codemirror/state", "@codemirror/language",
    "@codemirror/autocomplete", "@codemirror/commands", "@codemirror/search", "@codemirror/lint",
    "ts-pattern", "neverthrow", "remeda", "@sinclair/typebox", "superstruct", "arktype",
    "inversify", "tsyringe", "typedi", "class-transformer", "@apollo/client", "graphql",
    "@graphql-tools/utils", "@graphql-tools/schema", "dataloader", "@opentelemetry/api",
    "@opentelemetry/core", "@opentelemetry/sdk-trace-base", "@opentelemetry/semantic-conventions",
    "@opentelemetry/instrumentation", "mathjs", "decimal.js", "big.js", "bignumber.js",
    "fraction.js", "complex.js", "acorn", "acorn-walk", "esquery", "estraverse", "esutils",
    "espree", "lit-html", "@lit/reactive-element", "lit-element", "@lit/task", "@lit/context",
    "@floating-ui/core", "@floating-ui/dom", "@vueuse/core", "pinia", "vue-router@3.6.5",
    "vuex@3.6.2", "solid-js", "@solidjs/router", "mithril", "hyperapp", "riot", "ollama",
    "pg-protocol", "pg-pool", "tedious", "oracledb", "redis-parser", "yargs-parser", "minimist",
    "optionator", "levn", "glob", "minimatch", "picomatch", "micromatch", "braces", "fill-range",
    "ejs", "pug-lexer", "pug-parser", "pug-code-gen", "pug-runtime", "eta", "liquidjs",
    "node-html-parser", "parse5", "domhandler", "domutils", "css-select", "css-what",
    "@tldraw/tlschema", "@tldraw/store", "@uppy/core",
    "@uppy/dashboard", "@uppy/utils", "@uppy/companion-client", "@uppy/tus", "@uppy/xhr-upload",
    "@uppy/aws-s3", "@scure/base", "@scure/bip32", "@scure/bip39", "viem", "ox", "abitype",
    "@solana/web3.js", "@blocknote/core",
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
    # v2 (issue 4): train only (see FROZEN_SPLITS)
    "sympy", "mpmath", "transformers", "diffusers", "accelerate", "peft", "datasets", "evaluate",
    "trl", "timm", "pandas", "numpy", "scipy", "matplotlib", "scikit-learn", "scikit-image",
    "statsmodels", "astropy", "networkx", "sqlalchemy", "alembic", "twisted",
    "salt", "django", "djangorestframework", "django-extensions", "sphinx", "docutils",
    "pygments", "mypy", "ipython", "tornado", "celery", "kombu", "scrapy",
    "sqlglot", "hypothesis", "dask", "distributed", "xarray", "cython", "nltk", "keras", "jax",
    "flax", "optax", "prefect", "dagster", "pyglet", "music21", "textual", "prompt-toolkit",
    "openpyxl", "xlsxwriter", "reportlab", "pymongo", "motor", "mongoengine", "botocore",
    "boto3", "s3transfer", "hydra-core", "omegaconf", "vispy", "bokeh", "pymc",
    "arviz", "shapely", "geopandas", "pyproj", "folium", "seaborn", "fastapi", "sqlmodel",
    "typer", "sanic", "falcon", "pyramid", "fabric", "invoke", "cryptography",
    "oauthlib", "authlib", "asyncpg", "redis", "pyyaml", "ruamel.yaml", "coverage",
    "tox", "nox", "virtualenv", "poetry", "poetry-core", "hatchling", "pdm", "pip", "setuptools",
    "black", "libcst", "numba", "llvmlite", "strawberry-graphql", "ariadne", "httpie", "aiohttp",
    "gunicorn", "waitress", "zope.interface", "impacket",
    "docker", "langchain-core", "langchain", "llama-index-core", "lightning", "torchmetrics",
    "optuna", "mlflow", "gradio", "panel", "holoviews", "param", "altair", "pillow", "imageio",
    "tifffile", "h5py", "zarr", "pint", "cvxpy", "pulp", "pyomo", "gymnasium",
    "stable-baselines3", "spacy", "textblob", "rapidfuzz", "babel", "pendulum",
    "sqlalchemy-utils", "marshmallow-sqlalchemy", "graphql-core", "trio", "anyio", "curio",
    "gevent", "eventlet", "greenlet", "kivy", "arcade", "pymunk", "sortedcontainers",
    "boltons", "pyrsistent", "cytoolz", "returns", "result", "jinja2-time", "cookiecutter",
    "copier", "pydantic-core", "pydantic-settings", "msgspec", "cattrs", "apscheduler", "rq",
    "huey", "luigi", "schedule", "watchdog", "psutil", "sh", "plumbum", "cmd2",
    "questionary", "docopt", "python-json-logger", "sentry-sdk", "opentelemetry-api",
    "opentelemetry-sdk", "prometheus-client", "statsd", "elasticsearch", "opensearch-py",
    "cassandra-driver", "pytest-asyncio", "requests-toolbelt", "requests-oauthlib", "httplib2",
    "google-auth", "jedi-language-server", "python-lsp-server", "pydocstyle", "pyupgrade",
    "autopep8", "yapf", "bandit", "radon", "vulture", "mccabe", "flake8-bugbear", "nbconvert",
    "jupyter-server", "jupyter-client", "notebook", "ipykernel", "traitlets", "jupyterlab-server",
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


def frozen_split(ecosystem: str, name: str, group: str, frozen: dict | None) -> str:
    if frozen is None:
        return split_of(group, SPLIT_SALT, VALID_PCT, TEST_PCT)
    if (ecosystem, name) in frozen["packages"]:
        return frozen["packages"][(ecosystem, name)]
    if group in frozen["held_out_groups"]:
        raise ValueError(f"new package in held-out group {group}: leave it out")
    return "train"


def load_frozen(path: str) -> dict:
    """Splits recorded in an existing manifest, and the groups of its valid/test packages."""
    with open(path, encoding="utf-8") as f:
        pkgs = json.load(f)["packages"]
    return {
        "packages": {(p["ecosystem"], p["name"]): p["split"] for p in pkgs},
        "held_out_groups": {p["group"] for p in pkgs if p["split"] != "train"},
    }


def resolve(ecosystem: str, name: str, version: str | None, frozen: dict | None = None) -> dict:
    """Registry entry of one package. frozen: the held-out splits already published (see
    FROZEN_SPLITS); with it, a package keeps its recorded split, a new package joins train, and a
    new package in a held-out group is refused."""
    entry = (resolve_npm if ecosystem == "npm" else resolve_pypi)(name, version)
    group = group_of(ecosystem, name)
    entry["group"] = group
    entry["split"] = frozen_split(ecosystem, name, group, frozen)
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

    frozen = load_frozen(args.out) if os.path.exists(args.out) else None
    pinned = {}
    if frozen:
        with open(args.out, encoding="utf-8") as f:
            for p in json.load(f)["packages"]:
                if not args.update or p["split"] != "train":  # held-out pins never move
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
        futs = {
            k: ex.submit(resolve, k[0], k[1], v or pinned.get(k), frozen) for k, v in wanted.items()
        }
        for k, fut in futs.items():
            try:
                entries.append(fut.result())
            except Exception as e:  # noqa: BLE001 - report and go on
                failures.append(f"{k[0]}:{k[1]}: {type(e).__name__}: {e}")
    known = frozen["packages"] if frozen else {}
    kept = []
    for e in entries:
        if is_copyleft_only(e["license"]) and (e["ecosystem"], e["name"]) not in known:
            failures.append(f"{e['ecosystem']}:{e['name']}: copyleft licence {e['license']!r}")
            continue
        if is_copyleft_only(e["license"]) or e["license"] == "UNKNOWN":
            print(
                f"WARNING {e['ecosystem']}:{e['name']}: licence {e['license']!r}", file=sys.stderr
            )
        kept.append(e)
    entries = sorted(kept, key=lambda e: (e["ecosystem"], e["name"]))
    manifest = {
        "description": "FastWeights code corpus: pinned registry packages; see training/corpus.py",
        "split_rule": f"v1: sha256('{SPLIT_SALT}:' + group) % 100: "
        f"<{100 - VALID_PCT - TEST_PCT} train, <{100 - TEST_PCT} valid, else test; "
        "v2: valid/test frozen as in v1, every later package is train and outside their groups",
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
