"""Dynamic evaluation peer (Krause et al. 2018, 2019): real gradient steps on the model's weights
over the earlier segments of a file.

A file is read segment by segment (`segment` tokens, the body's KV cache carried across segments).
Each segment is first scored with the current weights, then its mean cross-entropy is
back-propagated through the whole network (body, head, embedding) and the weights take one step:

- SGD:  theta <- theta - lr * g + decay * (theta_0 - theta)
- RMS:  theta <- theta - lr * g / (sqrt(MS) + eps) + min(1, decay * RMS_norm) * (theta_0 - theta),
        MS = mean squared gradient of the same loss on training segments (computed once),
        RMS_norm = sqrt(MS) / mean(sqrt(MS)) over all parameters (Krause et al. 2018, eq. 9-10).
        eps = eps_scale * mean(sqrt(MS)): with eps ~ 0 the rarely-updated parameters (embedding
        rows of tokens absent from the MS sample) take huge steps and the model diverges (measured:
        lr 3e-5 gave 144 bits per byte on valid), so the denominator is floored at the mean RMS.

The weights go back to theta_0 at the start of each file. The model scored is the FWL model with the
state at zero (the static model), so its gain is comparable with the FWL adaptation gain.
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F
from model import FastWeightsLM


def _trim(t: torch.Tensor, keep: int) -> torch.Tensor:
    return t[:, :, :, -keep:].detach()


@torch.no_grad()
def static_nll(model: FastWeightsLM, ids: list[int], segment: int) -> np.ndarray:
    """The static model scored with the same segments and code path (the compute reference)."""
    dev = next(model.parameters()).device
    x = torch.tensor(ids, dtype=torch.long, device=dev)[None]
    n = x.shape[1] - 1
    out, past_k, past_v = [], None, None
    keep = model.cfg.attn_window - 1
    for a in range(0, n, segment):
        b = min(a + segment, n)
        pos = torch.arange(a, b, device=dev)[None]
        h, past_k, past_v = model.body(x[:, a:b], pos, past_k, past_v)
        past_k, past_v = _trim(past_k, keep), _trim(past_v, keep)
        out.append(F.cross_entropy(model.slow_logits(h)[0], x[0, a + 1 : b + 1], reduction="none"))
    return torch.cat(out).double().cpu().numpy()


def mean_square_grads(
    model: FastWeightsLM, seqs: list[list[int]], segment: int
) -> list[torch.Tensor]:
    """MS of the per-segment mean-loss gradient over training sequences (for the RMS rule)."""
    params = [p for p in model.parameters()]
    ms = [torch.zeros_like(p) for p in params]
    count = 0
    for ids in seqs:
        x = torch.tensor(ids, dtype=torch.long)[None]
        n = x.shape[1] - 1
        past_k = past_v = None
        keep = model.cfg.attn_window - 1
        for a in range(0, n, segment):
            b = min(a + segment, n)
            h, pk, pv = model.body(x[:, a:b], torch.arange(a, b)[None], past_k, past_v)
            past_k, past_v = _trim(pk, keep), _trim(pv, keep)
            loss = F.cross_entropy(model.slow_logits(h)[0], x[0, a + 1 : b + 1])
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for m, g in zip(ms, grads):
                if g is not None:
                    m += g * g
            count += 1
    return [m / max(count, 1) for m in ms]


def training_sequences(
    texts: list[str], tok, count: int, length: int, seed: int
) -> list[list[int]]:
    """`count` sequences of `length` tokens from seeded training files (bos + the file's start)."""
    rng = random.Random(seed)
    order = list(range(len(texts)))
    rng.shuffle(order)
    seqs = []
    for i in order:
        ids = tok.encode(texts[i]).ids
        if len(ids) >= length:
            seqs.append([0, *ids[:length]])
        if len(seqs) >= count:
            break
    return seqs


class DynamicEvaluator:
    def __init__(
        self,
        model: FastWeightsLM,
        method: str,
        lr: float,
        decay: float,
        segment: int = 128,
        ms: list[torch.Tensor] | None = None,
        eps_scale: float = 1.0,
    ):
        if method not in ("sgd", "rms"):
            raise ValueError(f"method must be sgd or rms, not {method!r}")
        if method == "rms" and ms is None:
            raise ValueError("the RMS rule needs the mean squared gradients (ms)")
        self.model, self.method, self.lr, self.decay, self.segment = (
            model,
            method,
            lr,
            decay,
            segment,
        )
        self.params = list(model.parameters())
        self.theta0 = [p.detach().clone() for p in self.params]
        if method == "rms":
            rms = [m.sqrt() for m in ms]
            mean_rms = torch.cat([r.flatten() for r in rms]).mean()
            self.denom = [r + eps_scale * mean_rms for r in rms]
            self.decay_rate = [(decay * r / mean_rms).clamp(max=1.0) for r in rms]

    @torch.no_grad()
    def reset(self):
        for p, p0 in zip(self.params, self.theta0):
            p.copy_(p0)

    @torch.no_grad()
    def _step(self, grads):
        for i, (p, g, p0) in enumerate(zip(self.params, grads, self.theta0)):
            if g is None:
                continue
            if self.method == "sgd":
                p.add_(g, alpha=-self.lr)
                if self.decay:
                    p.add_(p0 - p, alpha=self.decay)
            else:
                p.addcdiv_(g, self.denom[i], value=-self.lr)
                if self.decay:
                    p.add_((p0 - p) * self.decay_rate[i])

    def score(self, ids: list[int]) -> np.ndarray:
        """Per-token NLL (nats) of ids[1:], adapting as it goes; weights restored afterwards."""
        model = self.model
        x = torch.tensor(ids, dtype=torch.long)[None]
        n = x.shape[1] - 1
        keep = model.cfg.attn_window - 1
        out, past_k, past_v = [], None, None
        try:
            for a in range(0, n, self.segment):
                b = min(a + self.segment, n)
                h, pk, pv = model.body(x[:, a:b], torch.arange(a, b)[None], past_k, past_v)
                past_k, past_v = _trim(pk, keep), _trim(pv, keep)
                ce = F.cross_entropy(model.slow_logits(h)[0], x[0, a + 1 : b + 1], reduction="none")
                out.append(ce.detach())
                if b < n:  # the last segment's gradient would change nothing that is scored
                    grads = torch.autograd.grad(ce.mean(), self.params, allow_unused=True)
                    self._step(grads)
        finally:
            self.reset()
        return torch.cat(out).double().numpy()
