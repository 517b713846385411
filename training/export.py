"""Export a trained checkpoint to the model folder the runtime loads (contract: models/README.md).

    python training/export.py --checkpoint runs/fw-gpu/checkpoint.pt --tokenizer data/tokenizer \
        --shards data/shards-gpu --out models/fw-code-small

Graphs (ONNX, fp32, opset 17):
  body.onnx          tokens + KV cache -> hidden states for the FWL head, new KV cache
  head.onnx          hidden + a fast-weight state -> logits (zero state = static model)
  contribution.onnx  hidden + targets + K rows of per-position weights -> K weighted sums of the
                     state (each output with a leading K axis; folders exported before issue 5
                     take weights [1, T] and have no K axis: the runtimes tell them by output rank)
  fast_chunk.onnx    hidden + targets + carried states -> logits with the exact per-position rule
                     inside the chunk (the training fast pass); used to score files exactly
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import STATE_NAMES, FastWeightsLM, ModelConfig  # noqa: E402

MODES = ("static", "adapted", "adapted_whole_file")

FORMAT_VERSION = 1
OPSET = 17
CARRIED_NAMES = tuple(n.replace("state_", "carried_") for n in STATE_NAMES)


class Body(nn.Module):
    """model.body written for a small ONNX graph (same math, same inputs and outputs).

    Measured for issue 5 (int8, one thread): a decoding step with 270 cached positions
    6.4 -> 3.0 ms, a 128-token prefill 34 -> 25 ms. The traced model.body has ~1,270 nodes,
    mostly shape arithmetic (views with the token count), RoPE tables recomputed per layer and for
    q and k, and the boolean mask of scaled_dot_product_attention; here the RoPE angles and an
    additive mask are built once, every reshape has a constant shape, attention is written out.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model
        cfg = model.cfg
        dh = cfg.head_dim
        inv_freq = cfg.rope_theta ** (-torch.arange(0, dh, 2, dtype=torch.float32) / dh)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, input_ids, position_ids, past_keys, past_values):
        m, cfg = self.model, self.model.cfg
        t, p = input_ids.shape[1], past_keys.shape[3]
        heads, dh, d = cfg.n_head, cfg.head_dim, cfg.d_model
        pos = position_ids[0]
        angles = pos.to(torch.float32)[:, None] * self.inv_freq  # [T, Dh/2]
        cos, sin = angles.cos()[None, :, None, :], angles.sin()[None, :, None, :]
        # The past holds the P positions right before the first query (as in model.body).
        k_pos = pos[0] - p + torch.arange(p + t, device=pos.device)
        diff = pos[:, None] - k_pos[None, :]
        visible = (diff >= 0) & (diff < cfg.attn_window)
        mask = torch.zeros(visible.shape).masked_fill(~visible, float("-inf"))
        scale = 1.0 / math.sqrt(dh)

        def rope(x):  # [1, T, d] -> [1, H, T, Dh], pairs (2i, 2i+1) rotated as in model.rope
            x = x.reshape(1, -1, heads, dh // 2, 2)
            a, b = x[..., 0], x[..., 1]
            out = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)
            return out.reshape(1, -1, heads, dh).transpose(1, 2)

        x = m.emb(input_ids)
        keys, values = [], []
        for i, block in enumerate(m.blocks):
            q, k, v = block.qkv(block.ln1(x)).split(d, dim=-1)
            k = torch.cat((past_keys[i], rope(k)), dim=2)
            v = torch.cat((past_values[i], v.reshape(1, -1, heads, dh).transpose(1, 2)), dim=2)
            att = torch.softmax((rope(q) @ k.transpose(2, 3)) * scale + mask, dim=-1) @ v
            x = x + block.proj(att.transpose(1, 2).reshape(1, -1, d))
            x = x + block.out(F.gelu(block.fc(block.ln2(x))))
            keys.append(k)
            values.append(v)
        return m.ln_f(x), torch.stack(keys), torch.stack(values)


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
        """hidden [1, T, d], targets [1, T], weights [K, T] -> the state tensors, leading K axis.

        A position's contribution is linear in its weight, so the slow pass, the softmax over the
        vocabulary and the local backward run once for all K weightings (a document state needs two
        per chunk: decayed from the chunk's end and from its start).
        """
        m = self.model
        d = hidden.shape[-1]
        slow = m.head.slow(hidden)
        logits = m.unembed(slow["y"])
        ones = torch.ones(targets.shape, dtype=hidden.dtype)
        g = m.head.local_grads(hidden, slow, logits, targets, ones, m.emb.weight)
        w = weights[:, :, None]  # [K, T, 1]
        g_a1 = g["g_a1"].reshape(1, -1, g["g_a1"].shape[-1]) * w
        g_a2 = g["g_a2"].reshape(1, -1, d) * w
        h = hidden.reshape(-1, d).t()[None]
        z = slow["z"].reshape(-1, slow["z"].shape[-1]).t()[None]
        return (
            h @ g_a1,
            g_a1.sum(1),
            z @ g_a2,
            g_a2.sum(1),
            (g["g_gamma"].reshape(1, -1, d) * w).sum(1),
            (g["g_beta"].reshape(1, -1, d) * w).sum(1),
        )


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
            (hidden, ids, torch.rand(2, t)),
            ["hidden", "targets", "weights"],
            list(STATE_NAMES),
            {
                # Batch 1 fixed: with a symbolic batch axis onnxruntime's shape inference took a
                # [batch, T, d] * [K, T, 1] product for [batch, T, d] and reused a buffer too small.
                "hidden": {1: "tokens"},
                "targets": {1: "tokens"},
                "weights": {0: "weightings", 1: "tokens"},
                **{n: {0: "weightings"} for n in STATE_NAMES},
            },
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


def ship_file_list(shards: Path, out: Path) -> dict:
    """The exact training manifest: the shards' list of train files (package, path), xz-compressed
    into the model folder (tests check it names train-split packages only)."""
    meta = json.loads((shards / "meta.json").read_text())["splits"]["train"]
    listing = (shards / "train.files.tsv").read_bytes()
    assert listing.count(b"\n") == meta["files"], "file list and shards disagree"
    out.mkdir(parents=True, exist_ok=True)
    (out / "training_files.tsv.xz").write_bytes(lzma.compress(listing, preset=9))
    return {
        "files": meta["files"],
        "file_list": "training_files.tsv.xz",
        "data_tokens": meta["tokens"],
    }


def keep_baseline(checkpoint: Path, out: Path) -> Path:
    """The no-FWL baseline's weights as float16 beside the model (the model card's comparison needs
    them, and a GPU run's checkpoints live only on that machine); the VSIX leaves them out."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    assert not ckpt["config"].get("fwl", True), f"{checkpoint} has an FWL head: not the baseline"
    weights = {k: t.half() if t.is_floating_point() else t for k, t in ckpt["model"].items()}
    meta = {k: ckpt.get(k) for k in ("config", "args", "step", "tokens_seen", "elapsed_s")}
    path = out / "baseline.fp16.pt"
    torch.save({"model": weights, **meta}, path)
    return path


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
        "--shards",
        type=Path,
        required=True,
        help="the shards it was trained on: their file list ships with the model",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="the no-FWL baseline checkpoint: kept beside the model as baseline.fp16.pt",
    )
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
    extra["training"].update(ship_file_list(args.shards, args.out))
    with torch.no_grad():
        export_all(model, args.out)
    for f in ("tokenizer.json", "tokenizer_test_vectors.json"):
        shutil.copy(args.tokenizer / f, args.out / f)
    write_config(model, args.out, args.name or args.out.name, extra)
    if args.baseline:
        keep_baseline(args.baseline, args.out)
    if args.fixture:
        write_parity_fixture(model, args.tokenizer / "tokenizer.json", args.fixture, args.out)
    if not args.no_int8:
        from quantize import quantize_folder  # noqa: PLC0415 (onnxruntime only needed here)

        quantize_folder(args.out)
    print(f"exported to {args.out}")


if __name__ == "__main__":
    main()
