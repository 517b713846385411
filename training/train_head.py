"""Train the FWL head on repository sequences with the body frozen, on a CPU (issue 27).

    python training/corpus.py fetch --train-sample 70 --out data/corpus-head   # 160 MB of source
    python training/train_head.py --corpus data/corpus-head --out runs/head-repo --budget-min 70

Starts from the shipped model folder (its weights rebuilt by recover_checkpoint.py). A training
example is one file of a train package, scored with its own decayed state (as train.py does) plus a
repository state: the mean contribution of its most related other files (repo_sequences.py's order,
within --context-tokens), scaled to one file's decayed mass and multiplied by a learned weight. That
is the runtime's rule (src/runtime/repositoryState.ts), so the learned weight ships as the model
folder's `repository.weight`. A share of the examples (--single-share) gets no repository state, so
the file-only case keeps being trained.

What trains: the head's weights, its step sizes and the repository weight. The body runs forward
only (bf16 autocast). The other files' contributions are computed with the current head but without
gradient, and cached per file for --refresh-steps steps: the head learns to read a repository state,
and how its writes change is left to the file's own state. Targets come in groups (a file and its
most related files, --targets-per-package in a row), so their states share most cached sums.

Checkpoints every few minutes (head, repository weight, optimizer, the files seen); run the same
command again to resume. --export writes the head into a copy of the model folder's weights
(runs/.../checkpoint-full.pt) that export.py reads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections import OrderedDict, defaultdict
from pathlib import Path

import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import STATE_NAMES, FastWeightsLM, decay_matrix, weighted_ce  # noqa: E402
from repo_sequences import Package  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "fw-code-small"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus-head")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "head-repo")
    p.add_argument("--model", type=Path, default=MODEL)
    p.add_argument("--budget-min", type=float, default=80.0)
    p.add_argument("--max-steps", type=int, default=0)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--scalar-lr-scale", type=float, default=10.0, help="step sizes, weight")
    p.add_argument("--warmup-steps", type=int, default=20)
    p.add_argument("--slow-loss-weight", type=float, default=0.3)
    p.add_argument("--single-share", type=float, default=0.25, help="examples with no repository")
    p.add_argument("--start-share", type=float, default=0.5, help="windows at the file's start")
    p.add_argument("--context-tokens", type=int, default=4096, help="repository budget")
    p.add_argument("--targets-per-package", type=int, default=16)
    p.add_argument("--max-files-per-package", type=int, default=200)
    p.add_argument("--refresh-steps", type=int, default=100, help="age of a cached file sum")
    p.add_argument("--cache-files", type=int, default=1500, help="file sums kept (1 MB each)")
    p.add_argument("--repository-weight", type=float, default=1.0, help="initial weight")
    p.add_argument("--valid-targets", type=int, default=24)
    p.add_argument("--eval-every-min", type=float, default=15.0)
    p.add_argument("--ckpt-every-min", type=float, default=3.0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=27)
    p.add_argument("--export", action="store_true", help="write checkpoint-full.pt and stop")
    return p.parse_args(argv)


def load_packages(corpus: Path, split: str, tok: Tokenizer, max_files: int, seed: int):
    """{package: (Package of texts, {path: token ids})}, at most max_files files per package."""
    by_pkg: dict[str, dict[str, str]] = defaultdict(dict)
    with open(corpus / f"{split}.jsonl") as f:
        for line in f:
            r = json.loads(line)
            by_pkg[r["package"]][r["path"]] = r["text"]
    out = {}
    rng = random.Random(seed)
    for name in sorted(by_pkg):
        paths = sorted(by_pkg[name])
        if len(paths) > max_files:
            paths = sorted(rng.sample(paths, max_files))
        files = {p: by_pkg[name][p] for p in paths}
        enc = tok.encode_batch([files[p] for p in paths])
        out[name] = (Package(files), {p: e.ids for p, e in zip(paths, enc, strict=True)})
    return out


def bf16():
    """bf16 autocast where the CPU has it (the shipped model trained in bf16 too)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=torch.backends.mkldnn.is_available())


@torch.no_grad()
def hidden(model: FastWeightsLM, ids: list[int], chunk: int = 1024) -> torch.Tensor:
    """Body output [len(ids), d] for a token list that starts at a file's bos."""
    cfg = model.cfg
    x = torch.tensor(ids)[None]
    out, past_k, past_v = [], None, None
    keep = cfg.attn_window - 1
    for a in range(0, len(ids), chunk):
        b = min(a + chunk, len(ids))
        with bf16():
            h, past_k, past_v = model.body(x[:, a:b], torch.arange(a, b)[None], past_k, past_v)
        past_k, past_v = past_k[:, :, :, -keep:], past_v[:, :, :, -keep:]
        out.append(h[0])
    return torch.cat(out)


class FileSums:
    """Per-file contribution sums under the current head, cached (LRU) and recomputed when stale."""

    def __init__(self, model, capacity: int, refresh: int):
        self.model, self.capacity, self.refresh = model, capacity, refresh
        self.cache: OrderedDict = OrderedDict()
        self.hits = self.misses = 0

    @torch.no_grad()
    def get(self, key, ids: list[int], step: int) -> dict[str, torch.Tensor]:
        entry = self.cache.get(key)
        if entry is not None and step - entry[0] < self.refresh:
            self.cache.move_to_end(key)
            self.hits += 1
            return entry[1]
        self.misses += 1
        x = [self.model.cfg.bos_token_id, *ids]
        h = hidden(self.model, x[:-1])
        tgt = torch.tensor(x[1:])[None]
        with bf16():
            s = self.model.state_contribution(h[None], tgt, torch.ones(tgt.shape))
        s = {k: v.float().to(torch.bfloat16) for k, v in s.items()}
        self.cache[key] = (step, s)
        self.cache.move_to_end(key)
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)
        return s


def repository_state(model, sums: FileSums, name, pkg, ids, target, budget, step):
    """The runtime's repository state for `target`: mean of its related files' sums within the
    budget, times 1 / (1 - lambda). None when no other file fits."""
    context, used = [], 0
    for p in pkg.related(target):
        n = len(ids[p])
        if n == 0 or used + n > budget:
            continue
        context.append(p)
        used += n
    if not context:
        return None, []
    total = {k: 0.0 for k in STATE_NAMES}
    for p in context:
        s = sums.get((name, p), ids[p], step)
        total = {k: total[k] + s[k].float() for k in STATE_NAMES}
    scale = 1 / (1 - model.cfg.fwl_decay) / used
    return {k: v * scale for k, v in total.items()}, context


class Head(torch.nn.Module):
    """The trainable part: the model's FWL head and the repository weight (kept positive)."""

    def __init__(self, model: FastWeightsLM, weight: float):
        super().__init__()
        self.head = model.head
        self.log_repository_weight = torch.nn.Parameter(torch.tensor(math.log(weight)))

    def repository_weight(self) -> torch.Tensor:
        return self.log_repository_weight.exp()


def example_losses(model, head: Head, h, tgt, w, repo):
    """(slow, file-only fast, fast with the repository) mean nats per scored token.

    h [B,T,d] body output; repo: per-sequence states (zeros where a sequence has none)."""
    fwl = model.head
    slow = fwl.slow(h)
    logits = model.unembed(slow["y"])
    denom = w.sum().clamp(min=1)
    slow_loss = weighted_ce(logits, tgt, w) / denom
    grads = fwl.local_grads(h, slow, logits, tgt, w, model.emb.weight)
    decay = decay_matrix(h.shape[1], model.cfg.fwl_decay, h.device).to(h.dtype)
    scaled = {k: v * head.repository_weight() for k, v in repo.items()}
    fast = model.unembed(fwl.fast(h, slow, grads, decay, per_sequence=scaled))
    return slow_loss, weighted_ce(fast, tgt, w) / denom


class Examples:
    """Draws (package, target, window) examples, package by package."""

    def __init__(self, packages, args, seed):
        self.packages, self.args = packages, args
        self.rng = random.Random(seed)
        self.names = [n for n, (_, ids) in packages.items() if len(ids) >= 2]
        self.queue: list[tuple[str, str]] = []

    def next(self):
        if not self.queue:
            name = self.rng.choice(self.names)
            pkg, ids = self.packages[name]
            paths = [p for p in sorted(ids) if len(ids[p]) >= 32]
            if not paths:
                return self.next()
            # A seed file and its most related files: their repository states share most files,
            # so the cached sums are reused.
            seed = self.rng.choice(paths)
            near = [p for p in pkg.related(seed) if len(ids[p]) >= 32]
            group = [seed, *near[: self.args.targets_per_package - 1]]
            self.queue = [(name, p) for p in group]
            self.rng.shuffle(self.queue)
            return self.next()
        name, path = self.queue.pop()
        ids = self.packages[name][1][path]
        t = self.args.seq_len
        start = 0
        if len(ids) + 1 > t + 1 and self.rng.random() >= self.args.start_share:
            start = self.rng.randrange(0, len(ids) + 1 - t)
        with_repo = self.rng.random() >= self.args.single_share
        return name, path, start, with_repo


def build_batch(model, sums, packages, picks, args, step):
    """Body outputs, targets, weights and per-sequence repository states for a list of picks."""
    t, d = args.seq_len, model.cfg.d_model
    b = len(picks)
    h = torch.zeros(b, t, d)
    tgt = torch.zeros(b, t, dtype=torch.long)
    w = torch.zeros(b, t)
    repo = {k: v.expand(b, *v.shape).clone() for k, v in model.zero_state().items()}
    used = []
    keep = model.cfg.attn_window - 1
    for i, (name, path, start, with_repo) in enumerate(picks):
        pkg, ids = packages[name]
        x = [model.cfg.bos_token_id, *ids[path]]
        lo = max(0, start - keep)  # the body sees the tokens before the window
        seg = x[lo : start + t + 1]
        hs = hidden(model, seg[:-1])[start - lo :]
        n = hs.shape[0]
        h[i, :n] = hs.float()
        tgt[i, :n] = torch.tensor(seg[start - lo + 1 :])
        w[i, :n] = 1
        used.append((name, path))
        if with_repo:
            state, context = repository_state(
                model, sums, name, pkg, ids, path, args.context_tokens, step
            )
            if state is not None:
                for k in STATE_NAMES:
                    repo[k][i] = state[k]
                used += [(name, p) for p in context]
    return h, tgt, w, repo, used


def valid_picks(packages, count: int, seed: int):
    """A fixed set of valid targets, each scored from its start with and without its repository."""
    rng = random.Random(seed)
    all_paths = [(n, p) for n, (_, ids) in packages.items() for p in ids if len(ids[p]) >= 256]
    chosen = sorted(rng.sample(all_paths, min(count, len(all_paths))))
    return [(n, p, 0, True) for n, p in chosen]


@torch.no_grad()
def evaluate(model, head, sums, packages, picks, args, autocast):
    """Valid nats per token: static, file-only FWL, FWL with the repository state."""
    totals = {"static": 0.0, "file": 0.0, "repository": 0.0}
    for i in range(0, len(picks), args.batch):
        h, tgt, w, repo, _ = build_batch(model, sums, packages, picks[i : i + args.batch], args, 0)
        zero = {k: torch.zeros_like(v) for k, v in repo.items()}
        with autocast():
            slow, file_only = example_losses(model, head, h, tgt, w, zero)
            _, with_repo = example_losses(model, head, h, tgt, w, repo)
        n = len(picks[i : i + args.batch])
        totals["static"] += slow.item() * n
        totals["file"] += file_only.item() * n
        totals["repository"] += with_repo.item() * n
    return {k: v / len(picks) for k, v in totals.items()}


def lr_at(args, step, frac):
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def save(path: Path, head: Head, opt, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"head": head.state_dict(), "opt": opt.state_dict(), **state}, tmp)
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.out / "checkpoint.pt"
    from recover_checkpoint import recover  # noqa: PLC0415

    model, _ = recover(args.model)
    model.float()
    for p in model.parameters():
        p.requires_grad_(False)
    head = Head(model, args.repository_weight)
    for p in head.parameters():
        p.requires_grad_(True)
    # The step sizes and the repository weight are scalars on a log scale: a larger rate.
    scalars = [model.head.log_eta, head.log_repository_weight]
    matrices = [p for p in head.parameters() if all(p is not q for q in scalars)]
    opt = torch.optim.AdamW(
        [{"params": matrices, "scale": 1.0}, {"params": scalars, "scale": args.scalar_lr_scale}],
        lr=args.lr,
        weight_decay=0.0,
    )
    state = {"step": 0, "elapsed_s": 0.0, "tokens_seen": 0, "history": [], "files": []}
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=False)
        head.load_state_dict(ckpt["head"])
        opt.load_state_dict(ckpt["opt"])
        state = {k: ckpt[k] for k in state}
        print(f"resumed from step {state['step']} ({state['elapsed_s'] / 60:.1f} min spent)")
    if args.export:
        full = args.out / "checkpoint-full.pt"
        weight = head.repository_weight().item()
        info = {**state, "args": {"seq_len": args.seq_len}, "repository_weight": weight}
        torch.save({"model": model.state_dict(), "config": model.cfg.to_dict(), **info}, full)
        print(f"{full}: repository weight {weight:.4f}")
        return 0
    tok = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    t0 = time.time()
    train = load_packages(args.corpus, "train", tok, args.max_files_per_package, args.seed)
    valid = load_packages(args.corpus, "valid", tok, args.max_files_per_package, args.seed)
    n_tok = sum(len(i) for _, ids in train.values() for i in ids.values())
    print(f"train: {len(train)} packages, {n_tok / 1e6:.1f}M tokens ({time.time() - t0:.0f} s)")
    sums = FileSums(model, args.cache_files, args.refresh_steps)
    valid_sums = FileSums(model, 10**6, 10**9)
    picks = valid_picks(valid, args.valid_targets, args.seed)
    examples = Examples(train, args, args.seed + state["step"])
    seen = set(map(tuple, state["files"]))

    def record_eval():
        valid_sums.cache.clear()  # the contributions under the head as it is now
        r = evaluate(model, head, valid_sums, valid, picks, args, bf16)
        entry = {"step": state["step"], "tokens_seen": state["tokens_seen"], **r}
        entry["repository_weight"] = head.repository_weight().item()
        state["history"].append(entry)
        print(
            f"eval step {state['step']}: valid nats/token static {r['static']:.4f}"
            f" file {r['file']:.4f} repository {r['repository']:.4f}"
            f" (weight {entry['repository_weight']:.3f})",
            flush=True,
        )

    def checkpoint():
        state["elapsed_s"] = time.time() - run_start
        state["files"] = sorted(seen)
        saved = {k: str(v).replace(f"{ROOT}/", "") for k, v in vars(args).items()}
        save(ckpt_path, head, opt, {**state, "args": saved})

    budget_s = args.budget_min * 60
    run_start = time.time() - state["elapsed_s"]
    if not state["history"]:
        record_eval()
    last_eval = last_ckpt = window_start = time.time()
    window_tokens = 0
    while True:
        elapsed = time.time() - run_start
        if elapsed >= budget_s or (args.max_steps and state["step"] >= args.max_steps):
            break
        lr = lr_at(args, state["step"], elapsed / budget_s)
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"]
        picked = [examples.next() for _ in range(args.batch)]
        h, tgt, w, repo, used = build_batch(model, sums, train, picked, args, state["step"])
        seen.update(used)
        with bf16():
            slow, fast = example_losses(model, head, h, tgt, w, repo)
        loss = (1 - args.slow_loss_weight) * fast + args.slow_loss_weight * slow
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state["tokens_seen"] += int(w.sum())
        window_tokens += int(w.sum())
        if state["step"] % 10 == 0:
            now = time.time()
            etas = ",".join(f"{v:.3f}" for v in model.head.eta().tolist())
            print(
                f"step {state['step']:5d} | slow {slow.item():.3f} fast {fast.item():.3f}"
                f" | lr {lr:.1e} | {window_tokens / (now - window_start):,.0f} tok/s"
                f" | {state['tokens_seen'] / 1e6:.2f}M tokens | ETA {(budget_s - elapsed) / 60:.1f}"
                f" min | weight {float(head.repository_weight()):.3f} eta {etas}"
                f" | sums hit {sums.hits}/{sums.hits + sums.misses}",
                flush=True,
            )
            window_tokens, window_start = 0, now
        if time.time() - last_eval > args.eval_every_min * 60:
            record_eval()
            last_eval = time.time()
        if time.time() - last_ckpt > args.ckpt_every_min * 60:
            checkpoint()
            last_ckpt = time.time()
    record_eval()
    checkpoint()
    print(f"done: {state['step']} steps, {state['tokens_seen'] / 1e6:.2f}M tokens; {ckpt_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
