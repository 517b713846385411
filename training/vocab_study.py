"""Choose the vocabulary size by measurement: train byte-level BPE tokenizers of a few sizes on the
same train sample, then measure on the valid split

  - bytes per token (overall and per language): fewer tokens per file means fewer decode steps,
    a longer reach for the attention window and the fast-weight state, and more text per GPU-second;
  - the embedding/unembedding parameters (tied, V x d) against the body's;
  - the vocabulary-sized work per decoded token on CPU: logits (h U^T + c) and a log-softmax over V
    (the FWL head adds about as much again at run time for its local gradient g_logits U);

and optionally (--train-min) short equal-compute FWL training runs, one per size, compared in bits
per byte on the valid split.

    python training/vocab_study.py --corpus data/corpus --out data/vocab-study \
        --sizes 8192 16384 32768 --train-bytes 64000000 --tiny \
        --report training/vocab_study.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tokenizer as tokmod  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def train_tokenizer(corpus: Path, out: Path, size: int, train_bytes: int) -> Path:
    path = out / f"tokenizer-{size}.json"
    if path.exists():
        return path
    tok, trainer = tokmod.build(size)
    t0 = time.time()
    tok.train_from_iterator(
        tokmod.read_texts(corpus / "train.jsonl", train_bytes, "balanced"), trainer
    )
    assert tok.token_to_id(tokmod.BOS) == 0
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    print(f"tokenizer {size}: trained in {time.time() - t0:.0f}s", flush=True)
    return path


def bytes_per_token(tok: Tokenizer, corpus: Path, split: str = "valid") -> dict:
    by_lang: dict[str, list[int]] = {}
    with (corpus / f"{split}.jsonl").open() as f:
        rows = [json.loads(line) for line in f]
    encs = tok.encode_batch([r["text"] for r in rows])
    for r, e in zip(rows, encs, strict=True):
        acc = by_lang.setdefault(r["lang"], [0, 0])
        acc[0] += len(r["text"].encode())
        acc[1] += len(e.ids)
    total = [sum(v[0] for v in by_lang.values()), sum(v[1] for v in by_lang.values())]
    out = {lang: v[0] / v[1] for lang, v in sorted(by_lang.items())}
    out["all"] = total[0] / total[1]
    out["tokens"] = total[1]
    return out


def vocab_costs_us(sizes: list[int], d: int, rounds: int = 40, reps: int = 10) -> dict:
    """Median microseconds of CPU time (process time, so waiting for a busy machine's cores is not
    counted), one thread, for one decoded token's vocabulary-sized work: logits = h U^T + c, then
    log_softmax over V (fp32). The sizes are timed in interleaved rounds."""
    torch.set_num_threads(1)
    mats = {v: (torch.randn(v, d) * 0.02, torch.zeros(v)) for v in sizes}
    h = torch.randn(1, d)
    times: dict[int, list[float]] = {v: [] for v in sizes}
    with torch.no_grad():
        for _ in range(rounds):
            for v, (u, c) in mats.items():
                t0 = time.process_time()
                for _ in range(reps):
                    torch.log_softmax(torch.addmm(c, h, u.t()), dim=-1)
                times[v].append((time.process_time() - t0) / reps)
    return {v: float(np.median(t) * 1e6) for v, t in times.items()}


def body_params(d: int, n_layer: int) -> int:
    """Transformer body (attention + MLP, 12 d^2 per layer) plus the FWL head (8 d^2)."""
    return 12 * d * d * n_layer + 8 * d * d


def flops_per_token(vocab: int, d: int, n_layer: int) -> float:
    """Training FLOPs per token, roughly: 6 per body parameter, and the vocabulary-sized matmuls
    of the FWL model (slow logits, g_logits U, fast logits: 3 x 6 d V)."""
    return 6 * body_params(d, n_layer) + 18 * d * vocab


def tiny_run(study: Path, size: int, tok_path: Path, corpus: Path, args, flops: float) -> dict:
    """Shards of a train sample for this tokenizer, then a short FWL run with a fixed FLOP budget
    (so a larger vocabulary gets fewer tokens), scored on the valid split in bits per byte."""
    shards = study / f"shards-{size}"
    if not (shards / "valid.bin").exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "training" / "shards.py"),
                "--corpus",
                str(study / "corpus"),
                "--tokenizer",
                str(tok_path),
                "--out",
                str(shards),
                "--splits",
                "train",
                "valid",
            ],
            check=True,
        )
    d, n_layer, seq, batch = args.tiny_d, args.tiny_layers, 256, 8
    steps = int(flops / (flops_per_token(size, d, n_layer) * seq * batch))
    run = study / f"run-{size}"
    cmd = [
        sys.executable,
        str(ROOT / "training" / "train.py"),
        "--data",
        str(shards),
        "--out",
        str(run),
        "--device",
        "cpu",
        "--d-model",
        str(d),
        "--n-layer",
        str(n_layer),
        "--n-head",
        "2",
        "--attn-window",
        "128",
        "--seq-len",
        str(seq),
        "--batch",
        str(batch),
        "--lr",
        "3e-3",
        "--warmup-steps",
        "30",
        "--max-steps",
        str(steps),
        "--budget-min",
        "600",  # the step count ends the run and drives the schedule
        "--eval-every-min",
        "1000",
        "--ckpt-every-min",
        "1000",
        "--log-every",
        "50",
    ]
    t0 = time.time()
    subprocess.run(cmd, check=True)
    ckpt = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    last = ckpt["history"][-1]
    meta = json.loads((shards / "meta.json").read_text())
    bpt = meta["splits"]["valid"]["bytes_per_token"]
    return {
        "steps": steps,
        "tokens": ckpt["tokens_seen"],
        "bytes_seen": int(ckpt["tokens_seen"] * meta["splits"]["train"]["bytes_per_token"]),
        "wall_s": round(time.time() - t0, 1),
        "valid_bits_per_byte_static": last["valid_bits_per_token_static"] / bpt,
        "valid_bits_per_byte_adapted": last["valid_bits_per_token_adapted"] / bpt,
    }


def sample_corpus(corpus: Path, study: Path, train_bytes: int) -> None:
    """A fixed random sample of train files (for the tiny runs) and the full valid split."""
    out = study / "corpus"
    if (out / "valid.jsonl").exists():
        return
    out.mkdir(parents=True, exist_ok=True)
    texts = tokmod.read_texts(corpus / "train.jsonl", train_bytes, "balanced", seed=1)
    with (out / "train.jsonl").open("w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    (out / "valid.jsonl").write_bytes((corpus / "valid.jsonl").read_bytes())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--out", type=Path, default=Path("data/vocab-study"))
    p.add_argument("--sizes", type=int, nargs="+", default=[8192, 16384, 32768])
    p.add_argument("--train-bytes", type=int, default=64_000_000, help="tokenizer training text")
    p.add_argument("--tiny", action="store_true", help="also run the equal-compute tiny runs")
    p.add_argument("--tiny-d", type=int, default=128)
    p.add_argument("--tiny-layers", type=int, default=2)
    p.add_argument("--tiny-tokens-8k", type=int, default=1_000_000, help="8k run's tokens")
    p.add_argument("--report", type=Path, default=Path("training/vocab_study.json"))
    p.add_argument(
        "--compare",
        nargs="*",
        default=["v1-8192=data/tokenizer/tokenizer.json"],
        help="NAME=PATH: other tokenizers to measure bytes/token for (default: the shipped one)",
    )
    args = p.parse_args(argv)
    report = json.loads(args.report.read_text()) if args.report.exists() else {}
    report["setup"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    rows = report.setdefault("sizes", {})
    for size in args.sizes:
        tok_path = train_tokenizer(args.corpus, args.out, size, args.train_bytes)
        tok = Tokenizer.from_file(str(tok_path))
        row = rows.setdefault(str(size), {})
        row["valid_bytes_per_token"] = bytes_per_token(tok, args.corpus)
        print(size, json.dumps(row), flush=True)
        args.report.write_text(json.dumps(report, indent=1) + "\n")
    for spec in args.compare:
        name, path = spec.split("=", 1)
        tok = Tokenizer.from_file(path)
        rows[name] = {"path": path, "valid_bytes_per_token": bytes_per_token(tok, args.corpus)}
    for d, n_layer in ((256, 6), (384, 8)):
        costs = vocab_costs_us(args.sizes, d)
        base = costs[min(args.sizes)]
        for size in args.sizes:
            row = rows[str(size)]
            bpt = row["valid_bytes_per_token"]["all"]
            row[f"d{d}_L{n_layer}"] = {
                "embedding_params": size * d,
                "embedding_share": round(size * d / (size * d + body_params(d, n_layer)), 3),
                "train_flops_per_byte": round(flops_per_token(size, d, n_layer) / bpt),
                "cpu_vocab_us_per_token": round(costs[size], 1),
                "cpu_vocab_cost_per_byte_vs_smallest": round(
                    costs[size]
                    / bpt
                    / (base / rows[str(min(args.sizes))]["valid_bytes_per_token"]["all"]),
                    3,
                ),
            }
        print(d, json.dumps(costs), flush=True)
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    if args.tiny:
        sample_corpus(args.corpus, args.out, 24_000_000)
        flops = flops_per_token(8192, args.tiny_d, args.tiny_layers) * args.tiny_tokens_8k
        report["tiny_runs_flops"] = flops
        for size in args.sizes:
            tok_path = args.out / f"tokenizer-{size}.json"
            rows[str(size)]["tiny_run"] = tiny_run(
                args.out, size, tok_path, args.corpus, args, flops
            )
            print(size, json.dumps(rows[str(size)]["tiny_run"]), flush=True)
            args.report.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
