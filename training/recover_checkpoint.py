"""Rebuild a PyTorch checkpoint from a shipped model folder's fp32 ONNX graphs.

export.py writes every weight of the model into the graphs (some under onnxruntime's anonymous
names, some transposed), so a model folder holds all of them even when its checkpoint is gone.
This exports a model of the same config whose weights are all distinct, learns from it which graph
initializer holds which weight (and whether transposed), copies the shipped values over, and checks
the result by exporting it again: every initializer of every graph must come out bit-identical.

    python training/recover_checkpoint.py models/fw-code-small runs/recovered/checkpoint.pt [--fp16]

--fp16 stores the weights as float16 when that loses nothing (the GPU run ships fp16 weights, so a
model exported from them converts back exactly); it refuses otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import export_all  # noqa: E402
from model import FastWeightsLM, ModelConfig  # noqa: E402

GRAPHS = ("body", "head", "contribution", "fast_chunk")


def config_from_folder(folder: Path) -> tuple[ModelConfig, dict]:
    c = json.loads((folder / "config.json").read_text())
    cfg = ModelConfig(
        vocab_size=c["vocab_size"],
        d_model=c["d_model"],
        n_layer=c["n_layer"],
        n_head=c["n_head"],
        attn_window=c["attn_window"],
        rope_theta=c["rope_theta"],
        fwl=True,
        fwl_decay=c["fwl"]["decay"],
        fwl_normaliser=c["fwl"]["normaliser"],
        bos_token_id=c["bos_token_id"],
    )
    return cfg, c


def initializers(folder: Path) -> dict[tuple[str, str], np.ndarray]:
    out = {}
    for g in GRAPHS:
        for init in onnx.load(str(folder / f"{g}.onnx")).graph.initializer:
            out[(g, init.name)] = numpy_helper.to_array(init)
    return out


def locate(model: FastWeightsLM, probe: dict) -> dict[str, tuple[tuple[str, str], bool]]:
    """Where each weight of `model` (all values distinct) sits in the probe export:
    ((graph, initializer name), transposed)."""
    where = {}
    for name, p in model.state_dict().items():
        if not p.is_floating_point():
            continue
        x = p.detach().numpy()
        for key, a in probe.items():
            if a.shape == x.shape and np.array_equal(a, x):
                where[name] = (key, False)
                break
            if x.ndim == 2 and a.shape == x.T.shape and np.array_equal(a, x.T):
                where[name] = (key, True)
                break
    return where


def recover(folder: Path) -> tuple[FastWeightsLM, dict]:
    cfg, config = config_from_folder(folder)
    torch.manual_seed(0)
    model = FastWeightsLM(cfg).eval()
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.randn_like(p) + 10.0 * i)  # distinct everywhere, so every match is unique
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        export_all(model, Path(tmp))
        probe = initializers(Path(tmp))
    where = locate(model, probe)
    params = dict(model.named_parameters())
    missing = sorted(set(params) - set(where))
    if missing:
        raise SystemExit(f"weights found in no graph (a folded or changed export?): {missing}")
    shipped = initializers(folder)
    state = model.state_dict()
    for name, (key, transposed) in where.items():
        if key not in shipped:
            raise SystemExit(f"{folder} lacks initializer {key} (an export of another version?)")
        a = shipped[key].T if transposed else shipped[key]
        state[name] = torch.from_numpy(np.array(a, copy=True)).to(state[name].dtype)
    model.load_state_dict(state)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        export_all(model, Path(tmp))
        again = initializers(Path(tmp))
    differ = [k for k, a in shipped.items() if k not in again or not np.array_equal(a, again[k])]
    if differ:
        raise SystemExit(
            f"re-export differs from {folder} in {len(differ)} initializers: {differ[:5]}"
        )
    return model, config


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("folder", type=Path, help="model folder with the fp32 graphs and config.json")
    p.add_argument("out", type=Path, help="checkpoint to write (export.py and evaluate.py read it)")
    p.add_argument("--fp16", action="store_true", help="store float16 weights (only if exact)")
    args = p.parse_args(argv)
    model, config = recover(args.folder)
    weights = model.state_dict()
    if args.fp16:
        for name, t in weights.items():
            if t.is_floating_point() and not torch.equal(t.half().float(), t):
                raise SystemExit(f"{name} is not exactly float16; store float32 (leave out --fp16)")
        weights = {k: t.half() if t.is_floating_point() else t for k, t in weights.items()}
    training = config.get("training", {})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "model": weights,
            "config": model.cfg.to_dict(),
            "args": {"seq_len": config.get("train_seq_len")},
            **{k: training.get(k) for k in ("step", "tokens_seen", "elapsed_s")},
            "recovered_from": str(args.folder),
        },
        args.out,
    )
    print(f"{args.out}: {len(weights)} tensors from {args.folder}, re-export bit-identical")


if __name__ == "__main__":
    main()
