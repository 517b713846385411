"""training/gpu_sweep.sh end to end on the CPU with a tiny model: a GPU call is one shot, so the
script's plumbing (runs, valid pick, test scores, what comes back) is checked here first."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
TINY = "--d-model 32 --n-layer 1 --n-head 2 --attn-window 128 --seq-len 128 --batch 2 --max-steps 2"


def test_sequential_sweep_trains_picks_scores_and_ships(tmp_path):
    data = tmp_path / "shards"
    data.mkdir()
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 8192, 4000).astype(np.uint16)
    tokens[::500] = 0
    tokens.tofile(data / "train.bin")
    tokens[:1500].tofile(data / "valid.bin")
    (data / "meta.json").write_text(json.dumps({"vocab_size": 8192, "bos_token_id": 0}))
    evald = tmp_path / "eval"
    evald.mkdir()
    # Over 1,000 tokens, so that the valid files count.
    text = "".join(f"def add{i}(a, b):\n    return a + b * {i}\n\n" for i in range(100))
    for split, n in (("valid", 2), ("test", 3)):
        rows = [json.dumps({"text": f"# {split} {i}\n" + text}) for i in range(n)]
        (evald / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    out, runs = tmp_path / "out", tmp_path / "runs"
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        OUT=str(out),
        RUNS=str(runs),
        DATA=str(data),
        EVAL=str(evald),
        DEVICE="cpu",
        SHARDS="2",
        SEQUENTIAL="1",
        BUDGET_MIN="1",
        VARIANTS="fwl-h256:--fwl-half-life 256;fwl-h64:--fwl-half-life 64",
        EXTRA=f"{TINY} --device cpu --threads 1",
    )
    r = subprocess.run(
        ["bash", str(ROOT / "training/gpu_sweep.sh")], env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    pick = (runs / "pick.txt").read_text().strip()
    assert pick in ("fwl-h256", "fwl-h64")
    for name in ("fwl-h256", "fwl-h64"):
        assert json.loads((runs / f"{name}.valid.json").read_text())["files"] == 2
    shipped = {p.name for p in out.iterdir()}
    assert {"baseline.pt", f"{pick}.pt", "fwl-h256.pt", "logs.tar.gz"} <= shipped
    assert "suite-scores.part.aa" in shipped
    with tarfile.open(out / "logs.tar.gz") as logs:  # the logs, not the scores again
        names = logs.getnames()
    assert "./baseline.log" in names and "./fwl-h256.log" in names
    assert not any("suite-scores" in n for n in names), names
    assert len(list((runs / "suite" / "test").glob("*.npz"))) == 3
    assert (runs / "suite" / "valid_fwl.npz").exists()

    # Again with that baseline carried instead of trained, and one variant of another shape.
    out2, runs2 = tmp_path / "out2", tmp_path / "runs2"
    env.update(
        OUT=str(out2),
        RUNS=str(runs2),
        BASELINE_FROM=str(out / "baseline.pt"),
        VARIANTS="fwl-d48:--d-model 48",
        EXTRA=TINY.replace("--d-model 32 ", "") + " --device cpu --threads 1",
    )
    r = subprocess.run(
        ["bash", str(ROOT / "training/gpu_sweep.sh")], env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "reused" in (runs2 / "baseline.log").read_text()
    assert (runs2 / "pick.txt").read_text().strip() == "fwl-d48"
    assert {p.name for p in out2.iterdir()} >= {"fwl-d48.pt", "logs.tar.gz", "suite-scores.part.aa"}
    assert not (out2 / "baseline.pt").exists()  # already on this side
    assert len(list((runs2 / "suite" / "test").glob("*.npz"))) == 3
    shipped = torch.load(out2 / "fwl-d48.pt", map_location="cpu", weights_only=False)
    assert shipped["config"]["d_model"] == 48
