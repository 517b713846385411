"""Pre-tokenise the corpus splits into flat uint16 token files for training.

    python training/shards.py --corpus data/corpus --tokenizer data/tokenizer/tokenizer.json \
        --out data/shards

Each file becomes [bos] + its tokens; files are concatenated in corpus order. Small enough to copy
to a GPU machine (tens of MB). meta.json records the tokenizer's hash, pairing shards and tokenizer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

SPLITS = ("train", "valid", "test")


def encode_split(tok: Tokenizer, path: Path, bos: int, batch: int = 512):
    docs, n_bytes = [], 0
    with path.open() as f:
        rows = [json.loads(line)["text"] for line in f]
    for i in range(0, len(rows), batch):
        texts = rows[i : i + batch]
        n_bytes += sum(len(t.encode()) for t in texts)
        for enc in tok.encode_batch(texts):
            docs.append(np.array([bos, *enc.ids], dtype=np.uint16))
    return docs, n_bytes


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--tokenizer", type=Path, default=Path("data/tokenizer/tokenizer.json"))
    p.add_argument("--out", type=Path, default=Path("data/shards"))
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
    for split in SPLITS:
        docs, n_bytes = encode_split(tok, args.corpus / f"{split}.jsonl", bos)
        flat = np.concatenate(docs)
        flat.tofile(args.out / f"{split}.bin")
        meta["splits"][split] = {
            "files": len(docs),
            "tokens": int(flat.size),
            "bytes": n_bytes,
            "bytes_per_token": n_bytes / max(1, flat.size - len(docs)),
        }
        print(f"{split}: {len(docs)} files, {flat.size:,} tokens, {n_bytes:,} bytes")
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
