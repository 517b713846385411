"""The repository state in PyTorch (repository.py): sums, budget, scaling and its scoring mode."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import score_tokens  # noqa: E402
from model import STATE_NAMES  # noqa: E402
from repository import file_sum, repository_state  # noqa: E402
from tiny import CFG, ids, tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@torch.no_grad()
def test_file_sum_is_the_unweighted_sum_over_every_position(model):
    """Chunked with the key/value cache (20 tokens, windows of 8) as one pass over all positions."""
    x = ids(20, 1)
    seq = torch.tensor([CFG.bos_token_id, *x])[None]
    n = len(x)
    h, _, _ = model.body(seq[:, :n], torch.arange(n)[None])
    total = model.state_contribution(h, seq[:, 1 : n + 1], torch.ones(1, n))
    got = file_sum(model, x)
    for k in STATE_NAMES:
        np.testing.assert_allclose(got[k].numpy(), total[k].numpy(), rtol=1e-4, atol=1e-6)


def test_state_is_the_mean_scaled_to_one_file_and_skips_what_does_not_fit(model):
    a, b = ids(12, 2), ids(30, 3)
    state, tokens, files = repository_state(model, [a, b], budget=20)
    assert (tokens, files) == (12, 1), "the second file does not fit what is left"
    expected = file_sum(model, a)
    for k in STATE_NAMES:
        want = expected[k] / (1 - CFG.fwl_decay) / 12
        np.testing.assert_allclose(state[k].numpy(), want.numpy(), rtol=1e-5, atol=1e-7)
    _, tokens, files = repository_state(model, [b, a], budget=100)
    assert (tokens, files) == (42, 2)


def test_scoring_mode_adds_the_weighted_state_to_the_whole_file_one(model):
    x = [CFG.bos_token_id, *ids(30, 4)]
    state, _, _ = repository_state(model, [ids(25, 5)], budget=100)
    zero = score_tokens(model, x, repository=state, repository_weight=0.0)
    np.testing.assert_allclose(zero["fwl_workspace"], zero["adapted_whole_file"], atol=1e-5)
    some = score_tokens(model, x, repository=state, repository_weight=1.0)
    assert np.abs(some["fwl_workspace"] - some["adapted_whole_file"]).max() > 1e-4
    assert "fwl_workspace" not in score_tokens(model, x)
