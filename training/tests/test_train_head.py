"""Head training on repository sequences (train_head.py): the same rules as the runtime's."""

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import repository  # noqa: E402
import train_head  # noqa: E402
from model import STATE_NAMES, decay_matrix  # noqa: E402
from repo_sequences import Package  # noqa: E402
from tiny import CFG, ids, tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def no_bf16(monkeypatch):
    monkeypatch.setattr(train_head, "bf16", lambda: torch.autocast("cpu", enabled=False))


@torch.no_grad()
def test_hidden_in_chunks_is_one_pass(model, monkeypatch):
    no_bf16(monkeypatch)
    x = [CFG.bos_token_id, *ids(29, 1)]
    h, _, _ = model.body(torch.tensor(x)[None], torch.arange(len(x))[None])
    got = train_head.hidden(model, x, chunk=8)
    np.testing.assert_allclose(got.numpy(), h[0].numpy(), rtol=1e-4, atol=1e-5)


@torch.no_grad()
def test_a_per_sequence_state_is_a_carried_state_seen_in_full(model):
    """fast(per_sequence=S) is fast(carried=S, coef=1) for each sequence on its own."""
    torch.manual_seed(1)
    h = torch.randn(2, 6, CFG.d_model)
    tgt = torch.randint(1, CFG.vocab_size, (2, 6))
    w = torch.ones(2, 6)
    head = model.head
    slow = head.slow(h)
    grads = head.local_grads(h, slow, model.unembed(slow["y"]), tgt, w, model.emb.weight)
    decay = decay_matrix(6, CFG.fwl_decay, h.device)
    states = [{k: torch.randn_like(v) * 0.1 for k, v in model.zero_state().items()} for _ in "ab"]
    batched = {k: torch.stack([s[k] for s in states]) for k in STATE_NAMES}
    got = head.fast(h, slow, grads, decay, per_sequence=batched)
    for b, s in enumerate(states):
        one = {k: v[None] for k, v in s.items()}
        sl = {k: v[b : b + 1] for k, v in slow.items()}
        gr = {k: v[b : b + 1] for k, v in grads.items()}
        want = head.fast(h[b : b + 1], sl, gr, decay, one, torch.ones(1, 1, 6))
        np.testing.assert_allclose(got[b].numpy(), want[0].numpy(), rtol=1e-4, atol=1e-5)


def test_the_repository_state_follows_the_runtime_rule(model, monkeypatch):
    """Related files in repo_sequences order within the budget, mean times 1 / (1 - lambda): what
    repository.py (and so the runtime) computes."""
    no_bf16(monkeypatch)
    texts = {"src/a.ts": "import './b';", "src/b.ts": "b", "src/c.ts": "c", "lib/d.ts": "d"}
    pkg = Package(texts)
    tokens = {"src/a.ts": ids(10, 2), "src/b.ts": ids(12, 3), "src/c.ts": ids(30, 4)}
    tokens["lib/d.ts"] = ids(9, 5)
    sums = train_head.FileSums(model, capacity=10, refresh=5)
    got, context = train_head.repository_state(model, sums, "p", pkg, tokens, "src/a.ts", 25, 0)
    assert context == ["src/b.ts", "lib/d.ts"], "c does not fit what is left; d does"
    want, n, files = repository.repository_state(model, [tokens[p] for p in context], 25)
    assert (n, files) == (21, 2)
    for k in STATE_NAMES:  # the cache keeps bf16
        np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=2e-2, atol=1e-4)


def test_file_sums_are_cached_until_stale(model, monkeypatch):
    no_bf16(monkeypatch)
    sums = train_head.FileSums(model, capacity=2, refresh=3)
    x = ids(9, 6)
    sums.get("a", x, 0)
    sums.get("a", x, 2)
    assert (sums.hits, sums.misses) == (1, 1)
    sums.get("a", x, 3)
    assert sums.misses == 2, "three steps old: computed again"
    sums.get("b", x, 3)
    sums.get("c", x, 3)
    assert list(sums.cache) == ["b", "c"], "least recently used dropped"


def test_gradient_reaches_the_head_and_the_weight_only(model, monkeypatch):
    no_bf16(monkeypatch)
    for p in model.parameters():
        p.requires_grad_(False)
    head = train_head.Head(model, 1.0)
    for p in head.parameters():
        p.requires_grad_(True)
    torch.manual_seed(2)
    h = torch.randn(2, 6, CFG.d_model)
    tgt = torch.randint(1, CFG.vocab_size, (2, 6))
    repo = {k: torch.randn(2, *v.shape) * 0.1 for k, v in model.zero_state().items()}
    slow, fast = train_head.example_losses(model, head, h, tgt, torch.ones(2, 6), repo)
    (fast + slow).backward()
    assert head.log_repository_weight.grad is not None and head.log_repository_weight.grad != 0
    assert model.head.w1.grad is not None and model.head.log_eta.grad is not None
    assert all(p.grad is None for p in model.blocks.parameters())
    zero = {k: torch.zeros_like(v) for k, v in repo.items()}
    _, file_only = train_head.example_losses(model, head, h, tgt, torch.ones(2, 6), zero)
    assert abs(file_only.item() - fast.item()) > 1e-6
    for p in model.parameters():
        p.grad = None


def test_targets_come_with_their_related_files():
    texts = {f"src/{c}.ts": c for c in "abcde"} | {"other/z.ts": "z"}
    pkg = Package(texts)
    packages = {"p": (pkg, {p: list(range(40)) for p in texts})}
    args = argparse.Namespace(targets_per_package=3, seq_len=16, start_share=1.0, single_share=0)
    ex = train_head.Examples(packages, args, seed=0)
    for _ in range(4):
        group = [ex.next() for _ in range(3)]
        paths = {p for _, p, _, _ in group}
        assert any(paths == {s, *pkg.related(s)[:2]} for s in paths), "a file and its nearest"
        assert all(start == 0 and with_repo for _, _, start, with_repo in group)
