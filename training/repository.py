"""The repository state in PyTorch, by the runtime's rule (src/runtime/repositoryState.ts).

For a target file of a package, its most related other files (repo_sequences.py's order) give one
state: the plain sum of their positions' contributions, over the files that fit a token budget (most
related first, a file that does not fit skipped), divided by their tokens and multiplied by
1 / (1 - lambda), the mass of a file's own decayed state. Scoring adds it, times a weight, to the
whole-file state of evaluate.py (mode "fwl_workspace").

    python training/repository.py --target DIR/src/a.ts --workspace DIR [--weight W] [--budget N]

prints the target's bits per byte with and without the repository state (JSON), with the PyTorch
model rebuilt from the shipped graphs: what `fastweights eval --workspace` must agree with.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import STATE_NAMES, FastWeightsLM  # noqa: E402
from repo_sequences import Package  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# The extensions `fastweights eval` reads (src/runtime/evaluate.ts CODE_EXTENSIONS).
CODE_EXTENSIONS = {".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".py"}


@torch.no_grad()
def file_sum(model: FastWeightsLM, ids: list[int]) -> dict[str, torch.Tensor]:
    """Sum of the contributions of every position of [bos, *ids] that predicts a next token."""
    cfg = model.cfg
    dev = next(model.parameters()).device
    x = torch.tensor([cfg.bos_token_id, *ids], device=dev)[None]
    n = x.shape[1] - 1
    total = model.zero_state(dev)
    past_k = past_v = None
    for a in range(0, n, cfg.attn_window):
        b = min(a + cfg.attn_window, n)
        pos = torch.arange(a, b, device=dev)[None]
        h, past_k, past_v = model.body(x[:, a:b], pos, past_k, past_v)
        keep = cfg.attn_window - 1
        past_k, past_v = past_k[:, :, :, -keep:], past_v[:, :, :, -keep:]
        ones = torch.ones(1, b - a, device=dev)
        c = model.state_contribution(h, x[:, a + 1 : b + 1], ones)
        total = {k: total[k] + c[k] for k in STATE_NAMES}
    return total


def repository_state(
    model: FastWeightsLM, related_ids: list[list[int]], budget: int
) -> tuple[dict[str, torch.Tensor], int, int]:
    """The state of the related files (most related first) within `budget` tokens: (state, tokens,
    files). Scaled to one file's decayed mass; multiply by the weight before adding it."""
    dev = next(model.parameters()).device
    state = model.zero_state(dev)
    tokens = files = 0
    for ids in related_ids:
        if not ids or tokens + len(ids) > budget:
            continue
        s = file_sum(model, ids)
        state = {k: state[k] + s[k] for k in STATE_NAMES}
        tokens += len(ids)
        files += 1
    if tokens:
        scale = 1 / (1 - model.cfg.fwl_decay) / tokens
        state = {k: v * scale for k, v in state.items()}
    return state, tokens, files


def code_files(folder: Path) -> list[Path]:
    """The files `fastweights eval` reads under `folder` (node_modules and dot names skipped)."""
    out = []
    for p in sorted(folder.iterdir()):
        if p.name == "node_modules" or p.name.startswith("."):
            continue
        if p.is_dir():
            out += code_files(p)
        elif p.suffix.lower() in CODE_EXTENSIONS:
            out.append(p)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", type=Path, required=True)
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--weight", type=float, default=1.0)
    ap.add_argument("--budget", type=int, default=16384)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "fw-code-small")
    args = ap.parse_args(argv)

    from evaluate import score_tokens  # noqa: PLC0415
    from recover_checkpoint import recover  # noqa: PLC0415

    torch.set_num_threads(1)
    model, _ = recover(args.model)
    model = model.float().eval()
    tok = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    root = args.workspace.resolve()
    files = {p.relative_to(root).as_posix(): p.read_text() for p in code_files(root)}
    target = args.target.resolve().relative_to(root).as_posix()
    text = args.target.read_text()
    related = Package(files).related(target) if target in files else sorted(files)
    related_ids = [tok.encode(files[p]).ids for p in related]
    state, tokens, count = repository_state(model, related_ids, args.budget)
    ids = [model.cfg.bos_token_id, *tok.encode(text).ids]
    nll = score_tokens(model, ids, repository=state, repository_weight=args.weight)
    nbytes = len(text.encode())
    bpb = {m: float(v.sum()) / math.log(2) / nbytes for m, v in nll.items()}
    print(
        json.dumps({"bits_per_byte": bpb, "repository_tokens": tokens, "repository_files": count})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
