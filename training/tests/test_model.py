"""The FWL math, the bounded state rule and the KV cache, pinned on a small random model."""

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model import FastWeightsLM, ModelConfig, decay_matrix  # noqa: E402

CFG = ModelConfig(
    vocab_size=61, d_model=16, n_layer=2, n_head=2, attn_window=8, fwl_decay=0.9, fwl_normaliser=7.0
)


@pytest.fixture(scope="module", autouse=True)
def float64():
    """Exact comparisons in float64; the model is dtype-agnostic."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.fixture(scope="module")
def model(float64):
    torch.manual_seed(0)
    m = FastWeightsLM(CFG)
    with torch.no_grad():  # non-trivial step sizes and LayerNorm parameters
        m.head.log_eta.copy_(torch.log(torch.tensor([0.7, 0.3, 0.5, 0.2, 0.4, 0.6])))
        m.head.gamma.add_(0.1 * torch.randn(CFG.d_model))
        m.head.beta.add_(0.1 * torch.randn(CFG.d_model))
    return m.eval()


def hidden_and_targets(model, t=20, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, CFG.vocab_size, (1, t + 1), generator=g)
    pos = torch.arange(t)[None]
    h, _, _ = model.body(ids[:, :t], pos)
    return h.detach(), ids[:, 1:]


def test_fast_pass_equals_one_sgd_step_on_earlier_losses(model):
    """Fast output at t == slow block after one SGD step on sum_{s<t} lambda^(t-1-s) loss_s / N."""
    h, targets = hidden_and_targets(model)
    t_len = h.shape[1]
    weights = torch.ones(1, t_len)
    fast = model.fast_chunk_logits(h, targets, weights)
    head = model.head
    names = ["w1", "b1", "w2", "b2", "gamma", "beta"]
    eta = head.eta().detach()
    for t in (1, 5, t_len - 1):
        params = {n: getattr(head, n).detach().clone().requires_grad_(True) for n in names}
        y = slow_block(h[0, :t], params)
        logits = model.unembed(y)
        coef = CFG.fwl_decay ** torch.arange(t - 1, -1, -1.0)
        loss_each = F.cross_entropy(logits, targets[0, :t], reduction="none")
        loss = (loss_each * coef).sum() / CFG.fwl_normaliser
        grads = torch.autograd.grad(loss, [params[n] for n in names])
        stepped = {n: params[n] - eta[i] * g for i, (n, g) in enumerate(zip(names, grads))}
        expected = model.unembed(slow_block(h[0, t : t + 1], stepped))
        torch.testing.assert_close(fast[0, t : t + 1], expected, rtol=1e-9, atol=1e-9)


def slow_block(h, p):
    a1 = h @ p["w1"] + p["b1"]
    z = F.relu(a1) ** 2
    a2 = z @ p["w2"] + p["b2"]
    return F.layer_norm(a2, a2.shape[-1:], p["gamma"], p["beta"], eps=1e-5)


def test_position_zero_sees_zero_state(model):
    h, targets = hidden_and_targets(model)
    fast = model.fast_chunk_logits(h, targets, torch.ones_like(targets, dtype=h.dtype))
    torch.testing.assert_close(fast[:, 0], model.slow_logits(h)[:, 0])


def test_state_is_additive_over_chunks_under_decay(model):
    """Decay-weighted sum of chunk contributions == contribution of the whole sequence at once."""
    h, targets = hidden_and_targets(model, t=23)
    lam, end = CFG.fwl_decay, h.shape[1] - 1
    whole_w = lam ** (end - torch.arange(h.shape[1], dtype=h.dtype))[None]
    whole = model.state_contribution(h, targets, whole_w)
    total = {k: torch.zeros_like(v) for k, v in whole.items()}
    for a, b in [(0, 5), (5, 13), (13, 23)]:
        chunk_w = lam ** (b - 1 - torch.arange(a, b, dtype=h.dtype))[None]
        part = model.state_contribution(h[:, a:b], targets[:, a:b], chunk_w)
        for k in total:
            total[k] += lam ** (end - (b - 1)) * part[k]
    for k in whole:
        torch.testing.assert_close(total[k], whole[k])


def test_head_with_state_equals_fast_pass(model):
    """head(h_t, S_t) with S_t from the contribution sums == the fast pass at t."""
    h, targets = hidden_and_targets(model)
    fast = model.fast_chunk_logits(h, targets, torch.ones_like(targets, dtype=h.dtype))
    t = 11
    w = CFG.fwl_decay ** (t - 1 - torch.arange(t, dtype=h.dtype))[None]
    state = model.state_contribution(h[:, :t], targets[:, :t], w)
    torch.testing.assert_close(model.head_logits(h[:, t : t + 1], state), fast[:, t : t + 1])


def test_chunked_fast_pass_with_carried_state_equals_full_pass(model):
    h, targets = hidden_and_targets(model, t=24)
    ones = torch.ones_like(targets, dtype=h.dtype)
    full = model.fast_chunk_logits(h, targets, ones)
    lam, state, pieces = CFG.fwl_decay, model.zero_state(dtype=h.dtype), []
    for a, b in [(0, 7), (7, 16), (16, 24)]:
        carried = {k: v[None] for k, v in state.items()}
        coef = (lam ** torch.arange(b - a, dtype=h.dtype))[None, None]
        pieces.append(
            model.fast_chunk_logits(h[:, a:b], targets[:, a:b], ones[:, a:b], carried, coef)
        )
        w = lam ** (b - 1 - torch.arange(a, b, dtype=h.dtype))[None]
        part = model.state_contribution(h[:, a:b], targets[:, a:b], w)
        state = {k: lam ** (b - a) * state[k] + part[k] for k in state}
    torch.testing.assert_close(torch.cat(pieces, dim=1), full)


def test_training_forward_resets_state_at_document_boundaries(model):
    """A document's losses do not depend on the document packed before it."""
    g = torch.Generator().manual_seed(3)
    doc_b = torch.cat(
        [torch.zeros(1, 1, dtype=torch.long), torch.randint(1, 61, (1, 9), generator=g)], 1
    )
    a1 = torch.cat(
        [torch.zeros(1, 1, dtype=torch.long), torch.randint(1, 61, (1, 6), generator=g)], 1
    )
    a2 = torch.cat(
        [torch.zeros(1, 1, dtype=torch.long), torch.randint(1, 61, (1, 6), generator=g)], 1
    )
    losses = []
    for first in (a1, a2):
        seq = torch.cat([first, doc_b], dim=1)
        inputs, targets = seq[:, :-1], seq[:, 1:]
        weights = torch.zeros_like(inputs, dtype=torch.float64)
        weights[:, first.shape[1] :] = 1.0  # score only document b
        losses.append(model(inputs, targets, weights))
    torch.testing.assert_close(losses[0][0], losses[1][0])
    torch.testing.assert_close(losses[0][1], losses[1][1])


def test_decay_matrix():
    mat = decay_matrix(4, 0.5, "cpu")[0]
    expected = torch.tensor(
        [[0, 0, 0, 0], [1, 0, 0, 0], [0.5, 1, 0, 0], [0.25, 0.5, 1, 0]], dtype=torch.float32
    )
    torch.testing.assert_close(mat.float(), expected)


def test_prefill_then_cached_decoding_equals_full_forward(model):
    """Prefill + one-token steps with a KV cache trimmed to W-1 == one pass over the sequence."""
    g = torch.Generator().manual_seed(2)
    t = 3 * CFG.attn_window + 5  # well past the attention window
    ids = torch.randint(1, CFG.vocab_size, (1, t), generator=g)
    pos = torch.arange(t)[None] + 1000  # RoPE: any absolute offset
    full, _, _ = model.body(ids, pos)
    prefill = 6
    h, k, v = model.body(ids[:, :prefill], pos[:, :prefill])
    outs = [h]
    for i in range(prefill, t):
        keep = CFG.attn_window - 1
        k, v = k[:, :, :, -keep:], v[:, :, :, -keep:]
        h, k, v = model.body(ids[:, i : i + 1], pos[:, i : i + 1], k, v)
        outs.append(h)
    torch.testing.assert_close(torch.cat(outs, dim=1), full)


def test_baseline_has_no_fast_loss():
    torch.manual_seed(0)
    base = FastWeightsLM(ModelConfig(**{**CFG.to_dict(), "fwl": False}))
    ids = torch.randint(1, 61, (2, 9))
    slow, fast = base(ids[:, :-1], ids[:, 1:], torch.ones(2, 8))
    assert fast is None and slow.item() > 0
