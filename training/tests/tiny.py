"""A tiny FWL model and random token lists shared by the repository tests."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model import FastWeightsLM, ModelConfig  # noqa: E402

CFG = ModelConfig(
    vocab_size=61, d_model=16, n_layer=2, n_head=2, attn_window=8, fwl_decay=0.9, fwl_normaliser=7.0
)


def tiny_model() -> FastWeightsLM:
    torch.manual_seed(0)
    return FastWeightsLM(CFG).eval()


def ids(n: int, seed: int) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, CFG.vocab_size, (n,), generator=g).tolist()
