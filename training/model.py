"""FastWeights model: a decoder-only transformer body with a Fast Weight Layer (FWL) head.

The math follows ../shared/notes/fast-weight-layers.md (Clark et al. 2022), with one change that the
product needs: the fast-weight state decays exponentially with distance (lambda per token), so it
stays bounded on long files. The state used at position t is

    S_t = sum_{s<t} lambda^(t-1-s) c_s

where c_s is position s's local gradient piece (its target is token s+1). The same rule is used in
training (as a decay mask in the linear attention) and at run time (as a weighted sum of chunk
contributions), so the step sizes mean the same thing in both.

Shapes: B batch, T tokens, d model width, F = 4d FWL hidden width, V vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

STATE_NAMES = ("state_w1", "state_b1", "state_w2", "state_b2", "state_gamma", "state_beta")
LN_EPS = 1e-5


@dataclass
class ModelConfig:
    vocab_size: int = 8192
    d_model: int = 256
    n_layer: int = 6
    n_head: int = 4
    attn_window: int = 256  # sliding-window attention: a query sees the last W tokens
    rope_theta: float = 10000.0
    fwl: bool = True  # False gives the plain transformer baseline (same body, plain head)
    fwl_decay: float = 0.5 ** (1 / 256)  # per-token decay of the state: half-life 256 tokens
    fwl_normaliser: float = 512.0  # fixed N in g_logits = (p - onehot) / N
    fwl_eta_init: float = 0.1
    bos_token_id: int = 0

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def fwl_hidden(self) -> int:
        return 4 * self.d_model

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Body


def rope(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotary position embedding. x: [B, H, T, Dh], positions: [B, T] (any integer offset)."""
    dh = x.shape[-1]
    inv_freq = theta ** (-torch.arange(0, dh, 2, device=x.device, dtype=torch.float32) / dh)
    angles = positions.to(torch.float32)[:, None, :, None] * inv_freq  # [B, 1, T, Dh/2]
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d, bias=False)
        self.out = nn.Linear(4 * d, d, bias=False)

    def forward(self, x, positions, mask, past_k, past_v):
        """x: [B, T, d]; mask: [B, 1, T, P+T] bool (True = may attend); past: [B, H, P, Dh]."""
        b, t, d = x.shape
        h, dh = self.cfg.n_head, self.cfg.head_dim
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q = rope(q.view(b, t, h, dh).transpose(1, 2), positions, self.cfg.rope_theta)
        k = rope(k.view(b, t, h, dh).transpose(1, 2), positions, self.cfg.rope_theta)
        v = v.view(b, t, h, dh).transpose(1, 2)
        k = torch.cat((past_k.to(k.dtype), k), dim=2)
        v = torch.cat((past_v.to(v.dtype), v), dim=2)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
        x = x + self.out(F.gelu(self.fc(self.ln2(x))))
        return x, k, v


def attention_mask(q_pos, k_pos, window, q_doc=None, k_doc=None):
    """True where a query may see a key: causal, within the window, same document."""
    diff = q_pos[:, :, None] - k_pos[:, None, :]
    mask = (diff >= 0) & (diff < window)
    if q_doc is not None:
        mask = mask & (q_doc[:, :, None] == k_doc[:, None, :])
    return mask[:, None]


# ---------------------------------------------------------------------------------------------
# Fast Weight Layer head


class FastWeightHead(nn.Module):
    """a1 = h W1 + b1; z = relu(a1)^2; a2 = z W2 + b2; y = LayerNorm(a2; gamma, beta).

    The unembedding (tied to the token embedding) is not fast-updated.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d, f = cfg.d_model, cfg.fwl_hidden
        self.w1 = nn.Parameter(torch.randn(d, f) * d**-0.5)
        self.b1 = nn.Parameter(torch.zeros(f))
        self.w2 = nn.Parameter(torch.randn(f, d) * f**-0.5 * 0.5)
        self.b2 = nn.Parameter(torch.zeros(d))
        self.gamma = nn.Parameter(torch.ones(d))
        self.beta = nn.Parameter(torch.zeros(d))
        # Learned step sizes, one per fast-updated tensor, kept positive through a log.
        self.log_eta = nn.Parameter(torch.full((6,), math.log(cfg.fwl_eta_init)))

    def eta(self) -> torch.Tensor:
        return self.log_eta.exp()

    def slow(self, h):
        """Slow pass. Returns the intermediates the local backward needs."""
        a1 = h @ self.w1 + self.b1
        r = F.relu(a1)
        z = r * r
        a2 = z @ self.w2 + self.b2
        yhat, inv_std = normalise(a2)
        y = yhat * self.gamma + self.beta
        return dict(r=r, z=z, yhat=yhat, inv_std=inv_std, y=y)

    def local_grads(self, h, slow, logits, targets, weights, emb):
        """Hand-written backward of the weighted CE of the slow logits, down to the FWL block.

        g_logits = (p - onehot(target)) * w / N, pushed through U, the LayerNorm and the MLP.
        No dense one-hot: g_y = (p @ E - E[target]) * w / N.
        """
        scale = (weights / self.cfg.fwl_normaliser)[..., None]
        p = torch.softmax(logits, dim=-1, dtype=_at_least_fp32(logits.dtype)).to(h.dtype)
        g_y = (p @ emb - emb[targets]) * scale
        g_gamma = g_y * slow["yhat"]
        g_beta = g_y
        g_yhat = g_y * self.gamma
        yhat = slow["yhat"]
        g_a2 = slow["inv_std"] * (
            g_yhat - g_yhat.mean(-1, keepdim=True) - yhat * (g_yhat * yhat).mean(-1, keepdim=True)
        )
        g_z = g_a2 @ self.w2.t()
        g_a1 = g_z * 2 * slow["r"]
        return dict(g_a1=g_a1, g_a2=g_a2, g_gamma=g_gamma, g_beta=g_beta)

    @staticmethod
    def contribution(h, slow, grads):
        """Sum over batch and positions of each position's state piece (weights already in g)."""
        flat = lambda x: x.reshape(-1, x.shape[-1])  # noqa: E731
        return dict(
            state_w1=flat(h).t() @ flat(grads["g_a1"]),
            state_b1=flat(grads["g_a1"]).sum(0),
            state_w2=flat(slow["z"]).t() @ flat(grads["g_a2"]),
            state_b2=flat(grads["g_a2"]).sum(0),
            state_gamma=flat(grads["g_gamma"]).sum(0),
            state_beta=flat(grads["g_beta"]).sum(0),
        )

    def with_state(self, h, state):
        """The block with fast weights W - eta * state (state: already decay-weighted sums)."""
        e = self.eta()
        a1 = h @ self.w1 - e[0] * (h @ state["state_w1"]) + self.b1 - e[1] * state["state_b1"]
        r = F.relu(a1)
        z = r * r
        a2 = z @ self.w2 - e[2] * (z @ state["state_w2"]) + self.b2 - e[3] * state["state_b2"]
        yhat, _ = normalise(a2)
        return yhat * (self.gamma - e[4] * state["state_gamma"]) + (
            self.beta - e[5] * state["state_beta"]
        )

    def fast(self, h, slow, grads, decay, carried=None, coef=None, per_sequence=None):
        """Fast pass as causal linear attention with a decay mask.

        decay: [B, T, T] with decay[t, s] = lambda^(t-1-s) for s < t in the same document, else 0.
        carried (optional): states from outside this chunk, each tensor with a leading K axis;
        coef: [K, B, T], how much of carried state k position t sees (lambda^t for the state at
        the chunk's start). This is how long files are scored chunk by chunk, exactly.
        per_sequence (optional): one state per sequence (leading B axis, already weighted) that
        every position of that sequence sees in full: the repository state in train_head.py.
        """
        e = self.eta()
        a1 = h @ self.w1 + self.b1
        a1 = a1 - e[0] * (((h @ h.transpose(1, 2)) * decay) @ grads["g_a1"])
        a1 = a1 - e[1] * (decay @ grads["g_a1"])
        if carried is not None:
            a1 = a1 - e[0] * _carried_matmul(h, carried["state_w1"], coef)
            a1 = a1 - e[1] * _carried_vector(carried["state_b1"], coef)
        if per_sequence is not None:
            a1 = a1 - e[0] * torch.bmm(h, per_sequence["state_w1"].to(h.dtype))
            a1 = a1 - e[1] * per_sequence["state_b1"][:, None].to(h.dtype)
        r = F.relu(a1)
        z = r * r
        a2 = z @ self.w2 + self.b2
        a2 = a2 - e[2] * (((z @ slow["z"].transpose(1, 2)) * decay) @ grads["g_a2"])
        a2 = a2 - e[3] * (decay @ grads["g_a2"])
        if carried is not None:
            a2 = a2 - e[2] * _carried_matmul(z, carried["state_w2"], coef)
            a2 = a2 - e[3] * _carried_vector(carried["state_b2"], coef)
        if per_sequence is not None:
            a2 = a2 - e[2] * torch.bmm(z, per_sequence["state_w2"].to(z.dtype))
            a2 = a2 - e[3] * per_sequence["state_b2"][:, None].to(z.dtype)
        yhat, _ = normalise(a2)
        gamma = self.gamma - e[4] * (decay @ grads["g_gamma"])
        beta = self.beta - e[5] * (decay @ grads["g_beta"])
        if carried is not None:
            gamma = gamma - e[4] * _carried_vector(carried["state_gamma"], coef)
            beta = beta - e[5] * _carried_vector(carried["state_beta"], coef)
        if per_sequence is not None:
            gamma = gamma - e[4] * per_sequence["state_gamma"][:, None]
            beta = beta - e[5] * per_sequence["state_beta"][:, None]
        return yhat * gamma + beta


def _carried_matmul(x, states, coef):
    """sum_k coef[k, b, t] * (x[b, t] @ states[k]): x [B,T,n], states [K,n,m] -> [B,T,m]."""
    return torch.einsum("btn,knm,kbt->btm", x, states, coef)


def _carried_vector(states, coef):
    """sum_k coef[k, b, t] * states[k]: states [K,m] -> [B,T,m]."""
    return torch.einsum("km,kbt->btm", states, coef)


def normalise(x):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    inv_std = torch.rsqrt(var + LN_EPS)
    return (x - mu) * inv_std, inv_std


def decay_matrix(t: int, lam: float, device, doc=None) -> torch.Tensor:
    """[B or 1, T, T]: lambda^(t-1-s) for s < t (same document if doc ids are given), else 0."""
    idx = torch.arange(t, device=device)
    dist = (idx[:, None] - 1 - idx[None, :]).to(torch.float64)
    mat = torch.where(dist >= 0, torch.exp(dist.clamp(min=0) * math.log(lam)), 0.0)[None]
    if doc is not None:
        mat = mat * (doc[:, :, None] == doc[:, None, :])
    return mat.to(torch.get_default_dtype())


# ---------------------------------------------------------------------------------------------
# The whole model


class FastWeightsLM(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        nn.init.normal_(self.emb.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.out_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        if cfg.fwl:
            self.head = FastWeightHead(cfg)
        else:  # the baseline: same body, a plain MLP head of the same shape
            self.head = nn.Sequential(
                nn.Linear(cfg.d_model, cfg.fwl_hidden),
                nn.GELU(),
                nn.Linear(cfg.fwl_hidden, cfg.d_model),
                nn.LayerNorm(cfg.d_model),
            )
        for name, p in self.named_parameters():
            if name.endswith(("proj.weight", "out.weight")):  # scaled residual init (GPT-2)
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))
            elif name.endswith(("qkv.weight", "fc.weight")):
                nn.init.normal_(p, std=0.02)

    def body(self, input_ids, position_ids, past_k=None, past_v=None, doc=None):
        """Hidden states for the FWL head, plus the new KV cache ([L, B, H, P+T, Dh] each).

        The past holds the P tokens right before input_ids, at consecutive positions.
        """
        cfg = self.cfg
        b, t = input_ids.shape
        if past_k is None:
            shape = (cfg.n_layer, b, cfg.n_head, 0, cfg.head_dim)
            past_k = past_v = torch.zeros(shape, device=input_ids.device)
        p = past_k.shape[3]
        past_pos = position_ids[:, :1] - p + torch.arange(p, device=input_ids.device)[None]
        k_pos = torch.cat((past_pos, position_ids), dim=1)
        mask = attention_mask(position_ids, k_pos, cfg.attn_window, doc, doc)
        x = self.emb(input_ids)
        keys, values = [], []
        for i, block in enumerate(self.blocks):
            x, k, v = block(x, position_ids, mask, past_k[i], past_v[i])
            keys.append(k)
            values.append(v)
        return self.ln_f(x), torch.stack(keys), torch.stack(values)

    def unembed(self, y):
        return y @ self.emb.weight.t() + self.out_bias

    def slow_logits(self, h):
        if self.cfg.fwl:
            return self.unembed(self.head.slow(h)["y"])
        return self.unembed(self.head(h))

    def forward(self, input_ids, targets, loss_weights):
        """Training/eval pass over packed sequences (documents start with bos).

        Returns (slow_loss, fast_loss) as mean nats per scored token; fast_loss is None for the
        baseline. loss_weights: [B, T] 1 where the target is scored (and feeds the fast weights).
        """
        b, t = input_ids.shape
        doc = torch.cumsum(input_ids == self.cfg.bos_token_id, dim=1)
        positions = torch.arange(t, device=input_ids.device)[None].expand(b, t)
        h, _, _ = self.body(input_ids, positions, doc=doc)
        denom = loss_weights.sum().clamp(min=1)
        if not self.cfg.fwl:
            logits = self.slow_logits(h)
            return weighted_ce(logits, targets, loss_weights) / denom, None
        head = self.head
        slow = head.slow(h)
        logits = self.unembed(slow["y"])
        slow_loss = weighted_ce(logits, targets, loss_weights) / denom
        grads = head.local_grads(h, slow, logits, targets, loss_weights, self.emb.weight)
        decay = decay_matrix(t, self.cfg.fwl_decay, h.device, doc).to(h.dtype)
        fast_logits = self.unembed(head.fast(h, slow, grads, decay))
        fast_loss = weighted_ce(fast_logits, targets, loss_weights) / denom
        return slow_loss, fast_loss

    # -- run-time pieces (exported to ONNX and mirrored by the TypeScript runtime) ------------

    def zero_state(self, device=None, dtype=torch.float32):
        d, f = self.cfg.d_model, self.cfg.fwl_hidden
        shapes = dict(
            state_w1=(d, f),
            state_b1=(f,),
            state_w2=(f, d),
            state_b2=(d,),
            state_gamma=(d,),
            state_beta=(d,),
        )
        return {k: torch.zeros(s, device=device, dtype=dtype) for k, s in shapes.items()}

    def head_logits(self, h, state):
        return self.unembed(self.head.with_state(h, state))

    def fast_chunk_logits(self, h, targets, target_weights, carried=None, coef=None):
        """Adapted logits for one chunk: the exact decay rule inside the chunk plus carried states.

        target_weights: [B, T] 1 where the target (next token) is known, 0 elsewhere.
        """
        slow = self.head.slow(h)
        logits = self.unembed(slow["y"])
        grads = self.head.local_grads(h, slow, logits, targets, target_weights, self.emb.weight)
        decay = decay_matrix(h.shape[1], self.cfg.fwl_decay, h.device).to(h.dtype)
        return self.unembed(self.head.fast(h, slow, grads, decay, carried, coef))

    def state_contribution(self, h, targets, weights):
        slow = self.head.slow(h)
        logits = self.unembed(slow["y"])
        grads = self.head.local_grads(h, slow, logits, targets, weights, self.emb.weight)
        return self.head.contribution(h, slow, grads)


def _at_least_fp32(dtype):
    return torch.float32 if dtype in (torch.bfloat16, torch.float16) else dtype


def weighted_ce(logits, targets, weights):
    ce = F.cross_entropy(
        logits.to(_at_least_fp32(logits.dtype)).flatten(0, 1), targets.flatten(), reduction="none"
    )
    return (ce * weights.flatten()).sum()
