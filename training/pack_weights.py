"""Split a checkpoint's weights into parts of bounded size, and join them back.

A GPU machine returns files of at most 16 MiB, so its run ships the trained weights (no optimiser
state) in parts; `join` rebuilds a checkpoint that export.py and evaluate.py read.

    python training/pack_weights.py split runs/gpu/fwl/checkpoint.pt OUT/fwl --max-mib 15
    python training/pack_weights.py join OUT/fwl runs/gpu-fwl/checkpoint.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

META_KEYS = ("config", "args", "step", "elapsed_s", "tokens_seen", "history")


def split(checkpoint: Path, prefix: Path, max_mib: float) -> list[Path]:
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    limit = max_mib * 2**20
    parts, current, size = [], {}, 0
    for name, tensor in ckpt["model"].items():
        nbytes = tensor.numel() * tensor.element_size()
        if current and size + nbytes > limit:
            parts.append(current)
            current, size = {}, 0
        current[name] = tensor.contiguous()
        size += nbytes
    parts.append(current)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, weights in enumerate(parts):
        path = prefix.parent / f"{prefix.name}.part{i}.pt"
        meta = {k: ckpt.get(k) for k in META_KEYS} if i == 0 else {}
        torch.save({"weights": weights, "n_parts": len(parts), **meta}, path)
        paths.append(path)
    return paths


def join(prefix: Path, out: Path) -> None:
    first = torch.load(prefix.parent / f"{prefix.name}.part0.pt", weights_only=False)
    model = dict(first["weights"])
    for i in range(1, first["n_parts"]):
        model.update(torch.load(prefix.parent / f"{prefix.name}.part{i}.pt")["weights"])
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, **{k: first.get(k) for k in META_KEYS}}, out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split")
    s.add_argument("checkpoint", type=Path)
    s.add_argument("prefix", type=Path)
    s.add_argument("--max-mib", type=float, default=15.0)
    j = sub.add_parser("join")
    j.add_argument("prefix", type=Path)
    j.add_argument("out", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "split":
        for path in split(args.checkpoint, args.prefix, args.max_mib):
            print(path, path.stat().st_size, file=sys.stderr)
    else:
        join(args.prefix, args.out)


if __name__ == "__main__":
    main()
