"""Train the byte-level BPE tokenizer on the train split and write its test vectors.

    python training/tokenizer.py --corpus data/corpus --out data/tokenizer --vocab-size 8192
    python training/tokenizer.py --corpus data/corpus --out data/tokenizer-16k --vocab-size 16384 \
        --pick balanced --train-bytes 64000000  # equal bytes per language, whole split

Writes tokenizer.json (Hugging Face format, read by the TypeScript runtime) and
tokenizer_test_vectors.json (text -> ids) that the runtime's tests must reproduce exactly.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

BOS = "<|endoftext|>"  # id 0: starts every file

# Hand-picked cases that trip tokenizers: whitespace runs, tabs, CRLF, unicode, the special token.
EDGE_CASES = [
    "",
    " ",
    "\n",
    "\t\tx = 1\r\n",
    "def add(a, b):\n    return a + b\n",
    "export function greet(name: string): string {\n  return `Hello, ${name}!`;\n}\n",
    "const π = 3.14159; // ünïcödé, 中文, emoji 🚀👩‍💻\n",
    "        deeply = indented  # eight spaces\n",
    "a\u00a0b\u200bc",  # non-breaking and zero-width spaces
    "if (x !== null && y >= 0) { z ||= [...arr, { k: 'v' }]; }",
    "<|endoftext|> inside a file",
    "''' docstring '''\n\"\"\"another\"\"\"\n",
    "0x1F 1e-9 1_000_000 .5",
    "   \n\n\n   trailing   ",
]


def balanced_order(langs: list[str], sizes: list[int], seed: int = 0) -> list[int]:
    """Indices of all items, interleaving languages so that each has had about the same size so
    far (until the smaller ones run out); a fixed random order within each language."""
    rng = random.Random(seed)
    by_lang: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        by_lang.setdefault(lang, []).append(i)
    for lang in sorted(by_lang):
        rng.shuffle(by_lang[lang])
    used = dict.fromkeys(by_lang, 0)
    pos = dict.fromkeys(by_lang, 0)
    order = []
    while True:
        live = [lang for lang in sorted(by_lang) if pos[lang] < len(by_lang[lang])]
        if not live:
            return order
        lang = min(live, key=lambda k: used[k])
        i = by_lang[lang][pos[lang]]
        pos[lang] += 1
        used[lang] += sizes[i]
        order.append(i)


def read_texts(path: Path, limit_bytes: int, pick: str = "first", seed: int = 0):
    """Texts of the split up to limit_bytes: the first files ("first", as the v1 tokenizer was
    trained), whole files in a fixed random order ("random"), or that with the languages
    interleaved to equal bytes ("balanced")."""
    used = 0
    with path.open() as f:
        if pick == "first":
            texts = (json.loads(line)["text"] for line in f)
        else:
            rows = [json.loads(line) for line in f]
            if pick == "random":
                order = random.Random(seed).sample(range(len(rows)), len(rows))
            else:
                sizes = [len(r["text"]) for r in rows]
                order = balanced_order([r["lang"] for r in rows], sizes, seed)
            texts = (rows[i]["text"] for i in order)
        for text in texts:
            used += len(text.encode())
            yield text
            if used >= limit_bytes:
                return


def build(vocab_size: int) -> tuple[Tokenizer, trainers.BpeTrainer]:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[BOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    return tok, trainer


def test_vectors(tok: Tokenizer, valid_path: Path, n_files: int = 12) -> list[dict]:
    """Edge cases plus the start of real files from the valid split (never the test split)."""
    texts = list(EDGE_CASES)
    with valid_path.open() as f:
        for i, line in enumerate(f):
            if i % 7 == 0:
                texts.append(json.loads(line)["text"][:1500])
            if len(texts) >= len(EDGE_CASES) + n_files:
                break
    return [{"text": t, "ids": tok.encode(t).ids} for t in texts]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--out", type=Path, default=Path("data/tokenizer"))
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--train-bytes", type=int, default=40_000_000, help="train-split bytes to use")
    p.add_argument(
        "--pick", choices=["first", "random", "balanced"], default="first", help="which files"
    )
    args = p.parse_args(argv)
    tok, trainer = build(args.vocab_size)
    texts = read_texts(args.corpus / "train.jsonl", args.train_bytes, args.pick)
    tok.train_from_iterator(texts, trainer)
    assert tok.token_to_id(BOS) == 0
    args.out.mkdir(parents=True, exist_ok=True)
    tok.save(str(args.out / "tokenizer.json"))
    vectors = test_vectors(tok, args.corpus / "valid.jsonl")
    for v in vectors:  # byte-level BPE is lossless
        assert tok.decode(v["ids"], skip_special_tokens=False) == v["text"], v["text"][:40]
    (args.out / "tokenizer_test_vectors.json").write_text(
        json.dumps(vectors, ensure_ascii=False, indent=1)
    )
    print(f"vocab {tok.get_vocab_size()}, {len(vectors)} test vectors -> {args.out}")


if __name__ == "__main__":
    main()
