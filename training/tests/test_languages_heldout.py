"""The filters that pick held-out files of other languages for the replay (languages_heldout.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from languages_heldout import is_shell_script, keep, language_of  # noqa: E402

BODY = ("line of code that is long enough\n" * 40).encode()


def test_language_by_extension_and_package():
    assert language_of("src/server.go", "go") == "go"
    assert language_of("include/zlib.h", "c") == "c"
    assert language_of("include/fmt/core.h", "cpp") == "cpp"
    assert language_of("include/x.h", "go") is None  # a header outside a C or C++ package
    assert language_of(".github/workflows/ci.yml", "rust") == "yaml"
    assert language_of("README.md", "go") == "markdown"
    assert language_of("CHANGELOG.md", "go") is None
    assert language_of("package-lock.json", "markdown") is None
    assert language_of("main.py", "go") is None  # a trained language is never held out here


def test_keep_filters_like_the_corpus():
    assert keep("lib/thor/base.rb", BODY, "ruby") == ("ruby", BODY.decode())
    assert keep("vendor/x/y.go", BODY, "go") is None
    assert keep("small.go", b"package x\n", "go") is None
    assert keep("a.go", b"\xff\xfe" + BODY, "go") is None
    assert keep("min.json", b'{"a":' + b"1," * 2000 + b"2}", "json") is None


def test_shell_scripts_without_an_extension():
    assert is_shell_script("bin/neofetch", b"#!/usr/bin/env bash\necho hi\n")
    assert is_shell_script("usr/bin/tool", b"#!/bin/sh\nset -e\n")
    assert is_shell_script("completions/git", b"_git() { :; }\n")
    assert not is_shell_script("bin/tool", b"#!/usr/bin/python3\n")
    assert not is_shell_script("run.sh", b"#!/bin/sh\n")  # has an extension: language_of decides
    assert (
        keep("usr/bin/neofetch", b"#!/usr/bin/env bash\n" + BODY, "shellscript")[0] == "shellscript"
    )
