"""Held-out bits per byte: static (zero state), adapted (causal), adapted (whole file), unigram.

    python training/evaluate.py --checkpoint runs/fw-gpu/checkpoint.pt \
        --tokenizer data/tokenizer/tokenizer.json --corpus data/corpus --split test --json out.json

Files are scored chunk by chunk (chunk = the attention window) with the KV cache and an exactly
carried state, so files of any length are scored by the rule the runtime uses:
- static: the state is zero everywhere.
- adapted (causal): position t sees S_t = sum_{s<t} lambda^(t-1-s) c_s (the paper's setting).
- adapted (whole file): the causal state plus contributions from positions AFTER the scored chunk,
  weighted lambda^(s-t), skipping the next chunk: its hidden states attend to the scored chunk, so
  using them would leak the text being predicted. This is the editor's setting (text after the
  cursor is known).
Bits per byte = total NLL in bits / UTF-8 bytes of the scored tokens (the file's bytes).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import MODES, load_checkpoint  # noqa: E402
from model import STATE_NAMES, FastWeightsLM  # noqa: E402
from train import load_tokens  # noqa: E402

BUCKETS = ((0, 1000, "0-1k"), (1000, 4000, "1k-4k"), (4000, 10**9, "4k+"))


@torch.no_grad()
def score_tokens(
    model: FastWeightsLM,
    ids: list[int],
    chunk: int | None = None,
    future_weight: float = 1.0,
    repository: dict | None = None,
    repository_weight: float = 1.0,
) -> dict:
    """Per-token NLL (nats) of ids[1:] given the previous tokens, for each mode. ids[0] is bos.
    future_weight scales the whole-file mode's contributions from after the scored chunk.
    repository (repository.py's state of other files) adds the mode "fwl_workspace": the whole-file
    state plus repository_weight times it."""
    cfg = model.cfg
    chunk = chunk or cfg.attn_window
    lam = cfg.fwl_decay
    dev = next(model.parameters()).device  # CPU here, CUDA on a GPU machine (--device)
    x = torch.tensor(ids, dtype=torch.long, device=dev)[None]
    n = x.shape[1] - 1  # positions that predict a next token
    spans = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    if not cfg.fwl:
        return {"static": baseline_nll(model, x, spans)}
    arange = lambda a, b, **kw: torch.arange(a, b, device=dev, **kw)  # noqa: E731
    # Pass 1: hidden states with the KV cache, and each chunk's contributions in both directions.
    hiddens, fwd, back = [], [], []
    past_k = past_v = None
    for a, b in spans:
        pos = arange(a, b)[None]
        h, past_k, past_v = model.body(x[:, a:b], pos, past_k, past_v)
        keep = cfg.attn_window - 1
        past_k, past_v = past_k[:, :, :, -keep:], past_v[:, :, :, -keep:]
        hiddens.append(h)
        idx = arange(a, b, dtype=torch.float64)
        tgt = x[:, a + 1 : b + 1]
        fwd.append(model.state_contribution(h, tgt, (lam ** (b - 1 - idx)).float()[None]))
        back.append(model.state_contribution(h, tgt, (lam ** (idx - a)).float()[None]))
    # Suffix sums: future[j] = sum over chunks i >= j of lambda^(start_i - start_j) back[i].
    future = [None] * (len(spans) + 2)
    future[-1] = future[-2] = model.zero_state(dev)
    for j in range(len(spans) - 1, -1, -1):
        a, b = spans[j]
        future[j] = {k: back[j][k] + lam ** (b - a) * future[j + 1][k] for k in STATE_NAMES}
    nll = {m: [] for m in MODES}
    state = model.zero_state(dev)
    for j, (a, b) in enumerate(spans):
        h, tgt = hiddens[j], x[:, a + 1 : b + 1]
        ones = torch.ones(tgt.shape, device=dev)
        i = arange(0, b - a, dtype=torch.float64)
        past_coef = (lam**i).float()
        carried = {k: state[k][None] for k in STATE_NAMES}
        logits = {
            "static": model.slow_logits(h),
            "adapted": model.fast_chunk_logits(h, tgt, ones, carried, past_coef[None, None]),
        }
        # Whole file: chunk j+2 starts 2*chunk tokens after this chunk's start.
        gap = spans[j + 2][0] - a if j + 2 < len(spans) else 0
        both = {k: torch.stack((state[k], future[j + 2][k])) for k in STATE_NAMES}
        future_coef = (
            (future_weight * lam ** (gap - i)).float() if gap else torch.zeros(b - a, device=dev)
        )
        coef = torch.stack((past_coef, future_coef))[:, None]
        logits["adapted_whole_file"] = model.fast_chunk_logits(h, tgt, ones, both, coef)
        if repository is not None:
            three = {k: torch.cat((both[k], repository[k][None])) for k in STATE_NAMES}
            weight = torch.full((1, 1, b - a), repository_weight, device=dev)
            logits["fwl_workspace"] = model.fast_chunk_logits(
                h, tgt, ones, three, torch.cat((coef, weight))
            )
        for m in logits:
            nll.setdefault(m, []).append(
                torch.nn.functional.cross_entropy(logits[m][0], tgt[0], reduction="none")
            )
        state = {k: lam ** (b - a) * state[k] + fwd[j][k] for k in STATE_NAMES}
    return {m: torch.cat(v).double().cpu().numpy() for m, v in nll.items()}


def baseline_nll(model: FastWeightsLM, x: torch.Tensor, spans) -> np.ndarray:
    """The plain transformer (no FWL head): one mode only, scored the same way."""
    out, past_k, past_v = [], None, None
    for a, b in spans:
        pos = torch.arange(a, b, device=x.device)[None]
        h, past_k, past_v = model.body(x[:, a:b], pos, past_k, past_v)
        keep = model.cfg.attn_window - 1
        past_k, past_v = past_k[:, :, :, -keep:], past_v[:, :, :, -keep:]
        logits = model.slow_logits(h)[0]
        out.append(torch.nn.functional.cross_entropy(logits, x[0, a + 1 : b + 1], reduction="none"))
    return torch.cat(out).double().cpu().numpy()


def token_byte_lengths(tok: Tokenizer) -> np.ndarray:
    """UTF-8 bytes each token stands for (byte-level BPE: one vocab character per byte)."""
    vocab = tok.get_vocab()
    lengths = np.zeros(tok.get_vocab_size(), dtype=np.int64)
    for piece, i in vocab.items():
        lengths[i] = 0 if piece == "<|endoftext|>" else len(piece)
    return lengths


def unigram_nll(shards: Path, vocab_size: int) -> np.ndarray:
    """-ln p(token) from train-split token counts, add-one smoothed: the non-contextual baseline."""
    counts = np.bincount(load_tokens(shards, "train"), minlength=vocab_size) + 1.0
    return -np.log(counts / counts.sum())


def evaluate_files(model, tok, texts, unigram=None, min_tokens=0, max_tokens=None, log=print):
    bos = model.cfg.bos_token_id
    tok_bytes = token_byte_lengths(tok)
    modes = (MODES if model.cfg.fwl else ("static",)) + (
        ("unigram",) if unigram is not None else ()
    )
    total = {m: 0.0 for m in modes}
    per_bucket = {name: {m: 0.0 for m in modes} | {"bytes": 0, "tokens": 0} for *_, name in BUCKETS}
    n_files = n_tokens = n_bytes = 0
    per_file = []  # tokens, bytes and NLL (nats) per mode of every scored file, in order
    for text in texts:
        ids = tok.encode(text).ids
        if len(ids) < min_tokens:
            continue
        ids = ids[:max_tokens] if max_tokens else ids
        scored = score_tokens(model, [bos, *ids])
        if unigram is not None:
            scored["unigram"] = unigram[ids]
        lengths = tok_bytes[ids]
        assert max_tokens or lengths.sum() == len(text.encode()), "byte count mismatch"
        for m in modes:
            total[m] += scored[m].sum()
        for lo, hi, name in BUCKETS:
            sl = slice(lo, hi)
            bucket = per_bucket[name]
            bucket["bytes"] += int(lengths[sl].sum())
            bucket["tokens"] += len(lengths[sl])
            for m in modes:
                bucket[m] += scored[m][sl].sum()
        per_file.append(
            {"tokens": len(ids), "bytes": int(lengths.sum())}
            | {m: float(scored[m].sum()) for m in modes}
        )
        n_files += 1
        n_tokens += len(ids)
        n_bytes += int(lengths.sum())
        if log and n_files % 20 == 0:
            log(
                f"  {n_files} files, {n_tokens:,} tokens: "
                + ", ".join(f"{m} {total[m] / n_bytes / math.log(2):.4f}" for m in modes)
            )
    bpb = lambda nats, b: nats / max(b, 1) / math.log(2)  # noqa: E731
    result = {
        "files": n_files,
        "tokens": n_tokens,
        "bytes": n_bytes,
        **{m: {"bits_per_byte": bpb(total[m], n_bytes)} for m in modes},
        "by_position": {
            name: {"tokens": b["tokens"], "bytes": b["bytes"]}
            | {m: bpb(b[m], b["bytes"]) for m in modes}
            for name, b in per_bucket.items()
        },
        "per_file_nats": per_file,
    }
    if model.cfg.fwl and n_files:
        s, a = result["static"]["bits_per_byte"], result["adapted"]["bits_per_byte"]
        result["gain"] = {"bits_per_byte_pct": 100 * (s - a) / s}
    return result


def read_split(corpus: Path, split: str):
    with (corpus / f"{split}.jsonl").open() as f:
        for line in f:
            yield json.loads(line)["text"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--tokenizer", type=Path, default=Path("data/tokenizer/tokenizer.json"))
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--shards", type=Path, default=Path("data/shards"))
    p.add_argument("--split", default="valid", choices=("valid", "test"))
    p.add_argument("--min-tokens", type=int, default=0, help="skip shorter files")
    p.add_argument("--max-files", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu|cuda")
    p.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    model = load_checkpoint(args.checkpoint).to(args.device)
    tok = Tokenizer.from_file(str(args.tokenizer))
    unigram = unigram_nll(args.shards, tok.get_vocab_size())
    texts = read_split(args.corpus, args.split)
    if args.max_files:
        texts = (t for i, t in enumerate(texts) if i < args.max_files)
    result = evaluate_files(model, tok, texts, unigram, min_tokens=args.min_tokens)
    result["split"] = args.split
    print(json.dumps({k: v for k, v in result.items() if k != "per_file_nats"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
