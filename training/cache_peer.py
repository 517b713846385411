"""Cache peer (Tu, Su & Devanbu 2014; Hellendoorn & Devanbu 2017): the file's own tokens so far,
as a unigram cache or an n-gram cache, interpolated with the static model:

    p(x) = (1 - w) p_model(x) + w p_cache(x)

- unigram cache: p_cache(x) = count of x among the file's earlier tokens / their number.
- n-gram cache: interpolated counts with back-off to the unigram cache (Witten-Bell style),
  p_k(x | c_k) = (count(c_k, x) + beta p_{k-1}(x)) / (count(c_k) + beta), for contexts c_k of
  the last k = 1..order-1 tokens, stopping at the first context never seen.
At the first token of a file the cache is empty and the model is used alone. Only the probability of
the token that occurs is needed, so the model's side is its per-token NLL.

The extension mixes with a gate instead of a fixed w: w = sigmoid(theta . features), features of the
longest context matched (its length k, how often it was seen, the share of its most frequent next
token), fitted on the valid split (`fit_gate`); src/runtime/fileNgrams.ts computes the same.
"""

from __future__ import annotations

import numpy as np


def cache_probs(ids: list[int], order: int = 4, beta: float = 1.0) -> dict[str, np.ndarray]:
    """p_cache of ids[j] given ids[:j], for the unigram and the n-gram cache (0 at j = 0)."""
    uni = np.zeros(len(ids))
    unigram_counts: dict[int, int] = {}
    for j, x in enumerate(ids):
        if j > 0:
            uni[j] = unigram_counts.get(x, 0) / j
        unigram_counts[x] = unigram_counts.get(x, 0) + 1
    return {"unigram_cache": uni, "ngram_cache": cache_match(ids, order, beta)["p"]}


def cache_match(ids: list[int], order: int, beta: float) -> dict[str, np.ndarray]:
    """The n-gram cache's p of ids[j] given ids[:j] and the gate's features at each j: `order`
    (tokens of the longest context seen before), `count` (times seen; for no context, the tokens so
    far) and `top` (share of its most frequent continuation; 0 for no context)."""
    n = len(ids)
    p_out, k_out, c_out, top_out = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    unigram: dict[int, int] = {}
    follow: list[dict] = [dict() for _ in range(order)]  # follow[k][ctx] = {next token: count}
    for j, x in enumerate(ids):
        if j > 0:
            p = unigram.get(x, 0) / j
            k_out[j], c_out[j] = 0, j
            for k in range(1, min(order - 1, j) + 1):
                nxt = follow[k].get(tuple(ids[j - k : j]))
                if nxt is None:
                    break
                total = sum(nxt.values())
                p = (nxt.get(x, 0) + beta * p) / (total + beta)
                k_out[j], c_out[j], top_out[j] = k, total, max(nxt.values()) / total
            p_out[j] = p
        unigram[x] = unigram.get(x, 0) + 1
        for k in range(1, min(order - 1, j) + 1):
            nxt = follow[k].setdefault(tuple(ids[j - k : j]), {})
            nxt[x] = nxt.get(x, 0) + 1
    return dict(p=p_out, order=k_out, count=c_out, top=top_out)


def gate_features(m: dict[str, np.ndarray], order: int) -> np.ndarray:
    """[1, k / (order - 1), ln(1 + count), top, [k = order - 1] top] per token."""
    k, top = m["order"], m["top"]
    longest = (k == order - 1) * top
    return np.stack([np.ones_like(k), k / (order - 1), np.log1p(m["count"]), top, longest], 1)


def gate_weights(theta, m: dict[str, np.ndarray], order: int) -> np.ndarray:
    return 1 / (1 + np.exp(-(gate_features(m, order) @ np.asarray(theta, dtype=np.float64))))


def fit_gate(files: list[tuple[np.ndarray, dict[str, np.ndarray]]], order: int) -> list[float]:
    """Gate coefficients minimising the NLL of (model NLL, cache match) files (the first token
    excluded: the cache is empty there), by L-BFGS in float64."""
    import torch

    data = [
        (
            torch.tensor(np.exp(-nll[1:])),
            torch.tensor(m["p"][1:]),
            torch.tensor(gate_features(m, order)[1:]),
        )
        for nll, m in files
    ]
    theta = torch.tensor([-1.4, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = 0.0
        for p_model, p_cache, x in data:
            w = torch.sigmoid(x @ theta)
            loss = loss - torch.log((1 - w) * p_model + w * p_cache).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return [round(float(t), 3) for t in theta.detach()]


def mix_nll(model_nll: np.ndarray, p_cache: np.ndarray, weight) -> np.ndarray:
    """NLL (nats) of the interpolation (`weight`: one number or one per token); where the cache is
    empty (first token) the model alone."""
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
