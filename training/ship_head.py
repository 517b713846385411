"""Write a model folder with a head trained by train_head.py (issue 27): same body, new head.

    python training/ship_head.py --checkpoint runs/head-repo/checkpoint.pt --out models/NEW

The body's weights come from --model (rebuilt from its graphs, recover_checkpoint.py), the head's
and the repository weight from the checkpoint. Every graph is exported again, the int8 graphs
quantized again, the parity fixture scored again (the same held-out file). config.json keeps the
body's training record and adds `head_training` (steps, tokens, minutes, the files it read) and
`repository` (the learned weight, the runtime's token budget). The files the head read ship as
head_training_files.tsv.xz (package, path), beside the body's training_files.tsv.xz.
"""

from __future__ import annotations

import argparse
import json
import lzma
import platform
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import export_all, write_config, write_parity_fixture  # noqa: E402
from recover_checkpoint import recover  # noqa: E402
from train_head import MODEL, Head  # noqa: E402

KEPT = ("tokenizer.json", "tokenizer_test_vectors.json", "training_files.tsv.xz")
CONFIG_KEPT = ("train_seq_len", "training")


def cpu_name() -> str:
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def command_of(saved_args: dict) -> str:
    """train_head.py's command line from its saved arguments (paths relative to the repository)."""
    root = str(Path(__file__).resolve().parents[1]) + "/"
    parts = [
        f"--{k.replace('_', '-')} {str(v).replace(root, '')}"
        for k, v in sorted(saved_args.items())
        if k != "export"
    ]
    return "training/train_head.py " + " ".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="train_head.py's checkpoint.pt")
    p.add_argument("--model", type=Path, default=MODEL, help="the folder whose body is kept")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--name", default="fw-code-small")
    p.add_argument("--max-tokens", type=int, default=16384, help="repository budget at run time")
    p.add_argument("--no-int8", action="store_true")
    args = p.parse_args(argv)
    model, config = recover(args.model)
    model.float()
    head = Head(model, 1.0)
    ckpt = torch.load(args.checkpoint, weights_only=False)
    head.load_state_dict(ckpt["head"])
    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    for f in KEPT:
        shutil.copy(args.model / f, args.out / f)
    files = sorted(tuple(x) for x in ckpt["files"])
    listing = "".join(f"{pkg}\t{path}\n" for pkg, path in files)
    (args.out / "head_training_files.tsv.xz").write_bytes(lzma.compress(listing.encode()))
    weight = head.repository_weight().item()
    extra = {k: config[k] for k in CONFIG_KEPT if k in config}
    extra["head_training"] = {
        "command": command_of(ckpt.get("args", {})),
        "step": ckpt["step"],
        "tokens_seen": ckpt["tokens_seen"],
        "elapsed_s": ckpt["elapsed_s"],
        "device": f"{cpu_name()}, {torch.get_num_threads()} threads, bf16 autocast, body frozen",
        "files": len(files),
        "file_list": "head_training_files.tsv.xz",
    }
    extra["repository"] = {"weight": weight, "max_tokens": args.max_tokens}
    with torch.no_grad():
        export_all(model, args.out)
    write_config(model, args.out, args.name, extra)
    fixture = json.loads((args.model / "parity_fixture.json").read_text())
    source = args.out / ("source" + Path(fixture["file"]).suffix)
    shutil.copy(args.model / fixture["file"], source)
    write_parity_fixture(model, args.out / "tokenizer.json", source, args.out)
    source.unlink()
    saved = json.loads((args.out / "parity_fixture.json").read_text())
    saved["source"] = fixture["source"]
    (args.out / "parity_fixture.json").write_text(json.dumps(saved, indent=2) + "\n")
    if not args.no_int8:
        from quantize import quantize_folder  # noqa: PLC0415

        quantize_folder(args.out)
    print(f"{args.out}: head of {args.checkpoint}, repository weight {weight:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
