"""ONNX parity: the exported graphs in onnxruntime against the PyTorch model, and file scoring."""

import json
import lzma
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evaluate import score_tokens  # noqa: E402
from export import (  # noqa: E402
    CARRIED_NAMES,
    export_all,
    keep_baseline,
    load_checkpoint,
    ship_file_list,
    write_config,
)
from model import STATE_NAMES, FastWeightsLM, ModelConfig  # noqa: E402
from onnx_model import session_options  # noqa: E402

CFG = ModelConfig(vocab_size=97, d_model=32, n_layer=2, n_head=2, attn_window=8, fwl_decay=0.95)
MAX_ABS = 1e-4  # fp32 graphs vs fp32 PyTorch


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = FastWeightsLM(CFG).eval()
    with torch.no_grad():
        model.head.log_eta.fill_(np.log(0.5))
        for p in model.parameters():  # an untrained model is too flat to test much
            p.add_(0.02 * torch.randn_like(p))
    out = tmp_path_factory.mktemp("model")
    with torch.no_grad():
        export_all(model, out)
    sessions = {
        g: ort.InferenceSession(str(out / f"{g}.onnx"), session_options(), ["CPUExecutionProvider"])
        for g in ("body", "head", "contribution", "fast_chunk")
    }
    return model, sessions


def ids(t, seed=0):
    return torch.randint(1, CFG.vocab_size, (1, t), generator=torch.Generator().manual_seed(seed))


def np_state(state):
    return {k: v.detach().numpy().astype(np.float32) for k, v in state.items()}


def run_body(sessions, x, pos, past_k, past_v):
    return sessions["body"].run(
        None, {"input_ids": x, "position_ids": pos, "past_keys": past_k, "past_values": past_v}
    )


def test_prefill_and_cached_decoding_logits_match(exported):
    model, sessions = exported
    t, prefill = 3 * CFG.attn_window + 4, 5
    x = ids(t)
    pos = torch.arange(t)[None]
    with torch.no_grad():
        h_ref, _, _ = model.body(x, pos)
        state = model.state_contribution(h_ref[:, :10], x[:, 1:11], torch.rand(1, 10))
        ref_static = model.head_logits(h_ref, model.zero_state())
        ref_adapted = model.head_logits(h_ref, state)
    empty = np.zeros((CFG.n_layer, 1, CFG.n_head, 0, CFG.head_dim), np.float32)
    h, k, v = run_body(sessions, x[:, :prefill].numpy(), pos[:, :prefill].numpy(), empty, empty)
    hs = [h]
    for i in range(prefill, t):
        keep = CFG.attn_window - 1
        h, k, v = run_body(
            sessions,
            x[:, i : i + 1].numpy(),
            pos[:, i : i + 1].numpy(),
            k[:, :, :, -keep:],
            v[:, :, :, -keep:],
        )
        hs.append(h)
    hidden = np.concatenate(hs, axis=1)
    assert np.abs(hidden - h_ref.numpy()).max() < MAX_ABS
    zero = np_state(model.zero_state())
    for st, ref in ((zero, ref_static), (np_state(state), ref_adapted)):
        (logits,) = sessions["head"].run(None, {"hidden": hidden, **st})
        assert np.abs(logits - ref.numpy()).max() < MAX_ABS


def test_state_contribution_matches(exported):
    model, sessions = exported
    x = ids(13, seed=1)
    with torch.no_grad():
        h, _, _ = model.body(x[:, :12], torch.arange(12)[None])
        w = torch.rand(2, 12)  # two weightings in one run: outputs carry a leading K axis
        refs = [model.state_contribution(h, x[:, 1:], w[k : k + 1]) for k in range(2)]
    got = sessions["contribution"].run(
        None, {"hidden": h.numpy(), "targets": x[:, 1:].numpy(), "weights": w.numpy()}
    )
    # K changes between runs of one session (onnxruntime once reused a buffer of the wrong size).
    one = sessions["contribution"].run(
        None, {"hidden": h.numpy(), "targets": x[:, 1:].numpy(), "weights": w[1:].numpy()}
    )
    for name, value, value1 in zip(STATE_NAMES, got, one):
        assert value.shape[0] == 2 and value1.shape[0] == 1, name
        for k, ref in enumerate(refs):
            err = np.abs(value[k] - ref[name].numpy()).max()
            assert err < MAX_ABS * max(1.0, np.abs(ref[name].numpy()).max()), name
        assert np.abs(value1[0] - value[1]).max() < MAX_ABS * max(1.0, np.abs(value[1]).max())


def test_fast_chunk_matches_with_carried_states(exported):
    model, sessions = exported
    x = ids(11, seed=2)
    with torch.no_grad():
        h, _, _ = model.body(x[:, :10], torch.arange(10)[None])
        tgt, tw = x[:, 1:], torch.ones(1, 10)
        s1 = model.state_contribution(h, tgt, torch.rand(1, 10))
        s2 = model.state_contribution(h.flip(1), tgt, torch.rand(1, 10))
        carried = {k: torch.stack((s1[k], s2[k])) for k in STATE_NAMES}
        coef = torch.rand(2, 1, 10)
        ref = model.fast_chunk_logits(h, tgt, tw, carried, coef)
    feeds = {
        "hidden": h.numpy(),
        "targets": tgt.numpy(),
        "target_weights": tw.numpy(),
        "carried_coef": coef.numpy(),
    }
    feeds |= {c: carried[s].numpy() for c, s in zip(CARRIED_NAMES, STATE_NAMES)}
    (logits,) = sessions["fast_chunk"].run(None, feeds)
    assert np.abs(logits - ref.numpy()).max() < MAX_ABS


def test_chunked_file_scoring_equals_one_full_pass(exported):
    """evaluate.score_tokens (chunks, KV cache, carried state) == the fast pass over the file."""
    model, _ = exported
    x = ids(30, seed=3)
    x[0, 0] = CFG.bos_token_id
    with torch.no_grad():
        n = x.shape[1] - 1
        h, _, _ = model.body(x[:, :n], torch.arange(n)[None])
        tgt = x[:, 1:]
        full = model.fast_chunk_logits(h, tgt, torch.ones(1, n))
        ref_adapted = torch.nn.functional.cross_entropy(full[0], tgt[0], reduction="none")
        ref_static = torch.nn.functional.cross_entropy(
            model.slow_logits(h)[0], tgt[0], reduction="none"
        )
    scored = score_tokens(model, x[0].tolist(), chunk=CFG.attn_window)
    np.testing.assert_allclose(scored["static"], ref_static.numpy(), atol=1e-4)
    np.testing.assert_allclose(scored["adapted"], ref_adapted.numpy(), atol=1e-4)
    # Whole file: the first chunks gain later context, so they differ; the last two cannot.
    last_two = slice(2 * CFG.attn_window, n)  # chunks 2 and 3 of 4 have no usable future
    np.testing.assert_allclose(
        scored["adapted_whole_file"][last_two], scored["adapted"][last_two], atol=1e-6
    )
    assert np.abs(scored["adapted_whole_file"][:8] - scored["adapted"][:8]).max() > 1e-6


def test_the_file_list_of_the_shards_ships_with_the_model(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    meta = {"splits": {"train": {"files": 2, "tokens": 99}}}
    (shards / "meta.json").write_text(json.dumps(meta))
    (shards / "train.files.tsv").write_text("a@1\tx.py\nb@2\ty.ts\n")
    fields = ship_file_list(shards, tmp_path / "model")
    assert fields == {"files": 2, "file_list": "training_files.tsv.xz", "data_tokens": 99}
    listed = lzma.decompress((tmp_path / "model" / "training_files.tsv.xz").read_bytes()).decode()
    assert listed == "a@1\tx.py\nb@2\ty.ts\n"
    (shards / "train.files.tsv").write_text("a@1\tx.py\n")  # shards rebuilt without the list
    with pytest.raises(AssertionError):
        ship_file_list(shards, tmp_path / "model")


def test_a_checkpoint_is_recovered_from_its_graphs(tmp_path):
    from recover_checkpoint import main as recover_main  # noqa: PLC0415

    torch.manual_seed(1)
    model = FastWeightsLM(CFG).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
        export_all(model, tmp_path / "model")
    write_config(model, tmp_path / "model", "tiny", {})
    recover_main([str(tmp_path / "model"), str(tmp_path / "checkpoint.pt")])
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert ckpt["config"] == CFG.to_dict()
    for name, p in model.state_dict().items():
        assert torch.equal(ckpt["model"][name], p), name
    with pytest.raises(SystemExit, match="not exactly float16"):
        recover_main([str(tmp_path / "model"), str(tmp_path / "half.pt"), "--fp16"])


def test_the_baseline_is_kept_as_float16_and_loads(tmp_path):
    base = FastWeightsLM(ModelConfig(**{**CFG.to_dict(), "fwl": False}))
    torch.save(
        {"model": base.state_dict(), "config": base.cfg.to_dict(), "step": 7}, tmp_path / "b.pt"
    )
    path = keep_baseline(tmp_path / "b.pt", tmp_path)
    assert path.name == "baseline.fp16.pt"
    loaded = load_checkpoint(path)
    for name, p in base.state_dict().items():
        if p.is_floating_point():
            assert torch.equal(loaded.state_dict()[name], p.half().float()), name
    with pytest.raises(AssertionError, match="not the baseline"):
        torch.save({"model": {}, "config": CFG.to_dict()}, tmp_path / "fwl.pt")
        keep_baseline(tmp_path / "fwl.pt", tmp_path)
