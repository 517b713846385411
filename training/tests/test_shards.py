"""Shards: language-balanced train subsample, xz output that train.py reads, meta and tokenizer."""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import shards  # noqa: E402
import tokenizer as tokmod  # noqa: E402
import train  # noqa: E402


def test_balanced_order_interleaves_languages_by_size():
    langs = ["python"] * 6 + ["typescript"] * 2
    sizes = [10] * 8
    order = tokmod.balanced_order(langs, sizes, seed=0)
    assert sorted(order) == list(range(8))
    first4 = [langs[i] for i in order[:4]]
    assert first4.count("python") == 2 and first4.count("typescript") == 2
    assert order == tokmod.balanced_order(langs, sizes, seed=0)


def test_xz_shards_with_a_balanced_train_subsample(tmp_path):
    rows = [
        {
            "package": "p@1",
            "path": f"f{i}.py",
            "lang": "python",
            "text": f"def f{i}(x):\n    return x + {i}\n" * 20,
        }
        for i in range(30)
    ]
    rows += [
        {
            "package": "t@2",
            "path": f"a{i}.ts",
            "lang": "typescript",
            "text": f"const a{i}: number = {i};\n" * 20,
        }
        for i in range(5)
    ]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split, part in (("train", rows), ("valid", rows[:3]), ("test", rows[-3:])):
        (corpus / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    tok, trainer = tokmod.build(300)
    tok.train_from_iterator([r["text"] for r in rows], trainer)
    tok_path = tmp_path / "tokenizer.json"
    tok.save(str(tok_path))
    out = tmp_path / "shards"
    args = ["--corpus", str(corpus), "--tokenizer", str(tok_path), "--out", str(out), "--xz"]
    shards.main([*args, "--max-train-tokens", "3000", "--procs", "1"])
    meta = json.loads((out / "meta.json").read_text())
    tr = meta["splits"]["train"]
    assert tr["tokens"] <= 3000 and tr["files"] < tr["files_in_corpus"] == 35
    assert tr["tokens_by_lang"]["typescript"] == sum(
        1 + len(tok.encode(r["text"]).ids) for r in rows[30:]
    )  # the smaller language is taken whole
    assert (out / "tokenizer.json").read_bytes() == tok_path.read_bytes()
    tokens = train.load_tokens(out, "train")
    assert tokens.dtype == np.uint16 and len(tokens) == tr["tokens"]
    assert int((tokens == 0).sum()) == tr["files"]  # one bos per file
    listed = (out / "train.files.tsv").read_text().splitlines()
    assert len(listed) == tr["files"] and "t@2\ta4.ts" in listed  # the files taken, in shard order
    starts = np.flatnonzero(tokens == 0)
    first = listed[0].split("\t")[1]
    text = next(r["text"] for r in rows if r["path"] == first)
    assert tokens[starts[0] + 1 : starts[1]].tolist() == tok.encode(text).ids
