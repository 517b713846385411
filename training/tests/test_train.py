"""The training script runs, checkpoints and resumes; weight packing round-trips."""

import json
import lzma
import os
import socket
import sys
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pack_weights  # noqa: E402
import train  # noqa: E402

TINY = [
    "--d-model",
    "32",
    "--n-layer",
    "1",
    "--n-head",
    "2",
    "--attn-window",
    "16",
    "--seq-len",
    "64",
    "--batch",
    "2",
    "--device",
    "cpu",
    "--threads",
    "1",
    "--log-every",
    "1",
]


def fake_shards(folder: Path, vocab=97, bos=0):
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, vocab, 5000).astype(np.uint16)
    tokens[::300] = bos
    tokens.tofile(folder / "train.bin")
    tokens[:1000].tofile(folder / "valid.bin")
    (folder / "meta.json").write_text(json.dumps({"vocab_size": vocab, "bos_token_id": bos}))


def test_train_checkpoints_and_resumes(tmp_path, capsys):
    fake_shards(tmp_path)
    out = tmp_path / "run"
    args = ["--data", str(tmp_path), "--out", str(out), *TINY]
    train.main([*args, "--max-steps", "3"])
    first = torch.load(out / "checkpoint.pt", weights_only=False)
    assert first["step"] == 3 and first["tokens_seen"] == 3 * 2 * 64
    train.main([*args, "--max-steps", "5"])
    second = torch.load(out / "checkpoint.pt", weights_only=False)
    assert second["step"] == 5
    assert not torch.equal(first["model"]["head.w1"], second["model"]["head.w1"])
    log = capsys.readouterr().out
    assert "resumed from step 3" in log and "tok/s" in log and "ETA" in log
    assert second["history"][-1]["valid_bits_per_token_adapted"] > 0


def test_baseline_trains(tmp_path):
    fake_shards(tmp_path)
    out = tmp_path / "base"
    train.main(["--data", str(tmp_path), "--out", str(out), *TINY, "--no-fwl", "--max-steps", "2"])
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ckpt["config"]["fwl"] is False and ckpt["step"] == 2


def test_pack_weights_round_trip(tmp_path):
    fake_shards(tmp_path)
    out = tmp_path / "run"
    train.main(["--data", str(tmp_path), "--out", str(out), *TINY, "--max-steps", "1"])
    parts = pack_weights.split(out / "checkpoint.pt", tmp_path / "packed" / "fwl", max_mib=0.01)
    assert len(parts) > 1
    pack_weights.join(tmp_path / "packed" / "fwl", tmp_path / "joined.pt")
    a = torch.load(out / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "joined.pt", weights_only=False)
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert b["config"] == a["config"] and b["step"] == a["step"]


def test_lr_schedule_warms_up_then_decays_with_the_budget():
    args = train.parse_args(
        ["--data", "x", "--out", "y", "--device", "cpu", "--lr", "1.0", "--warmup-steps", "10"]
    )
    assert train.lr_at(args, 0, 0.0) == 0.1
    assert train.lr_at(args, 100, 0.0) == 1.0
    assert abs(train.lr_at(args, 100, 1.0) - 0.1) < 1e-9


def test_xz_shards_read_like_raw_ones(tmp_path):
    fake_shards(tmp_path)
    raw = train.load_tokens(tmp_path, "train")
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "train.bin.xz").write_bytes(lzma.compress((tmp_path / "train.bin").read_bytes()))
    assert np.array_equal(train.load_tokens(packed, "train"), raw)


def test_ranks_sample_disjoint_slices():
    tokens = np.arange(1000, dtype=np.uint16)
    a = train.Batches(tokens, 8, 4, 0, seed=1, rank=0, world=2)
    b = train.Batches(tokens, 8, 4, 0, seed=1, rank=1, world=2)
    assert a.tokens.max() < 500 <= b.tokens.min()
    xa, _, _ = a.next("cpu")
    xb, _, _ = b.next("cpu")
    assert xa.max() < 500 <= xb.min()


def _ddp_worker(rank, world, port, data, out):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    args = ["--data", data, "--out", out, *TINY, "--max-steps", "4", "--sync-every", "2"]
    model = train.main(args)
    torch.save(model.state_dict(), Path(out) / f"rank{rank}.pt")


def test_ddp_two_ranks_on_cpu_stay_in_sync(tmp_path):
    """torchrun's environment, gloo backend, world size 2: both ranks end with the same weights,
    rank 0 alone writes the checkpoint, and the tokens count both ranks."""
    fake_shards(tmp_path)
    out = tmp_path / "ddp"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path), str(out)), nprocs=2, join=True)
    a = torch.load(out / "rank0.pt")
    b = torch.load(out / "rank1.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 4 and ckpt["tokens_seen"] == 4 * 2 * 2 * 64
    assert torch.equal(ckpt["model"]["head.w1"], a["head.w1"])
