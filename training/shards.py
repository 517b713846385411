"""Pre-tokenise the corpus splits into flat uint16 token files for training.

    python training/shards.py --corpus data/corpus --tokenizer data/tokenizer/tokenizer.json \
        --out data/shards
    # to carry to a GPU machine (64 MiB limit): xz-compressed, train capped at N tokens
    python training/shards.py ... --out data/shards-gpu --xz --max-train-tokens 60000000

Each file becomes [bos] + its tokens; files are concatenated in corpus order. With --xz the
streams are written as {split}.bin.xz (train.py reads either). --max-train-tokens keeps a
deterministic subset of whole train files (in corpus order) up to that many tokens, with the
languages balanced: equal bytes per language until the smaller ones run out (the v2 corpus is
mostly Python; the product serves TypeScript, JavaScript and Python alike). Only the files taken
are tokenised.
{split}.files.tsv lists the files taken (package and path, in shard order): the exact training
manifest when a subset is taken. meta.json records the tokenizer's hash, pairing shards and
tokenizer, and a copy of the tokenizer travels with the shards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tokenizer import balanced_order  # noqa: E402

SPLITS = ("train", "valid", "test")
XZ_CHUNK = 16 << 20  # bytes per independently compressed xz stream (streams concatenate)


def read_rows(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f]


def encode_rows(tok: Tokenizer, rows: list[dict], bos: int, batch: int = 512, max_tokens: int = 0):
    """[bos] + ids per file, in the order given; with max_tokens, stop once that many are
    reached (whole files only). Returns the indices encoded and their token arrays."""
    keep, docs, total = [], [], 0
    for i in range(0, len(rows), batch):
        part = rows[i : i + batch]
        for j, enc in enumerate(tok.encode_batch([r["text"] for r in part])):
            doc = np.array([bos, *enc.ids], dtype=np.uint16)
            if max_tokens and total + len(doc) > max_tokens:
                continue
            keep.append(i + j)
            docs.append(doc)
            total += len(doc)
        if max_tokens and total >= max_tokens * 0.999:
            break
    return keep, docs


def encode_split(tok: Tokenizer, path: Path, bos: int, max_tokens: int = 0):
    """Token arrays, UTF-8 bytes and languages of a split's files, in corpus order. With
    max_tokens, files are taken with the languages interleaved to equal bytes (a fixed random
    order within each) until that many tokens, then put back in corpus order."""
    rows = read_rows(path)
    n_files = len(rows)
    if max_tokens:
        order = balanced_order([r.get("lang", "?") for r in rows], [len(r["text"]) for r in rows])
        picked = [rows[i] for i in order]
        keep, docs = encode_rows(tok, picked, bos, max_tokens=max_tokens)
        pairs = sorted(zip((order[k] for k in keep), docs, strict=True), key=lambda p: p[0])
        rows = [rows[i] for i, _ in pairs]
        docs = [d for _, d in pairs]
    else:
        _, docs = encode_rows(tok, rows, bos)
    n_bytes = [len(r["text"].encode()) for r in rows]
    names = [f"{r.get('package', '?')}\t{r.get('path', '?')}" for r in rows]
    return docs, n_bytes, [r.get("lang", "?") for r in rows], n_files, names


def _compress(chunk: bytes) -> bytes:
    return lzma.compress(chunk, preset=6)


def write_xz(path: Path, data: bytes, procs: int) -> None:
    """xz in independent 16 MiB streams, compressed in parallel; lzma.decompress reads the
    concatenation as one."""
    chunks = [data[i : i + XZ_CHUNK] for i in range(0, len(data), XZ_CHUNK)]
    with ProcessPoolExecutor(procs) as ex:
        parts = list(ex.map(_compress, chunks))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(parts))
    tmp.replace(path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--tokenizer", type=Path, default=Path("data/tokenizer/tokenizer.json"))
    p.add_argument("--out", type=Path, default=Path("data/shards"))
    p.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    p.add_argument("--xz", action="store_true", help="write {split}.bin.xz instead of .bin")
    p.add_argument("--max-train-tokens", type=int, default=0, help="0: all train files")
    p.add_argument("--procs", type=int, default=2, help="xz compression processes")
    args = p.parse_args(argv)
    tok = Tokenizer.from_file(str(args.tokenizer))
    assert tok.get_vocab_size() <= 65536, "uint16 shards"
    bos = tok.token_to_id("<|endoftext|>")
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "vocab_size": tok.get_vocab_size(),
        "bos_token_id": bos,
        "tokenizer_sha256": hashlib.sha256(args.tokenizer.read_bytes()).hexdigest(),
        "splits": {},
    }
    meta_path = args.out / "meta.json"
    if meta_path.exists():  # keep the splits written by an earlier call with other --splits
        old = json.loads(meta_path.read_text())
        if old.get("tokenizer_sha256") == meta["tokenizer_sha256"]:
            meta["splits"] = old.get("splits", {})
    shutil.copyfile(args.tokenizer, args.out / "tokenizer.json")
    for split in args.splits:
        cap = args.max_train_tokens if split == "train" else 0
        docs, n_bytes, langs, n_files, names = encode_split(
            tok, args.corpus / f"{split}.jsonl", bos, cap
        )
        # The exact training manifest: which files of the corpus (package, path) the shard holds.
        (args.out / f"{split}.files.tsv").write_text("".join(n + "\n" for n in names))
        by_lang = {}
        for d, lang in zip(docs, langs, strict=True):
            by_lang[lang] = by_lang.get(lang, 0) + len(d)
        flat = np.concatenate(docs)
        if args.xz:
            write_xz(args.out / f"{split}.bin.xz", flat.tobytes(), args.procs)
        else:
            flat.tofile(args.out / f"{split}.bin")
        meta["splits"][split] = {
            "files": len(docs),
            "files_in_corpus": n_files,
            "tokens": int(flat.size),
            "bytes": sum(n_bytes),
            "bytes_per_token": sum(n_bytes) / max(1, flat.size - len(docs)),
            "format": "uint16.xz" if args.xz else "uint16",
            "tokens_by_lang": dict(sorted(by_lang.items())),
        }
        print(f"{split}: {len(docs)} files, {flat.size:,} tokens, {sum(n_bytes):,} bytes")
    meta_path.write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
