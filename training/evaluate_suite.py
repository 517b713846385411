"""The six-way evaluation of issue 4, one command, resumable:

    .venv/bin/python training/evaluate_suite.py --out runs/eval/suite

Stages (each caches its results under --out; `--stages` picks some, default all in this order):
- score:   per-token NLL of every test file of at least 100 tokens under 0 baseline (no-FWL
           checkpoint), 1 static (FWL state zero), 2 FWL causal, 3 FWL whole file
           (training/evaluate.py's exact chunked rule). Files of >= 1,000 tokens first.
- valid:   static NLL of a seeded subset of valid files (for tuning the cache peer).
- cache:   5 cache peer (training/cache_peer.py), tuned on valid, applied to the test NLLs.
- dyneval: 4 dynamic evaluation (training/dynamic_eval.py): SGD and RMS with decay to the original
           weights, tuned on valid, then run on a seeded subset of the test files, with the static
           model timed on the same files; FLOPs counted with torch's FlopCounterMode.
- lines:   line completion (training/line_completion.py): exact match and edit similarity, static vs
           FWL causal vs FWL whole file (target line removed from the document).
- report:  report.json and report.md (the tables of the model card).
- repository: each file of --repository-split (files of >= --min-tokens) scored with the state of
           the other files of its package (repository.py's rule, the file itself left out): static,
           FWL whole file, FWL whole file + repository, by position in the file (0-512, 512-4k,
           4k+), for --checkpoint and, when given, --head-checkpoint (train_head.py --export).
           Not in the default order: `--stages repository`.
Bits per byte = NLL in bits / UTF-8 bytes of the scored text, every file scored whole.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cache_peer  # noqa: E402
import dynamic_eval  # noqa: E402
import line_completion  # noqa: E402
from dynamic_eval import static_nll  # noqa: E402
from evaluate import score_tokens, token_byte_lengths  # noqa: E402
from export import load_checkpoint  # noqa: E402

LN2 = math.log(2)
FWL_MODES = ("static", "adapted", "adapted_whole_file")
SCORE_MODES = ("baseline", *FWL_MODES)
# Length buckets (tokens per file) for the >= 1,000-token suite and for the bounded-rule table.
LENGTH_BUCKETS = (
    (100, 1000, "100-1k"),
    (1000, 2000, "1k-2k"),
    (2000, 4000, "2k-4k"),
    (4000, 8000, "4k-8k"),
    (8000, 20001, "8k-20k"),
    (20001, 10**9, "20k+"),
)
# Position buckets (token index inside the file) for the bounded-rule table.
POSITION_BUCKETS = (
    (0, 1000, "0-1k"),
    (1000, 2000, "1k-2k"),
    (2000, 4000, "2k-4k"),
    (4000, 8000, "4k-8k"),
    (8000, 20000, "8k-20k"),
)
STAGES = ("score", "valid", "cache", "mix", "dyneval", "lines", "ts", "report", "repository")
DEFAULT_STAGES = STAGES[:-1]
# Position buckets of the repository stage: where another file's text matters most is the start.
REPOSITORY_BUCKETS = ((0, 512, "0-512"), (512, 4096, "512-4k"), (4096, 10**9, "4k+"))
REPOSITORY_MODES = ("static", "adapted_whole_file", "fwl_workspace")
# FWL modes mixed with the file's n-gram cache (stage mix): the product's adaptation.
MIX_MODES = ("static_ngram_cache", "adapted_ngram_cache", "adapted_whole_file_ngram_cache")
# The extension's cache: order 8, mixed through a gate fitted on valid (cache_peer.fit_gate).
GATE_ORDER = 8
GATE_BETAS = (0.5, 1.0, 2.0)
# The same mixes in `fastweights eval` (TypeScript) where its names differ.
TS_NAMES = {"static_ngram_cache": "ngram_cache"}


def load_split(corpus: Path, split: str, tok: Tokenizer, cache: Path | None = None) -> list[dict]:
    """Every file of a split with its index, ids (no bos) and UTF-8 byte count.

    Token ids are cached in `cache` (a .pkl) when given, keyed by the split file's size and time.
    """
    src = corpus / f"{split}.jsonl"
    key = (src.stat().st_size, src.stat().st_mtime_ns, tok.get_vocab_size())
    if cache is not None and cache.exists():
        with cache.open("rb") as f:
            saved = pickle.load(f)
        if saved["key"] == key:
            return saved["files"]
    out = []
    with (corpus / f"{split}.jsonl").open() as f:
        for i, line in enumerate(f):
            rec = json.loads(line)
            text = rec["text"]
            out.append(
                dict(
                    index=i,
                    package=rec.get("package", ""),
                    path=rec.get("path", ""),
                    text=text,
                    ids=tok.encode(text).ids,
                    bytes=len(text.encode()),
                )
            )
    if cache is not None:
        with cache.open("wb") as f:
            pickle.dump({"key": key, "files": out}, f)
    return out


def seeded_subset(files: list[dict], count: int, seed: int) -> list[dict]:
    """A fixed subset: `count` files drawn with random.Random(seed), returned in split order."""
    if count <= 0 or count >= len(files):
        return list(files)
    chosen = random.Random(seed).sample(range(len(files)), count)
    return [files[i] for i in sorted(chosen)]


def bpb(nats: float, nbytes: int) -> float:
    return nats / max(nbytes, 1) / LN2


# ---------------------------------------------------------------------------------------------
# Stage: score


def score_stage(args, tok, files, log):
    """Per-file NLL arrays (nats, float32) of the four network modes, one .npz per file."""
    folder = args.out / "test"
    folder.mkdir(parents=True, exist_ok=True)
    fwl = load_checkpoint(args.checkpoint).to(args.device)
    base = load_checkpoint(args.baseline).to(args.device)
    todo = [f for f in files if len(f["ids"]) >= args.min_tokens_table]
    # >= 1k first, in a seeded order (a run cut short leaves a random subset), then the rest.
    random.Random(args.seed).shuffle(todo)
    todo.sort(key=lambda f: len(f["ids"]) < args.min_tokens)
    if args.short_files:  # the dynamic-evaluation subset, then N seeded short files
        by_index = sorted(todo, key=lambda f: f["index"])
        big = [f for f in by_index if len(f["ids"]) >= args.min_tokens]
        short = [f for f in by_index if len(f["ids"]) < args.min_tokens]
        todo = seeded_subset(big, args.dyneval_files, args.seed)
        todo += seeded_subset(short, args.short_files, args.seed)
    k_shard, n_shards = (int(v) for v in args.shard.split("/"))
    todo = todo[k_shard::n_shards]  # parallel processes split the files
    t0 = time.time()
    done_tokens = 0
    for k, f in enumerate(todo):
        path = folder / f"{f['index']:05d}.npz"
        if path.exists():
            continue
        ids = [fwl.cfg.bos_token_id, *f["ids"]]
        scored = score_tokens(fwl, ids)
        scored["baseline"] = score_tokens(base, ids)["static"]
        np.savez(path, **{m: scored[m].astype(np.float32) for m in SCORE_MODES})
        done_tokens += len(f["ids"])
        if k % 10 == 0:
            rate = done_tokens / max(time.time() - t0, 1e-9)
            log(f"score: {k + 1}/{len(todo)} files, {rate:.0f} tokens/s")


def load_scores(out: Path, files: list[dict]) -> dict[int, dict[str, np.ndarray]]:
    res = {}
    for f in files:
        path = out / "test" / f"{f['index']:05d}.npz"
        if path.exists():
            with np.load(path) as z:
                res[f["index"]] = {m: z[m].astype(np.float64) for m in z.files}
    return res


# ---------------------------------------------------------------------------------------------
# Stage: valid (static NLL of a seeded valid subset, for tuning the cache peer)


def valid_files(args, tok) -> list[dict]:
    files = load_split(args.corpus, "valid", tok, args.out / "valid-split.pkl")
    files = [f for f in files if len(f["ids"]) >= args.min_tokens]
    return files


def valid_stage(args, tok, files, log):
    """The network's scores of the seeded valid subset: static (for the cache peer's tuning) and
    the FWL modes (for fitting the gated cache in the mix stage)."""
    path = args.out / "valid_static.npz"
    chosen = seeded_subset(valid_files(args, tok), args.valid_files, args.seed)
    fwl = None
    if not path.exists():
        fwl = load_checkpoint(args.checkpoint).to(args.device)
        arrays = {}
        for f in chosen:
            arrays[str(f["index"])] = static_nll(fwl, [fwl.cfg.bos_token_id, *f["ids"]], 256)
        np.savez(path, **arrays)
        n_tok = sum(len(f["ids"]) for f in chosen)
        log(f"valid: {len(chosen)} files, {n_tok:,} tokens")
    valid_fwl_scores(args, chosen, log, fwl)


def valid_fwl_scores(args, chosen: list[dict], log, fwl=None) -> None:
    vpath = args.out / "valid_fwl.npz"
    if vpath.exists():
        return
    fwl = fwl or load_checkpoint(args.checkpoint).to(args.device)
    arrays = {}
    for k, f in enumerate(chosen):
        scored = score_tokens(fwl, [fwl.cfg.bos_token_id, *f["ids"]])
        for m in FWL_MODES:
            arrays[f"{f['index']}/{m}"] = scored[m].astype(np.float32)
        log(f"valid: FWL {k + 1}/{len(chosen)} scored")
    np.savez(vpath, **arrays)


# ---------------------------------------------------------------------------------------------
# Stage: cache


def cache_stage(args, tok, files, log):
    vfiles = {str(f["index"]): f for f in valid_files(args, tok)}
    with np.load(args.out / "valid_static.npz") as z:
        tune_set = [
            (vfiles[k]["ids"], z[k].astype(np.float64), vfiles[k]["bytes"]) for k in z.files
        ]
    tuning_path = args.out / "cache_tuning.json"
    grid = dict(weights=list(cache_peer.WEIGHTS), betas=list(cache_peer.BETAS), files=len(tune_set))
    old = json.loads(tuning_path.read_text()) if tuning_path.exists() else {}
    if old.get("grid_def") == grid:  # tuned before on the same grid: reuse it
        best = old
    else:
        best = cache_peer.tune(tune_set) | {"grid_def": grid}
    log(
        "cache tuned on valid: "
        + ", ".join(f"{k} {best[k]}" for k in ("unigram_cache", "ngram_cache"))
        + f"; valid static {best['valid_static_bits_per_byte']:.4f}"
    )
    same = old == json.loads(json.dumps(best))
    tuning_path.write_text(json.dumps(best, indent=1) + "\n")
    folder = args.out / "cache"
    folder.mkdir(exist_ok=True)
    for f in files:
        path = folder / f"{f['index']:05d}.npz"
        if same and path.exists():
            continue
        scores = load_scores(args.out, [f])
        if f["index"] not in scores:
            continue
        static = scores[f["index"]]["static"]
        uni = cache_peer.cache_probs(f["ids"], 1)["unigram_cache"]
        ng = best["ngram_cache"]
        ngram = cache_peer.cache_probs(f["ids"], ng["order"], ng["beta"])["ngram_cache"]
        np.savez(
            path,
            unigram_cache=cache_peer.mix_nll(static, uni, best["unigram_cache"]["weight"]),
            ngram_cache=cache_peer.mix_nll(static, ngram, ng["weight"]),
        )


# ---------------------------------------------------------------------------------------------
# Stage: mix (the FWL state and the n-gram cache together, as the extension completes)


def mix_stage(args, tok, files, log):
    """FWL causal and whole-file NLL mixed with the causal n-gram cache (tuned on valid)."""
    vpath = args.out / "valid_fwl.npz"
    chosen = seeded_subset(valid_files(args, tok), args.valid_files, args.seed)
    valid_fwl_scores(args, chosen, log)
    with np.load(vpath) as z:
        valid = {key: z[key].astype(np.float64) for key in z.files}
    # The gate (see cache_peer.py) is fitted for the whole-file mode, the extension's, used for all.
    matches = {}  # (file index, beta) -> cache_match
    best = None
    for beta in GATE_BETAS:
        for f in chosen:
            matches[f["index"], beta] = cache_peer.cache_match(f["ids"], GATE_ORDER, beta)
        pairs = [
            (valid[f"{f['index']}/adapted_whole_file"], matches[f["index"], beta]) for f in chosen
        ]
        theta = cache_peer.fit_gate(pairs, GATE_ORDER)
        nats = 0.0
        for nll, m in pairs:
            w = cache_peer.gate_weights(theta, m, GATE_ORDER)
            nats += float(cache_peer.mix_nll(nll, m["p"], w).sum())
        log(f"mix: beta {beta}: gate {theta}, {nats:.0f} nats")
        if best is None or nats < best[0]:
            best = (nats, beta, theta)
    nbytes = sum(f["bytes"] for f in chosen)
    tuning = {}
    for mode in ("adapted", "adapted_whole_file"):
        nats = 0.0
        for f in chosen:
            m = matches[f["index"], best[1]]
            w = cache_peer.gate_weights(best[2], m, GATE_ORDER)
            nats += float(cache_peer.mix_nll(valid[f"{f['index']}/{mode}"], m["p"], w).sum())
        tuning[f"{mode}_ngram_cache"] = dict(
            gate=best[2], beta=best[1], order=GATE_ORDER, valid_bits_per_byte=bpb(nats, nbytes)
        )
    log("mix tuned on valid: " + ", ".join(f"{k} {v}" for k, v in tuning.items()))
    (args.out / "mix_tuning.json").write_text(json.dumps(tuning, indent=1) + "\n")
    folder = args.out / "mix"
    folder.mkdir(exist_ok=True)
    t = tuning["adapted_whole_file_ngram_cache"]
    for f in files:
        scores = load_scores(args.out, [f])
        if f["index"] not in scores:
            continue
        m = cache_peer.cache_match(f["ids"], GATE_ORDER, t["beta"])
        w = cache_peer.gate_weights(t["gate"], m, GATE_ORDER)
        out = {}
        for mode in ("static", "adapted", "adapted_whole_file"):
            out[f"{mode}_ngram_cache"] = cache_peer.mix_nll(scores[f["index"]][mode], m["p"], w)
        np.savez(folder / f"{f['index']:05d}.npz", **out)


# ---------------------------------------------------------------------------------------------
# Stage: dyneval


@torch.no_grad()
def fwl_causal_nll(model, ids: list[int]) -> np.ndarray:
    """FWL causal only (evaluate.score_tokens without the other modes): the compute reference."""
    cfg = model.cfg
    lam, chunk = cfg.fwl_decay, cfg.attn_window
    x = torch.tensor(ids, dtype=torch.long)[None]
    n = x.shape[1] - 1
    state = model.zero_state()
    out, past_k, past_v = [], None, None
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        h, past_k, past_v = model.body(x[:, a:b], torch.arange(a, b)[None], past_k, past_v)
        past_k, past_v = past_k[:, :, :, -(chunk - 1) :], past_v[:, :, :, -(chunk - 1) :]
        tgt = x[:, a + 1 : b + 1]
        coef = (lam ** torch.arange(b - a, dtype=torch.float64)).float()[None, None]
        carried = {k: v[None] for k, v in state.items()}
        logits = model.fast_chunk_logits(h, tgt, torch.ones(tgt.shape), carried, coef)
        out.append(F.cross_entropy(logits[0], tgt[0], reduction="none"))
        if b < n:
            idx = torch.arange(a, b, dtype=torch.float64)
            c = model.state_contribution(h, tgt, (lam ** (b - 1 - idx)).float()[None])
            state = {k: lam ** (b - a) * state[k] + c[k] for k in state}
    return torch.cat(out).double().numpy()


def _read_texts(path: Path) -> list[str]:
    with path.open() as f:
        return [json.loads(line)["text"] for line in f]


SGD_LRS = (3e-3, 1e-2, 3e-2, 1e-1)
RMS_LRS = (1e-5, 3e-5, 1e-4, 3e-4)
DECAYS = (1e-2, 1e-1)


def dyneval_stage(args, tok, files, log):
    folder = args.out / "dyneval"
    folder.mkdir(exist_ok=True)
    model = load_checkpoint(args.checkpoint)
    seg = args.dyneval_segment
    ms_path = folder / "ms.pt"
    if ms_path.exists():
        ms = torch.load(ms_path)
    else:
        texts = _read_texts(args.corpus / "train.jsonl")
        seqs = dynamic_eval.training_sequences(texts, tok, 32, 1024, args.seed)
        ms = dynamic_eval.mean_square_grads(model, seqs, seg)
        torch.save(ms, ms_path)
        log(f"dyneval: MS from {len(seqs)} training sequences of 1,024 tokens")
    # Tuning on valid: a seeded subset, the first tune_tokens tokens of each file.
    tune_path = folder / "tune.json"
    tuned = json.loads(tune_path.read_text()) if tune_path.exists() else {"runs": []}
    vfiles = seeded_subset(valid_files(args, tok), args.tune_files, args.seed + 1)
    vids = [[model.cfg.bos_token_id, *f["ids"][: args.tune_tokens]] for f in vfiles]
    tok_bytes = token_byte_lengths(tok)
    vbytes = sum(int(tok_bytes[ids[1:]].sum()) for ids in vids)
    if "static" not in tuned:
        tuned["static"] = bpb(sum(static_nll(model, ids, seg).sum() for ids in vids), vbytes)
        tuned["tune_set"] = dict(
            files=len(vids), tokens=sum(len(i) - 1 for i in vids), bytes=vbytes, seed=args.seed + 1
        )

    def run(method, lr, decay):
        for r in tuned["runs"]:
            if (r["method"], r["lr"], r["decay"]) == (method, lr, decay):
                return r["bits_per_byte"]
        ev = dynamic_eval.DynamicEvaluator(model, method, lr, decay, seg, ms)
        value = bpb(sum(ev.score(ids).sum() for ids in vids), vbytes)
        tuned["runs"].append(dict(method=method, lr=lr, decay=decay, bits_per_byte=value))
        tune_path.write_text(json.dumps(tuned, indent=1) + "\n")
        log(
            f"dyneval tune {method} lr {lr:g} decay {decay:g}: {value:.4f} "
            f"(static {tuned['static']:.4f})"
        )
        return value

    best = {}
    for method, lrs in (("sgd", SGD_LRS), ("rms", RMS_LRS)):
        lr = min(lrs, key=lambda v: run(method, v, 0.0))
        decay = min((0.0, *DECAYS), key=lambda dv: run(method, lr, dv))
        best[method] = dict(lr=lr, decay=decay, valid_bits_per_byte=run(method, lr, decay))
    tuned["best"] = best
    tune_path.write_text(json.dumps(tuned, indent=1) + "\n")
    log(f"dyneval tuned on valid: {best}")

    # Test: a seeded subset of the suite's files, every method timed on the same files.
    big = [f for f in files if len(f["ids"]) >= args.min_tokens]
    subset = seeded_subset(big, args.dyneval_files, args.seed)
    evals = {
        m: dynamic_eval.DynamicEvaluator(model, m, best[m]["lr"], best[m]["decay"], seg, ms)
        for m in ("sgd", "rms")
    }
    runners = {
        "static": lambda ids: static_nll(model, ids, seg),
        "adapted": lambda ids: fwl_causal_nll(model, ids),
        "dyneval_sgd": evals["sgd"].score,
        "dyneval_rms": evals["rms"].score,
    }
    for k, f in enumerate(subset):
        path = folder / f"{f['index']:05d}.npz"
        if path.exists():
            continue
        ids = [model.cfg.bos_token_id, *f["ids"]]
        res = {}
        for name, fn in runners.items():
            t0 = time.perf_counter()
            res[name] = fn(ids).astype(np.float32)
            res[f"{name}_seconds"] = np.array(time.perf_counter() - t0)
        np.savez(path, **res)
        log(f"dyneval test {k + 1}/{len(subset)}: {len(f['ids'])} tokens")
    flops_path = folder / "flops.json"
    if not flops_path.exists():
        ids = [model.cfg.bos_token_id, *subset[0]["ids"][:1024]]
        counts = {}
        for name, fn in runners.items():
            with FlopCounterMode(display=False) as fc:
                fn(ids)
            counts[name] = fc.get_total_flops()
        counts["tokens"] = len(ids) - 1
        flops_path.write_text(json.dumps(counts, indent=1) + "\n")
        log(f"dyneval flops per 1,024 tokens: {counts}")


# ---------------------------------------------------------------------------------------------
# Stage: lines


def lines_stage(args, tok, files, log):
    path = args.out / "lines.jsonl"
    done = set()
    if path.exists():
        with path.open() as f:
            done = {json.loads(line)["file"] for line in f}
    model = load_checkpoint(args.checkpoint)
    big = [f for f in files if len(f["ids"]) >= args.min_tokens]
    random.Random(args.seed).shuffle(big)  # a run cut short leaves a random subset
    with path.open("a") as out:
        for k, f in enumerate(big):
            if f["index"] in done:
                continue
            cursors = line_completion.sample_targets(f["text"], args.line_targets, args.seed)
            for row in line_completion.complete_targets(model, tok, f["text"], cursors):
                out.write(json.dumps(dict(file=f["index"], **row)) + "\n")
            if not cursors:  # record the file as done
                out.write(json.dumps(dict(file=f["index"], offset=None)) + "\n")
            out.flush()
            if k % 10 == 0:
                log(f"lines: {k + 1}/{len(big)} files")


# ---------------------------------------------------------------------------------------------
# Stage: ts (the runtime's own evaluation, TypeScript + onnxruntime, on a seeded subset)


def ts_stage(args, tok, files, log):
    """Runs `node out/cli.js eval DIR --json --per-file` on a seeded subset copied from
    data/test-files and compares its per-file bits per byte with the Python scores."""
    big = [f for f in files if args.min_tokens <= len(f["ids"]) <= args.ts_max_tokens]
    subset = seeded_subset(big, args.ts_files, args.seed + 2)
    folder = args.out / "ts-subset"
    for f in subset:
        src = args.test_files / f["package"].replace("/", "__") / f["path"]
        dst = folder / f["package"].replace("/", "__") / f["path"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        assert data.decode() == f["text"], f"{src} differs from the corpus"
        dst.write_bytes(data)
    result_path = args.out / "ts-eval.json"
    if not result_path.exists():
        cmd = ["node", "out/cli.js", "eval", str(folder), "--json", "--per-file", "--threads", "1"]
        cmd += ["--lines", str(args.line_targets), "--seed", str(args.seed)]
        log("ts: " + " ".join(cmd))
        t0 = time.time()
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        result_path.write_text(res.stdout)
        log(f"ts: {time.time() - t0:.0f} s")
    ts = json.loads(result_path.read_text())
    scores = load_scores(args.out, subset)
    # The FWL modes mixed with the n-gram cache too, where both sides have them (same w and beta).
    for f in subset:
        mix = args.out / "mix" / f"{f['index']:05d}.npz"
        if f["index"] in scores and mix.exists():
            with np.load(mix) as z:
                scores[f["index"]].update({k: z[k].astype(np.float64) for k in z.files})
    modes = [
        m
        for m in (*FWL_MODES, *MIX_MODES)
        if all(f"{TS_NAMES.get(m, m)}_bits_per_byte" in p for p in ts["per_file"])
        and all(m in scores.get(f["index"], {}) for f in subset)
    ]
    modes = [*FWL_MODES, *(m for m in modes if m in MIX_MODES)]
    fwl = None
    rows = []
    by_path = {str(Path(p["file"]).resolve()): p for p in ts["per_file"]}
    tot = {m: [0.0, 0.0] for m in modes}
    nbytes = 0
    for f in subset:
        dst = (folder / f["package"].replace("/", "__") / f["path"]).resolve()
        t = by_path[str(dst)]
        if f["index"] in scores:
            py = scores[f["index"]]
        else:
            fwl = fwl or load_checkpoint(args.checkpoint)
            py = score_tokens(fwl, [fwl.cfg.bos_token_id, *f["ids"]])
        # Relative to the subset folder: no machine path in the committed report.
        rel = str(dst.relative_to(folder.resolve()))
        row = dict(index=f["index"], file=rel, tokens=len(f["ids"]), bytes=f["bytes"])
        for m in modes:
            p_bpb = bpb(py[m].sum(), f["bytes"])
            t_bpb = t[f"{TS_NAMES.get(m, m)}_bits_per_byte"]
            row[m] = dict(python=p_bpb, ts=t_bpb, rel_diff_pct=100 * (t_bpb - p_bpb) / p_bpb)
            tot[m][0] += py[m].sum() / LN2
            tot[m][1] += t_bpb * f["bytes"]
        nbytes += f["bytes"]
        rows.append(row)
    overall = {
        m: dict(
            python=tot[m][0] / nbytes,
            ts=tot[m][1] / nbytes,
            rel_diff_pct=100 * (tot[m][1] - tot[m][0]) / tot[m][0],
        )
        for m in modes
    }
    agree = dict(
        files=len(rows),
        tokens=sum(r["tokens"] for r in rows),
        bytes=nbytes,
        overall=overall,
        max_abs_file_rel_diff_pct=max(abs(r[m]["rel_diff_pct"]) for r in rows for m in modes),
        ts_lines={
            m: {k: v for k, v in ts[m].items() if k.startswith("line_")}
            for m in (*FWL_MODES, "adapted_whole_file_ngram_cache")
            if m in ts
        },
        ts_line_targets=ts.get("lines"),
        per_file=rows,
    )
    (args.out / "ts-agreement.json").write_text(json.dumps(agree, indent=1) + "\n")
    log(
        f"ts agreement: {json.dumps(overall)}; "
        f"max per-file {agree['max_abs_file_rel_diff_pct']:.4f}%"
    )


# ---------------------------------------------------------------------------------------------
# Stage: report

NAMES = {
    "baseline": "0 baseline transformer, no FWL head",
    "static": "1 FWL, state zero (static)",
    "adapted": "2 FWL, causal",
    "adapted_whole_file": "3 FWL, whole file",
    "dyneval_sgd": "4 dynamic evaluation, SGD",
    "dyneval_rms": "4 dynamic evaluation, RMS",
    "unigram_cache": "5 unigram cache + static",
    "ngram_cache": "5 n-gram cache + static",
    "static_ngram_cache": "5 gated order-8 cache (the extension's) + static",
    "adapted_ngram_cache": "6 FWL causal + gated cache",
    "adapted_whole_file_ngram_cache": "6 FWL whole file + gated cache",
}


def _totals(records, modes, lo=0, hi=10**9):
    """Sum of nats per mode, tokens and bytes over token positions [lo, hi) of each record."""
    t = {m: 0.0 for m in modes} | {"files": 0, "tokens": 0, "bytes": 0}
    for r in records:
        sl = slice(lo, hi)
        nb = int(r["tok_bytes"][sl].sum())
        if nb == 0:
            continue
        t["files"] += 1
        t["tokens"] += int(len(r["tok_bytes"][sl]))
        t["bytes"] += nb
        for m in modes:
            t[m] += float(r[m][sl].sum())
    return t


def _row(t, modes):
    return {k: t[k] for k in ("files", "tokens", "bytes")} | {
        m: bpb(t[m], t["bytes"]) for m in modes
    }


def _pct(a, b):
    return 100.0 * (b - a) / b if b else 0.0


def report_stage(args, tok, files, log):
    tok_bytes = token_byte_lengths(tok)
    scores = load_scores(args.out, files)
    records = []
    for f in files:
        if f["index"] not in scores:
            continue
        r = dict(scores[f["index"]], index=f["index"], n=len(f["ids"]))
        r["name"] = f"{f.get('package', '?')} {f.get('path', '?')}"
        r["tok_bytes"] = tok_bytes[f["ids"]]
        for folder in ("cache", "mix"):
            cpath = args.out / folder / f"{f['index']:05d}.npz"
            if cpath.exists():
                with np.load(cpath) as z:
                    r.update({k: z[k] for k in z.files})
        records.append(r)
    rep = {"split": "test", "command": "training/evaluate_suite.py " + " ".join(sys.argv[1:])}
    # 1. The six-way table: files of >= min_tokens, by file length.
    suite = [r for r in records if r["n"] >= args.min_tokens and "ngram_cache" in r]
    modes = (*SCORE_MODES, "unigram_cache", "ngram_cache")
    if suite and all(m in r for r in suite for m in MIX_MODES):
        modes = (*modes, *MIX_MODES)
    table = {"all": _row(_totals(suite, modes), modes)}
    buckets = [(lo, hi, name) for lo, hi, name in LENGTH_BUCKETS if hi > args.min_tokens]
    buckets.append((2000, 10**9, "2k+"))
    for lo, hi, name in buckets:
        table[name] = _row(_totals([r for r in suite if lo <= r["n"] < hi], modes), modes)
    rep["six_way"] = table
    n_total = sum(1 for f in files if len(f["ids"]) >= args.min_tokens)
    rep["six_way_files_scored"] = f"{len(suite)} of {n_total}"
    # 2. Dynamic evaluation on its seeded subset, with every other mode on the same files.
    dyn = []
    for r in suite:
        path = args.out / "dyneval" / f"{r['index']:05d}.npz"
        if path.exists():
            with np.load(path) as z:
                d = {k: z[k] for k in z.files}
            dr = dict(r)
            dr.update({k: d[k].astype(np.float64) for k in ("dyneval_sgd", "dyneval_rms")})
            dr["seconds"] = {
                k[: -len("_seconds")]: float(d[k]) for k in d if k.endswith("_seconds")
            }
            dr["static_check"] = float(np.abs(d["static"] - r["static"]).max())
            dyn.append(dr)
    if dyn:
        dmodes = (*modes, "dyneval_sgd", "dyneval_rms")
        sub = {"all": _row(_totals(dyn, dmodes), dmodes)}
        sub["2k+"] = _row(_totals([r for r in dyn if r["n"] >= 2000], dmodes), dmodes)
        secs = {k: sum(r["seconds"][k] for r in dyn) for k in dyn[0]["seconds"]}
        sub["seconds"] = secs
        sub["wall_clock_vs_static"] = {k: v / secs["static"] for k, v in secs.items()}
        sub["files_list"] = [int(r["index"]) for r in dyn]
        sub["max_abs_static_difference"] = max(r["static_check"] for r in dyn)
        fl = args.out / "dyneval" / "flops.json"
        if fl.exists():
            flops = json.loads(fl.read_text())
            sub["flops_per_1024_tokens"] = flops
            sub["flops_vs_static"] = {
                k: v / flops["static"] for k, v in flops.items() if k != "tokens"
            }
        tune = args.out / "dyneval" / "tune.json"
        if tune.exists():
            sub["tuning_on_valid"] = json.loads(tune.read_text())
        rep["dynamic_eval_subset"] = sub
    mt = args.out / "mix_tuning.json"
    if mt.exists():
        rep["mix_tuning_on_valid"] = json.loads(mt.read_text())
    ct = args.out / "cache_tuning.json"
    if ct.exists():
        rep["cache_tuning_on_valid"] = {
            k: v for k, v in json.loads(ct.read_text()).items() if k != "grid"
        }
    # 3. The bounded rule: adapted vs static, files of min..max table tokens.
    bounded = [r for r in records if args.min_tokens_table <= r["n"] <= args.max_tokens_table]
    bmodes = FWL_MODES
    by_pos = {
        name: _row(_totals(bounded, bmodes, lo, hi), bmodes) for lo, hi, name in POSITION_BUCKETS
    }
    by_len = {}
    for lo, hi, name in LENGTH_BUCKETS:
        sel = [r for r in bounded if lo <= r["n"] < hi]
        if sel:
            row = _row(_totals(sel, bmodes), bmodes)
            file_bpb = [
                (bpb(r["adapted"].sum(), 1), bpb(r["static"].sum(), 1), bpb(r[m].sum(), 1))
                for r in sel
                for m in ("adapted_whole_file",)
            ]
            row["files_adapted_worse"] = int(sum(a > s for a, s, _ in file_bpb))
            row["files_whole_file_worse"] = int(sum(w > s for _, s, w in file_bpb))
            by_len[name] = row
    all_row = _row(_totals(bounded, bmodes), bmodes)
    all_row["files_adapted_worse"] = sum(v["files_adapted_worse"] for v in by_len.values())
    all_row["files_whole_file_worse"] = sum(v["files_whole_file_worse"] for v in by_len.values())
    by_len["all"] = all_row
    worse = [  # the files adaptation hurt, named so that they can be looked at
        {
            "file": r["name"],
            "tokens": r["n"],
            **{m: float(bpb(r[m].sum(), int(r["tok_bytes"].sum()))) for m in bmodes},
        }
        for r in bounded
        if max(r["adapted"].sum(), r["adapted_whole_file"].sum()) > r["static"].sum()
    ]
    rep["bounded_rule"] = {"by_position": by_pos, "by_file_length": by_len, "worse_files": worse}
    # 4. Line completion.
    lp = args.out / "lines.jsonl"
    if lp.exists():
        with lp.open() as f:
            rows = [json.loads(line) for line in f]
        rows = [r for r in rows if r.get("offset") is not None]
        rep["lines"] = line_completion.summarise(rows)
        rep["lines"]["files"] = len({r["file"] for r in rows})
    (args.out / "report.json").write_text(json.dumps(rep, indent=1) + "\n")
    (args.out / "report.md").write_text(markdown(rep) + "\n")
    log(f"report: {args.out / 'report.md'}")


# ---------------------------------------------------------------------------------------------
# Stage: repository (issue 27)


def repository_stage(args, tok, files, log):
    """Bits per byte by position with and without the package's other files (see the module)."""
    from repo_sequences import Package  # noqa: PLC0415
    from repository import file_sum  # noqa: PLC0415

    split = load_split(args.corpus, args.repository_split, tok)
    by_pkg: dict[str, list[dict]] = {}
    for f in split:
        by_pkg.setdefault(f["package"], []).append(f)
    tok_bytes = token_byte_lengths(tok)
    models = []
    if args.repository_weights:  # "" scores only --head-checkpoint
        models.append(("today", load_checkpoint(args.checkpoint), args.repository_weights))
    if args.head_checkpoint:
        learned = torch.load(args.head_checkpoint, weights_only=False)["repository_weight"]
        models.append(("head", load_checkpoint(args.head_checkpoint), str(learned)))
    totals = {}
    t0 = time.time()
    for name, pkg_files in sorted(by_pkg.items()):
        package = Package({f["path"]: f["text"] for f in pkg_files})
        ids_of = {f["path"]: f["ids"] for f in pkg_files}
        targets = [f for f in pkg_files if len(f["ids"]) >= args.min_tokens]
        if args.files_per_package:
            targets = seeded_subset(targets, args.files_per_package, args.seed)
        for label, model, weights in models:
            sums: dict[str, dict] = {}
            for f in targets:
                related, used = [], 0
                for p in package.related(f["path"]):
                    n = len(ids_of[p])
                    if n and used + n <= args.repository_tokens:
                        related.append(p)
                        used += n
                state = model.zero_state()
                for p in related:
                    if p not in sums:
                        sums[p] = file_sum(model, ids_of[p])
                    state = {k: state[k] + sums[p][k] for k in state}
                if used:
                    scale = 1 / (1 - model.cfg.fwl_decay) / used
                    state = {k: v * scale for k, v in state.items()}
                ids = [model.cfg.bos_token_id, *f["ids"]]
                nb = tok_bytes[np.array(f["ids"])]
                for w in (float(x) for x in weights.split(",")):
                    nll = score_tokens(model, ids, repository=state, repository_weight=w)
                    for lo, hi, bucket in ((0, 10**9, "all"), *REPOSITORY_BUCKETS):
                        t = totals.setdefault(f"{label} w={w:g}", {}).setdefault(
                            bucket, {m: 0.0 for m in REPOSITORY_MODES} | {"files": 0, "bytes": 0}
                        )
                        if nb[lo:hi].sum() == 0:
                            continue
                        t["files"] += 1
                        t["bytes"] += int(nb[lo:hi].sum())
                        for m in REPOSITORY_MODES:
                            t[m] += float(nll[m][lo:hi].sum())
            log(f"repository: {name} {label}: {len(targets)} files ({time.time() - t0:.0f} s)")
    report = {
        "split": args.repository_split,
        "command": "training/evaluate_suite.py " + " ".join(sys.argv[1:]),
        "rows": {
            key: {
                b: {k: t[k] for k in ("files", "bytes")}
                | {m: bpb(t[m], t["bytes"]) for m in REPOSITORY_MODES}
                for b, t in buckets.items()
            }
            for key, buckets in totals.items()
        },
    }
    tag = "-head" if not args.repository_weights else ""
    out = args.out / f"repository-{args.repository_split}{tag}.json"
    out.write_text(json.dumps(report, indent=1))
    for key, buckets in report["rows"].items():
        for b, r in buckets.items():
            log(
                f"{key} {b}: {r['files']} files, static {r['static']:.4f} file"
                f" {r['adapted_whole_file']:.4f} +repository {r['fwl_workspace']:.4f}"
            )


def markdown(rep) -> str:
    out = []
    six = rep["six_way"]
    cols = [k for k in six if six[k]["files"]]
    every = (*SCORE_MODES, "unigram_cache", "ngram_cache", *MIX_MODES)
    modes = [m for m in every if m in six["all"]]
    out.append("| bits per byte | " + " | ".join(cols) + " |")
    out.append("|---|" + "---|" * len(cols))
    out.append(
        "| files / tokens / bytes | "
        + " | ".join(
            f"{six[c]['files']} / {six[c]['tokens']:,} / {six[c]['bytes']:,}" for c in cols
        )
        + " |"
    )
    for m in modes:
        out.append(f"| {NAMES[m]} | " + " | ".join(f"{six[c][m]:.4f}" for c in cols) + " |")
    out.append("")
    out.append("| gain (% lower bits per byte) | " + " | ".join(cols) + " |")
    out.append("|---|" + "---|" * len(cols))
    for m, ref in (
        ("adapted", "static"),
        ("adapted_whole_file", "static"),
        ("adapted_whole_file", "baseline"),
        ("unigram_cache", "static"),
        ("ngram_cache", "static"),
        ("static_ngram_cache", "static"),
        ("adapted_ngram_cache", "static"),
        ("adapted_whole_file_ngram_cache", "static"),
        ("adapted_whole_file_ngram_cache", "baseline"),
        ("adapted_whole_file_ngram_cache", "ngram_cache"),
        ("adapted_whole_file_ngram_cache", "static_ngram_cache"),
        ("static", "baseline"),
    ):
        if m not in modes:
            continue
        out.append(
            f"| {m} vs {ref} | "
            + " | ".join(f"{_pct(six[c][m], six[c][ref]):.2f}" for c in cols)
            + " |"
        )
    dyn = rep.get("dynamic_eval_subset")
    if dyn:
        out.append("")
        dcols = [c for c in ("all", "2k+") if dyn[c]["files"]]
        out.append("| dynamic-evaluation subset, bits per byte | " + " | ".join(dcols) + " |")
        out.append("|---|" + "---|" * len(dcols))
        out.append(
            "| files / tokens / bytes | "
            + " | ".join(
                f"{dyn[c]['files']} / {dyn[c]['tokens']:,} / {dyn[c]['bytes']:,}" for c in dcols
            )
            + " |"
        )
        for m in (*modes, "dyneval_sgd", "dyneval_rms"):
            cells = " | ".join(
                f"{dyn[c][m]:.4f} ({_pct(dyn[c][m], dyn[c]['static']):+.2f}%)" for c in dcols
            )
            out.append(f"| {NAMES[m]} | {cells} |")
        out.append("")
        out.append("| compute vs static (same files, same code path) | wall clock | FLOPs |")
        out.append("|---|---|---|")
        fl = dyn.get("flops_vs_static", {})
        for k, v in dyn["wall_clock_vs_static"].items():
            out.append(f"| {k} | {v:.2f}x | {fl.get(k, float('nan')):.2f}x |")
    b = rep["bounded_rule"]
    out.append("")
    out.append(
        "| bounded rule: position in file | tokens | static | causal | whole file "
        "| causal gain vs static |"
    )
    out.append("|---|---|---|---|---|---|")
    for name, r in b["by_position"].items():
        if r["tokens"]:
            out.append(
                f"| {name} | {r['tokens']:,} | {r['static']:.4f} | {r['adapted']:.4f} | "
                f"{r['adapted_whole_file']:.4f} | {_pct(r['adapted'], r['static']):+.2f}% |"
            )
    out.append("")
    out.append(
        "| bounded rule: file length | files | tokens | static | causal | whole file "
        "| causal gain vs static | files worse (causal / whole) |"
    )
    out.append("|---|---|---|---|---|---|---|---|")
    for name, r in b["by_file_length"].items():
        out.append(
            f"| {name} | {r['files']} | {r['tokens']:,} | {r['static']:.4f} | {r['adapted']:.4f} | "
            f"{r['adapted_whole_file']:.4f} | {_pct(r['adapted'], r['static']):+.2f}% | "
            f"{r['files_adapted_worse']} / {r['files_whole_file_worse']} |"
        )
    if b.get("worse_files"):
        out.append("")
        out.append("| file adaptation hurt | tokens | static | causal | whole file |")
        out.append("|---|---|---|---|---|")
        for w in b["worse_files"]:
            out.append(
                f"| {w['file']} | {w['tokens']:,} | {w['static']:.4f} | {w['adapted']:.4f} | "
                f"{w['adapted_whole_file']:.4f} |"
            )
    lines = rep.get("lines")
    if lines:
        out.append("")
        out.append(
            f"| line completion ({lines['targets']} targets) | exact match % | edit similarity |"
        )
        out.append("|---|---|---|")
        for m in ("static", "adapted", "adapted_whole_file"):
            out.append(
                f"| {m} | {lines[m]['line_exact_match']:.2f} "
                f"| {lines[m]['line_edit_similarity']:.2f} |"
            )
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=Path("runs/gpu-fwl/checkpoint.pt"))
    p.add_argument("--baseline", type=Path, default=Path("runs/gpu-baseline/checkpoint.pt"))
    p.add_argument("--tokenizer", type=Path, default=Path("data/tokenizer/tokenizer.json"))
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--out", type=Path, default=Path("runs/eval/suite"))
    p.add_argument("--stages", default=",".join(DEFAULT_STAGES), help="comma-separated")
    p.add_argument("--repository-split", default="valid", help="valid (tuning) or test")
    p.add_argument("--repository-tokens", type=int, default=16384, help="the state's budget")
    p.add_argument("--repository-weights", default="1.0", help="for --checkpoint ('': skip it)")
    p.add_argument("--head-checkpoint", type=Path, default=None, help="train_head.py --export")
    p.add_argument("--files-per-package", type=int, default=0, help="seeded subset (0: all)")
    p.add_argument("--min-tokens", type=int, default=1000, help="files of the six-way suite")
    p.add_argument("--min-tokens-table", type=int, default=100, help="bounded-rule table: from")
    p.add_argument("--max-tokens-table", type=int, default=20000, help="bounded-rule table: to")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--valid-files", type=int, default=40, help="seeded valid subset (cache)")
    p.add_argument("--tune-files", type=int, default=4, help="seeded valid subset (dyneval)")
    p.add_argument("--tune-tokens", type=int, default=1024, help="first tokens of each tune file")
    p.add_argument("--dyneval-files", type=int, default=6, help="seeded test subset (dyneval)")
    p.add_argument("--dyneval-segment", type=int, default=128, help="tokens per gradient step")
    p.add_argument("--line-targets", type=int, default=1, help="line targets per file")
    p.add_argument("--ts-files", type=int, default=10, help="seeded subset for the TS check")
    p.add_argument("--ts-max-tokens", type=int, default=6000, help="longest file in that subset")
    p.add_argument("--test-files", type=Path, default=Path("data/test-files"))
    p.add_argument("--short-files", type=int, default=0, help="score: only N short files")
    p.add_argument("--shard", default="0/1", help="K/N: score only every N-th file from the K-th")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu|cuda (the score and valid stages)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    logfile = (args.out / "suite.log").open("a")

    def log(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        logfile.write(line + "\n")
        logfile.flush()

    tok = Tokenizer.from_file(str(args.tokenizer))
    files = load_split(args.corpus, "test", tok, args.out / "test-split.pkl")
    stages = [s for s in args.stages.split(",") if s]
    for s in stages:
        if s not in STAGES:
            raise SystemExit(f"unknown stage {s!r}; choose from {STAGES}")
    for s in STAGES:
        if s in stages:
            log(f"stage {s}")
            globals()[f"{s}_stage"](args, tok, files, log)


if __name__ == "__main__":
    main()
