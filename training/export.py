"""Export a trained checkpoint to the model folder the runtime loads (contract: models/README.md).

    python training/export.py --checkpoint runs/fw-gpu/checkpoint.pt --tokenizer data/tokenizer \
        --out models/fw-code-small

Graphs (ONNX, fp32, opset 17):
  body.onnx          tokens + KV cache -> hidden states for the FWL head, new KV cache
  head.onnx          hidden + a fast-weight state -> logits (zero state = static model)
  contribution.onnx  hidden + targets + per-position weights -> the state's weighted sums
  fast_chunk.onnx    hidden + targets + carried states -> logits with the exact per-position rule
                     inside the chunk (the training fast pass); used to score files exactly
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import STATE_NAMES, FastWeightsLM, ModelConfig  # noqa: E402

MODES = ("static", "adapted", "adapted_whole_file")

FORMAT_VERSION = 1
OPSET = 17
CARRIED_NAMES = tuple(n.replace("state_", "carried_") for n in STATE_NAMES)


class Body(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, position_ids, past_keys, past_values):
        return self.model.body(input_ids, position_ids, past_keys, past_values)


class Head(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, hidden, *state):
        return self.model.head_logits(hidden, dict(zip(STATE_NAMES, state)))


class Contribution(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, hidden, targets, weights):
        parts = self.model.state_contribution(hidden, targets, weights)
        return tuple(parts[n] for n in STATE_NAMES)


class FastChunk(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, hidden, targets, target_weights, *carried_and_coef):
        carried = dict(zip(STATE_NAMES, carried_and_coef[:-1]))
        return self.model.fast_chunk_logits(
            hidden, targets, target_weights, carried, carried_and_coef[-1]
        )


def load_checkpoint(path: Path) -> FastWeightsLM:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = FastWeightsLM(ModelConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.eval().float()


def example_inputs(model: FastWeightsLM, t: int = 5, p: int = 3):
    cfg = model.cfg
    d, f = cfg.d_model, cfg.fwl_hidden
    ids = torch.randint(1, cfg.vocab_size, (1, t))
    past = torch.randn(cfg.n_layer, 1, cfg.n_head, p, cfg.head_dim)
    state = [torch.randn(*s) * 1e-3 for s in [(d, f), (f,), (f, d), (d,), (d,), (d,)]]
    return ids, past, state


def export_all(model: FastWeightsLM, out: Path) -> None:
    cfg = model.cfg
    ids, past, state = example_inputs(model)
    t = ids.shape[1]
    pos = torch.arange(3, 3 + t)[None]
    hidden = model.body(ids, pos, past, past)[0].detach()
    bt = {0: "batch", 1: "tokens"}
    kv = {1: "batch", 3: "past"}
    exports = [
        (
            "body",
            Body(model),
            (ids, pos, past, past),
            ["input_ids", "position_ids", "past_keys", "past_values"],
            ["hidden", "present_keys", "present_values"],
            {
                "input_ids": bt,
                "position_ids": bt,
                "past_keys": kv,
                "past_values": kv,
                "hidden": bt,
                "present_keys": {1: "batch", 3: "total"},
                "present_values": {1: "batch", 3: "total"},
            },
        ),
        (
            "head",
            Head(model),
            (hidden, *state),
            ["hidden", *STATE_NAMES],
            ["logits"],
            {"hidden": bt, "logits": bt},
        ),
        (
            "contribution",
            Contribution(model),
            (hidden, ids, torch.rand(1, t)),
            ["hidden", "targets", "weights"],
            list(STATE_NAMES),
            {"hidden": bt, "targets": bt, "weights": bt},
        ),
        (
            "fast_chunk",
            FastChunk(model),
            (hidden, ids, torch.ones(1, t), *[s[None] for s in state], torch.rand(1, 1, t)),
            ["hidden", "targets", "target_weights", *CARRIED_NAMES, "carried_coef"],
            ["logits"],
            {
                "hidden": bt,
                "targets": bt,
                "target_weights": bt,
                "logits": bt,
                "carried_coef": {0: "carried", 1: "batch", 2: "tokens"},
                **{n: {0: "carried"} for n in CARRIED_NAMES},
            },
        ),
    ]
    out.mkdir(parents=True, exist_ok=True)
    for name, module, args, inputs, outputs, axes in exports:
        torch.onnx.export(
            module,
            args,
            str(out / f"{name}.onnx"),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
    del cfg


def write_config(model: FastWeightsLM, out: Path, name: str, extra: dict) -> dict:
    cfg = model.cfg
    d, f = cfg.d_model, cfg.fwl_hidden
    config = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "architecture": "transformer+fwl",
        "vocab_size": cfg.vocab_size,
        "d_model": d,
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "head_dim": cfg.head_dim,
        "fwl_hidden": f,
        "attn_window": cfg.attn_window,
        "rope_theta": cfg.rope_theta,
        "bos_token_id": cfg.bos_token_id,
        "eval_chunk_tokens": cfg.attn_window,
        "fwl": {
            "state_rule": "exp_decay",
            "decay": cfg.fwl_decay,
            "normaliser": cfg.fwl_normaliser,
            "step_sizes": dict(zip(STATE_NAMES, model.head.eta().tolist())),
        },
        "graphs": {g: f"{g}.onnx" for g in ("body", "head", "contribution", "fast_chunk")},
        "tokenizer": "tokenizer.json",
        "state_tensors": {
            "state_w1": [d, f],
            "state_b1": [f],
            "state_w2": [f, d],
            "state_b2": [d],
            "state_gamma": [d],
            "state_beta": [d],
        },
        "onnx_opset": OPSET,
        **extra,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return config


def write_parity_fixture(model, tokenizer: Path, source: Path, out: Path) -> None:
    """Bits per byte of one held-out file by the PyTorch model: the runtime must reproduce them."""
    from evaluate import evaluate_files  # evaluate imports this module
    from tokenizers import Tokenizer

    text = source.read_text()
    name = "parity_fixture" + source.suffix
    (out / name).write_text(text)
    r = evaluate_files(model, Tokenizer.from_file(str(tokenizer)), [text], log=None)
    fixture = {
        "file": name,
        "source": str(source),
        "tokens": r["tokens"],
        "bytes": r["bytes"],
        **{f"{m}_bits_per_byte": r[m]["bits_per_byte"] for m in MODES},
    }
    ids = [model.cfg.bos_token_id, *Tokenizer.from_file(str(tokenizer)).encode(text).ids]
    fixture["onnx_vs_pytorch_max_abs"] = measure_parity(model, out, ids)
    (out / "parity_fixture.json").write_text(json.dumps(fixture, indent=2) + "\n")


@torch.no_grad()
def measure_parity(model: FastWeightsLM, folder: Path, ids: list[int]) -> dict:
    """Max abs difference between onnxruntime and PyTorch on real tokens (prefill + cached decoding
    logits, static and adapted; the state contribution; the fast chunk)."""
    from onnx_model import OnnxModel

    onnx = OnnxModel(folder)
    lam, n, prefill = model.cfg.fwl_decay, min(len(ids) - 1, 400), 300
    x = torch.tensor(ids[: n + 1])[None]
    h_ref, _, _ = model.body(x[:, :n], torch.arange(n)[None])
    tgt = x[:, 1 : n + 1]
    w = lam ** (prefill - 1 - torch.arange(prefill, dtype=torch.float64))
    state = model.state_contribution(h_ref[:, :prefill], tgt[:, :prefill], w.float()[None])
    h, k, v = onnx.body(ids[:prefill], range(prefill))
    steps = [h]
    for i in range(prefill, n):
        h, k, v = onnx.body(ids[i : i + 1], [i], k, v)
        steps.append(h)
    hidden = np.concatenate(steps, axis=1)
    np_state = {name: t.numpy() for name, t in state.items()}
    diff = lambda a, b: float(np.abs(np.asarray(a) - b.numpy()).max())  # noqa: E731
    contribution = onnx.contribution(hidden[:, :prefill], ids[1 : prefill + 1], w.numpy())
    fast = onnx.fast_chunk(hidden[:, :256], ids[1:257], np.ones(256), [np_state], [np.ones(256)])
    carried = {name: t[None] for name, t in state.items()}
    return {
        "logits_static": diff(onnx.head(hidden, onnx.zero_state()), model.slow_logits(h_ref)),
        "logits_adapted": diff(onnx.head(hidden, np_state), model.head_logits(h_ref, state)),
        "state_contribution": max(diff(contribution[k], state[k]) for k in STATE_NAMES),
        "fast_chunk_logits": diff(
            fast,
            model.fast_chunk_logits(
                h_ref[:, :256], tgt[:, :256], torch.ones(1, 256), carried, torch.ones(1, 1, 256)
            ),
        ),
        "tokens": n,
        "prefill": prefill,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument(
        "--tokenizer", type=Path, required=True, help="folder from training/tokenizer.py"
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--name", default=None)
    p.add_argument("--fixture", type=Path, default=None, help="held-out code file for parity tests")
    p.add_argument(
        "--no-int8",
        action="store_true",
        help="skip the int8 body and head graphs (training/quantize.py) the extension runs",
    )
    args = p.parse_args(argv)
    model = load_checkpoint(args.checkpoint)
    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    extra = {
        "train_seq_len": ckpt.get("args", {}).get("seq_len"),
        "training": {k: ckpt.get(k) for k in ("step", "tokens_seen", "elapsed_s")},
    }
    with torch.no_grad():
        export_all(model, args.out)
    for f in ("tokenizer.json", "tokenizer_test_vectors.json"):
        shutil.copy(args.tokenizer / f, args.out / f)
    write_config(model, args.out, args.name or args.out.name, extra)
    if args.fixture:
        write_parity_fixture(model, args.tokenizer / "tokenizer.json", args.fixture, args.out)
    if not args.no_int8:
        from quantize import quantize_folder  # noqa: PLC0415 (onnxruntime only needed here)

        quantize_folder(args.out)
    print(f"exported to {args.out}")


if __name__ == "__main__":
    main()
