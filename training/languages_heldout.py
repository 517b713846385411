"""Held-out code of languages the model was not trained on, for the per-language replay (issue 26).

    python training/languages_heldout.py fetch   # into data/languages/<language>/<package>/...

Each package of training/languages_manifest.json comes from its own registry through that registry's
ordinary client: the Go module proxy (`go mod download`), crates.io (`cargo fetch`), Maven Central
(`mvn dependency:get`, the sources jar), Debian (`apt-get source` for the upstream tarball,
`apt-get download` for a package that ships its code as is) and npm (`npm pack`). The training
corpus's filters drop vendored, generated, minified, non-UTF-8 and out-of-size files; lock files,
changelogs and licences are left out. JSON, YAML and Markdown files are kept from every package.
data/languages/files.tsv lists every kept file with its sha256, so a run names what it measured.
Nothing here is trained on: the model's corpus is TypeScript, JavaScript and Python only.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import PurePosixPath

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus import check_text, is_fixture_path, is_generated_path, is_vendored_path  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(ROOT, "training", "languages_manifest.json")
OUT = os.path.join(ROOT, "data", "languages")

# VS Code language id by extension. A header (.h) belongs to the language of its package.
EXTENSIONS = {
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".cs": "csharp",
    ".c": "c",
    ".cpp": "cpp",
    ".cc": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".php": "php",
    ".rb": "ruby",
    ".sh": "shellscript",
    ".bash": "shellscript",
    ".json": "json",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".md": "markdown",
}
SKIPPED_NAMES = ("changelog", "history", "license", "licence", "copying", "notice", "authors")
LOCK_FILES = {"package-lock.json", "composer.lock", "cargo.lock", "yarn.lock", "pnpm-lock.yaml"}
MIN_BYTES, MAX_BYTES = 1_000, 200_000


def language_of(path: str, package_language: str) -> str | None:
    name = PurePosixPath(path).name.lower()
    suffix = PurePosixPath(name).suffix
    if suffix == ".h":
        return package_language if package_language in ("c", "cpp") else None
    language = EXTENSIONS.get(suffix)
    if language is None or name in LOCK_FILES or name.startswith(SKIPPED_NAMES):
        return None
    return language


def is_shell_script(path: str, data: bytes) -> bool:
    """A shell file without an extension: a sh/bash shebang, or a bash-completion script."""
    if PurePosixPath(path).suffix:
        return False
    if "/completions/" in f"/{path}":
        return True
    first = data[:120].split(b"\n", 1)[0]
    if not first.startswith(b"#!"):
        return False
    words = [w.split(b"/")[-1] for w in first[2:].split()]
    if words[:1] == [b"env"]:
        words = words[1:]
    return words[:1] in ([b"sh"], [b"bash"])


def keep(path: str, data: bytes, package_language: str) -> tuple[str, str] | None:
    """(language, text) for a file worth replaying, else None."""
    language = language_of(path, package_language)
    if language is None and package_language == "shellscript" and is_shell_script(path, data):
        language = "shellscript"
    if language is None or not MIN_BYTES <= len(data) <= MAX_BYTES:
        return None
    if is_vendored_path(path) or is_fixture_path(path) or is_generated_path(path, language):
        return None
    text, _ = check_text(data)
    return (language, text) if text is not None else None


def run(cmd: list[str], cwd: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, check=check, capture_output=True, text=True)


def fetch_go(pkg: dict, work: str) -> str:
    info = json.loads(
        run(["go", "mod", "download", "-json", f"{pkg['name']}@{pkg['version']}"]).stdout
    )
    return info["Dir"]


def fetch_cargo(pkg: dict, work: str) -> str:
    project = os.path.join(work, "cargo")
    os.makedirs(os.path.join(project, "src"), exist_ok=True)
    with open(os.path.join(project, "Cargo.toml"), "w") as f:
        f.write(
            '[package]\nname = "probe"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n'
        )
        f.write(f'{pkg["name"]} = "={pkg["version"]}"\n')
    open(os.path.join(project, "src", "lib.rs"), "w").close()
    run(["cargo", "fetch", "--quiet"], cwd=project)
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    found = glob.glob(os.path.join(home, "registry", "src", "*", f"{pkg['name']}-{pkg['version']}"))
    if found:
        return found[0]
    crate = glob.glob(
        os.path.join(home, "registry", "cache", "*", f"{pkg['name']}-{pkg['version']}.crate")
    )
    return crate[0]


def fetch_maven(pkg: dict, work: str) -> str:
    group, artifact = pkg["name"].split(":")
    run(
        [
            "mvn",
            "-q",
            "dependency:get",
            f"-Dartifact={pkg['name']}:{pkg['version']}:jar:sources",
            "-Dtransitive=false",
        ]
    )
    repo = os.path.expanduser("~/.m2/repository")
    return os.path.join(
        repo,
        *group.split("."),
        artifact,
        pkg["version"],
        f"{artifact}-{pkg['version']}-sources.jar",
    )


def fetch_deb_src(pkg: dict, work: str) -> str:
    # The upstream tarball is all that is read; Debian's own patches may be missing on the mirror.
    run(
        ["apt-get", "source", "--download-only", f"{pkg['name']}={pkg['version']}"],
        cwd=work,
        check=False,
    )
    found = glob.glob(os.path.join(work, f"{pkg['name']}_*.orig.tar.*"))
    if not found:
        raise RuntimeError(f"no upstream tarball for {pkg['name']} {pkg['version']}")
    return found[0]


def fetch_deb(pkg: dict, work: str) -> str:
    run(["apt-get", "download", f"{pkg['name']}={pkg['version']}"], cwd=work)
    deb = glob.glob(os.path.join(work, f"{pkg['name']}_*.deb"))[0]
    tree = os.path.join(work, "tree")
    run(["dpkg-deb", "-x", deb, tree])
    return tree


def fetch_npm(pkg: dict, work: str) -> str:
    out = run(
        ["npm", "pack", "--silent", f"{pkg['name']}@{pkg['version']}"], cwd=work
    ).stdout.split()
    return os.path.join(work, out[-1])


FETCHERS = {
    "go": fetch_go,
    "cargo": fetch_cargo,
    "maven": fetch_maven,
    "deb-src": fetch_deb_src,
    "deb": fetch_deb,
    "npm": fetch_npm,
}


def iter_files(source: str):
    """(relative path, bytes) of every regular file of a folder or an archive."""
    if os.path.isdir(source):
        for folder, _, names in os.walk(source):
            for name in sorted(names):
                full = os.path.join(folder, name)
                if os.path.isfile(full) and not os.path.islink(full):
                    with open(full, "rb") as f:
                        yield os.path.relpath(full, source).replace(os.sep, "/"), f.read()
    elif source.endswith((".jar", ".zip")):
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, zf.read(info)
    else:
        with tarfile.open(source, "r:*") as tf:
            for member in tf:
                if member.isfile():
                    yield member.name, tf.extractfile(member).read()


def safe_name(name: str) -> str:
    return name.replace("/", "_").replace(":", "_")


def fetch(manifest: str, out: str) -> int:
    packages = json.load(open(manifest))["packages"]
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    rows, seen, failed = [], set(), []
    for pkg in packages:
        with tempfile.TemporaryDirectory() as work:
            try:
                source = FETCHERS[pkg["client"]](pkg, work)
            except (subprocess.CalledProcessError, RuntimeError, IndexError, KeyError) as e:
                detail = (
                    e.stderr.strip()[-300:]
                    if isinstance(e, subprocess.CalledProcessError)
                    else str(e)
                )
                print(f"{pkg['name']} {pkg['version']}: not fetched ({detail})", file=sys.stderr)
                failed.append(pkg["name"])
                continue
            kept = 0
            for path, data in iter_files(source):
                got = keep(path, data, pkg["language"])
                if got is None:
                    continue
                language, text = got
                digest = hashlib.sha256(text.encode()).hexdigest()
                if digest in seen:
                    continue
                seen.add(digest)
                # The replay reads a language from the extension: a script without one gets .sh.
                stored = path.lstrip("/") + (".sh" if not PurePosixPath(path).suffix else "")
                dest = os.path.join(out, language, safe_name(pkg["name"]), stored)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with open(dest, "w", encoding="utf-8") as f:
                    f.write(text)
                rows.append(
                    (language, pkg["name"], pkg["version"], path, len(text.encode()), digest)
                )
                kept += 1
            print(
                f"{pkg['client']:7} {pkg['name']} {pkg['version']}: {kept} files", file=sys.stderr
            )
    rows.sort()
    with open(os.path.join(out, "files.tsv"), "w") as f:
        f.write("language\tpackage\tversion\tpath\tbytes\tsha256\n")
        f.writelines("\t".join(map(str, r)) + "\n" for r in rows)
    counts: dict[str, list[int]] = {}
    for r in rows:
        c = counts.setdefault(r[0], [0, 0])
        c[0] += 1
        c[1] += r[4]
    for language, (n, size) in sorted(counts.items()):
        print(f"{language:12} {n:5} files {size / 1e3:9.1f} kB", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("command", choices=["fetch"])
    ap.add_argument("--manifest", default=MANIFEST)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args(argv)
    return fetch(args.manifest, args.out)


if __name__ == "__main__":
    sys.exit(main())
