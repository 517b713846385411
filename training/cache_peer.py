"""Cache peer (Tu, Su & Devanbu 2014; Hellendoorn & Devanbu 2017): the file's own tokens so far,
as a unigram cache or an n-gram cache, interpolated with the static model:

    p(x) = (1 - w) p_model(x) + w p_cache(x)

- unigram cache: p_cache(x) = count of x among the file's earlier tokens / their number.
- n-gram cache: interpolated counts with back-off to the unigram cache (Witten-Bell style),
  p_k(x | c_k) = (count(c_k, x) + beta p_{k-1}(x)) / (count(c_k) + beta), for contexts c_k of
  the last k = 1..order-1 tokens, stopping at the first context never seen.
At the first token of a file the cache is empty and the model is used alone. Only the probability of
the token that occurs is needed, so the model's side is its per-token NLL.
"""

from __future__ import annotations

import numpy as np


def cache_probs(ids: list[int], order: int = 4, beta: float = 1.0) -> dict[str, np.ndarray]:
    """p_cache of ids[j] given ids[:j], for the unigram and the n-gram cache (0 at j = 0)."""
    n = len(ids)
    uni = np.zeros(n)
    ngram = np.zeros(n)
    unigram_counts: dict[int, int] = {}
    ctx_counts = [dict() for _ in range(order)]  # ctx_counts[k][ctx] = times ctx (k tokens) seen
    pair_counts = [dict() for _ in range(order)]  # pair_counts[k][(ctx, x)]
    for j, x in enumerate(ids):
        if j > 0:
            p = unigram_counts.get(x, 0) / j
            uni[j] = p
            for k in range(1, min(order - 1, j) + 1):
                ctx = tuple(ids[j - k : j])
                c = ctx_counts[k].get(ctx, 0)
                if c == 0:
                    break
                p = (pair_counts[k].get((ctx, x), 0) + beta * p) / (c + beta)
            ngram[j] = p
        unigram_counts[x] = unigram_counts.get(x, 0) + 1
        for k in range(1, min(order - 1, j) + 1):
            ctx = tuple(ids[j - k : j])
            ctx_counts[k][ctx] = ctx_counts[k].get(ctx, 0) + 1
            pair_counts[k][(ctx, x)] = pair_counts[k].get((ctx, x), 0) + 1
    return {"unigram_cache": uni, "ngram_cache": ngram}


def mix_nll(model_nll: np.ndarray, p_cache: np.ndarray, weight: float) -> np.ndarray:
    """NLL (nats) of the interpolation; where the cache is empty (first token) the model alone."""
    p = (1 - weight) * np.exp(-model_nll) + weight * p_cache
    p[0] = np.exp(-model_nll[0])
    return -np.log(np.maximum(p, 1e-300))


WEIGHTS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
BETAS = (0.1, 0.25, 0.5, 1.0, 2.0)


def tune(files: list[tuple[list[int], np.ndarray, int]], order: int = 4) -> dict:
    """Weight (and beta, n-gram) minimising the NLL of (ids, static_nll, bytes) files."""
    best = {}
    base = sum(float(nll.sum()) for _, nll, _ in files)
    nbytes = sum(b for *_, b in files)
    grid = []
    for beta in BETAS:
        probs = [cache_probs(ids, order, beta) for ids, _, _ in files]
        for kind in ("unigram_cache", "ngram_cache"):
            if kind == "unigram_cache" and beta != BETAS[0]:
                continue
            for w in WEIGHTS:
                total = sum(
                    float(mix_nll(nll, pr[kind], w).sum()) for (_, nll, _), pr in zip(files, probs)
                )
                grid.append(dict(kind=kind, weight=w, beta=beta, nats=total))
    for kind in ("unigram_cache", "ngram_cache"):
        rows = [g for g in grid if g["kind"] == kind]
        b = min(rows, key=lambda g: g["nats"])
        best[kind] = dict(
            weight=b["weight"],
            beta=b["beta"] if kind == "ngram_cache" else None,
            order=order if kind == "ngram_cache" else 1,
            valid_bits_per_byte=b["nats"] / nbytes / np.log(2),
        )
    best["valid_static_bits_per_byte"] = base / nbytes / np.log(2)
    best["grid"] = [
        {k: v for k, v in g.items() if k != "nats"}
        | {"bits_per_byte": g["nats"] / nbytes / np.log(2)}
        for g in grid
    ]
    return best
