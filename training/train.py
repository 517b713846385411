"""Train a FastWeights model (or the plain-transformer baseline) under a wall-clock budget.

    python training/train.py --data data/shards --out runs/fw-small --budget-min 50
    python training/train.py --preset gpu --data data/shards --out runs/fw-gpu   # on a CUDA machine
    torchrun --standalone --nproc_per_node=8 training/train.py --preset gpu ...  # several GPUs

Reads pre-tokenised shards (training/shards.py): {split}.bin (uint16) or {split}.bin.xz (the
same, xz-compressed to travel; decompressed into memory). Checkpoints every few minutes and at the
end; run the same command again to resume. The learning-rate schedule follows the fraction of the
budget spent, so a run stopped and resumed ends where an uninterrupted one would.

Under torchrun (WORLD_SIZE > 1) the model is wrapped in DistributedDataParallel (nccl on CUDA,
gloo on CPU): --batch is per process, each rank samples windows from its own contiguous slice of
the train token stream, and rank 0 alone evaluates, checkpoints and logs. Rank 0's clock is
broadcast every --sync-every steps, so all ranks share the learning rate and stop together.
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import FastWeightsLM, ModelConfig  # noqa: E402

SMALL = dict(d_model=256, n_layer=6, n_head=4, attn_window=256)  # fw-code-small's shape
PRESETS = {
    # Measured on the 2-core dev machine: see ../shared/notes/measured-here.md.
    "cpu": dict(**SMALL, batch=4, seq_len=1024, lr=2e-3, warmup_steps=50),
    # One GPU, a few minutes: bigger batches (per process under torchrun).
    "gpu": dict(**SMALL, batch=32, seq_len=1024, lr=3e-3, warmup_steps=200),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="folder with train.bin/valid.bin")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, log)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None)
    p.add_argument("--budget-min", type=float, default=50.0, help="wall-clock training budget")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: none)")
    p.add_argument("--d-model", type=int, default=None)
    p.add_argument("--n-layer", type=int, default=None)
    p.add_argument("--n-head", type=int, default=None)
    p.add_argument("--attn-window", type=int, default=None)
    p.add_argument("--seq-len", type=int, default=None, help="tokens per training sequence")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument(
        "--slow-loss-weight",
        type=float,
        default=0.3,
        help="loss = (1-w) fast + w slow: keeps the zero-state model good",
    )
    p.add_argument("--fwl-half-life", type=float, default=256.0, help="state decay, in tokens")
    p.add_argument("--no-fwl", action="store_true", help="train the plain-transformer baseline")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    p.add_argument("--no-bf16", action="store_true", help="fp32 instead of bf16 autocast")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--eval-every-min", type=float, default=5.0)
    p.add_argument("--ckpt-every-min", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--sync-every", type=int, default=10, help="steps between clock syncs (DDP)")
    args = p.parse_args(argv)
    preset = PRESETS[args.preset or ("gpu" if pick_device(args.device) == "cuda" else "cpu")]
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def pick_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def setup_speed(device: str, threads: int) -> None:
    if device == "cpu":
        # PyTorch may pick one thread on small machines; use every core.
        torch.set_num_threads(threads or os.cpu_count() or 1)
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def load_tokens(folder: Path, split: str) -> np.ndarray:
    """A split's flat uint16 token stream: {split}.bin memory-mapped, else {split}.bin.xz read
    into memory."""
    raw = folder / f"{split}.bin"
    if raw.exists():
        return np.memmap(raw, dtype=np.uint16, mode="r")
    packed = folder / f"{split}.bin.xz"
    if packed.exists():
        return np.frombuffer(lzma.decompress(packed.read_bytes()), dtype=np.uint16)
    raise FileNotFoundError(f"no {raw} or {packed}")


class Batches:
    """Random windows of seq_len+1 tokens from a flat uint16 token stream (files start with bos).
    With world > 1, rank r draws only from the r-th of world contiguous slices of the stream."""

    def __init__(self, tokens, seq_len, batch, bos, seed, rank=0, world=1):
        n = len(tokens) // world
        self.tokens = tokens[rank * n : (rank + 1) * n]
        self.seq_len, self.batch, self.bos = seq_len, batch, bos
        self.rng = np.random.default_rng(seed + 1_000_003 * rank)

    def next(self, device):
        starts = self.rng.integers(0, len(self.tokens) - self.seq_len - 1, self.batch)
        rows = np.stack([self.tokens[s : s + self.seq_len + 1] for s in starts]).astype(np.int64)
        seq = torch.from_numpy(rows).to(device, non_blocking=True)
        inputs, targets = seq[:, :-1], seq[:, 1:]
        # A target that is the next file's bos is not scored and feeds no fast weights.
        weights = (targets != self.bos).float()
        return inputs, targets, weights


def fixed_eval_batches(tokens, seq_len: int, n_seqs: int, bos: int):
    """The same evenly spaced windows of the valid split at every evaluation."""
    starts = np.linspace(0, len(tokens) - seq_len - 2, n_seqs).astype(np.int64)
    rows = np.stack([tokens[s : s + seq_len + 1] for s in starts]).astype(np.int64)
    seq = torch.from_numpy(rows)
    return seq[:, :-1], seq[:, 1:], (seq[:, 1:] != bos).float()


@torch.no_grad()
def evaluate(model, batches, device, autocast, batch_size=4):
    model.eval()
    tot_slow = tot_fast = tot_w = 0.0
    inputs, targets, weights = batches
    for i in range(0, len(inputs), batch_size):
        x, y, w = (t[i : i + batch_size].to(device) for t in (inputs, targets, weights))
        with autocast():
            slow, fast = model(x, y, w)
        n = w.sum().item()
        tot_slow += slow.item() * n
        tot_fast += (fast if fast is not None else slow).item() * n
        tot_w += n
    model.train()
    to_bits = 1 / (tot_w * math.log(2))
    return tot_slow * to_bits, tot_fast * to_bits


def lr_at(args, step: int, frac: float) -> float:
    """Linear warm-up, then cosine decay to 10% following the fraction of the budget spent."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def make_optimizer(model, args):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "log_eta" not in name else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": args.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), eps=1e-8)


class Dist:
    """This process's place in a torchrun job (world 1 without torchrun)."""

    def __init__(self, device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        if self.world > 1:
            if device == "cuda":
                torch.cuda.set_device(self.local_rank)
                self.device = f"cuda:{self.local_rank}"
            dist.init_process_group("nccl" if device == "cuda" else "gloo")
        self.main = self.rank == 0

    def broadcast_float(self, value: float) -> float:
        """Rank 0's value on every rank."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(t, 0)
        return t.item()

    def close(self):
        if self.world > 1:
            dist.destroy_process_group()


def save_checkpoint(path: Path, model, opt, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), **state}, tmp)
    os.replace(tmp, path)  # atomic: a killed run never leaves half a checkpoint


def main(argv=None):
    args = parse_args(argv)
    ddp = Dist(pick_device(args.device))
    device = ddp.device
    setup_speed(device, args.threads)
    torch.manual_seed(args.seed)
    log = print if ddp.main else (lambda *a, **k: None)
    if ddp.main:
        args.out.mkdir(parents=True, exist_ok=True)
    meta = json.loads((args.data / "meta.json").read_text())
    cfg = ModelConfig(
        vocab_size=meta["vocab_size"],
        d_model=args.d_model,
        n_layer=args.n_layer,
        n_head=args.n_head,
        attn_window=args.attn_window,
        fwl=not args.no_fwl,
        fwl_decay=0.5 ** (1 / args.fwl_half_life),
        bos_token_id=meta["bos_token_id"],
    )
    model = FastWeightsLM(cfg).to(device)
    opt = make_optimizer(model, args)
    ckpt_path = args.out / "checkpoint.pt"
    state = {"step": 0, "elapsed_s": 0.0, "tokens_seen": 0, "history": []}
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        state = {k: ckpt[k] for k in state}
        log(f"resumed from step {state['step']} ({state['elapsed_s'] / 60:.1f} min spent)")
    dev_type = "cuda" if device.startswith("cuda") else "cpu"
    use_bf16 = not args.no_bf16 and (dev_type == "cuda" or torch.backends.mkldnn.is_available())

    def autocast():
        return torch.autocast(device_type=dev_type, dtype=torch.bfloat16, enabled=use_bf16)

    n_params = sum(p.numel() for p in model.parameters())
    log(
        f"model: {n_params / 1e6:.2f}M parameters, fwl={cfg.fwl}, device={device}, "
        f"threads={torch.get_num_threads()}, bf16={use_bf16}, batch={args.batch}x{args.seq_len}"
        f" x {ddp.world} process(es)"
    )
    train = Batches(
        load_tokens(args.data, "train"),
        args.seq_len,
        args.batch,
        cfg.bos_token_id,
        args.seed + state["step"],
        ddp.rank,
        ddp.world,
    )
    valid = None
    if ddp.main:
        valid = fixed_eval_batches(
            load_tokens(args.data, "valid"), args.seq_len, 64, cfg.bos_token_id
        )
    net = model if ddp.world == 1 else DistributedDataParallel(model)
    budget_s = args.budget_min * 60
    run_start = time.time() - state["elapsed_s"]
    last_ckpt = last_eval = time.time()
    window_tokens, window_start = 0, time.time()
    elapsed = ddp.broadcast_float(time.time() - run_start)

    def checkpoint():
        state["elapsed_s"] = time.time() - run_start
        if ddp.main:
            info = {**state, "config": cfg.to_dict(), "args": vars_json(args)}
            save_checkpoint(ckpt_path, model, opt, info)

    model.train()
    while True:
        # One process: its own clock every step. Several: rank 0's, every sync_every steps.
        if ddp.world == 1 or state["step"] % args.sync_every == 0:
            elapsed = ddp.broadcast_float(time.time() - run_start)
            if elapsed >= budget_s or (args.max_steps and state["step"] >= args.max_steps):
                break
        elif args.max_steps and state["step"] >= args.max_steps:
            break
        frac = elapsed / budget_s  # the schedule follows the budget (or the steps, if capped)
        if args.max_steps:
            frac = max(frac, state["step"] / args.max_steps)
        lr = lr_at(args, state["step"], frac)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y, w = train.next(device)
        with autocast():
            slow, fast = net(x, y, w)
        loss = (
            slow
            if fast is None
            else (1 - args.slow_loss_weight) * fast + args.slow_loss_weight * slow
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state["tokens_seen"] += x.numel() * ddp.world
        window_tokens += x.numel() * ddp.world
        if ddp.main and state["step"] % args.log_every == 0:
            now = time.time()
            tok_s = window_tokens / (now - window_start)
            eta_min = (budget_s - (now - run_start)) / 60
            fast_txt = "" if fast is None else f" fast {fast.item():.3f}"
            eta_txt = ""
            if cfg.fwl:
                eta_txt = " eta " + ",".join(f"{v:.3f}" for v in model.head.eta().tolist())
            log(
                f"step {state['step']:6d} | slow {slow.item():.3f}{fast_txt} nats/token"
                f" | lr {lr:.2e}"
                f" | {tok_s:,.0f} tok/s | {state['tokens_seen'] / 1e6:.1f}M tokens"
                f" | ETA {eta_min:.1f} min{eta_txt}",
                flush=True,
            )
            window_tokens, window_start = 0, now
        if ddp.main and time.time() - last_eval > args.eval_every_min * 60:
            record_eval(model, valid, device, autocast, state)
            last_eval = time.time()
        if time.time() - last_ckpt > args.ckpt_every_min * 60:
            checkpoint()
            last_ckpt = time.time()
    if ddp.main:
        record_eval(model, valid, device, autocast, state)
    checkpoint()
    log(
        f"done: {state['step']} steps, {state['tokens_seen'] / 1e6:.1f}M tokens, "
        f"{(time.time() - run_start) / 60:.1f} min; checkpoint {ckpt_path}"
    )
    ddp.close()
    return model


def record_eval(model, valid, device, autocast, state):
    slow_bits, fast_bits = evaluate(model, valid, device, autocast)
    entry = {
        "step": state["step"],
        "tokens_seen": state["tokens_seen"],
        "valid_bits_per_token_static": slow_bits,
        "valid_bits_per_token_adapted": fast_bits,
    }
    state["history"].append(entry)
    print(
        f"eval step {state['step']}: valid bits/token"
        f" static {slow_bits:.4f} adapted {fast_bits:.4f}",
        flush=True,
    )


def vars_json(args):
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


if __name__ == "__main__":
    main()
