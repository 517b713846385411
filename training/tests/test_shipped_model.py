"""Committed model folders keep their contract (models/README.md) and match PyTorch numbers."""

import json
import lzma
import sys
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from onnx_model import STATE_NAMES, OnnxModel  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = sorted(p.parent for p in (ROOT / "models").glob("*/config.json"))
CONFIG_FIELDS = (
    "format_version", "name", "vocab_size", "d_model", "n_layer", "n_head", "head_dim",
    "fwl_hidden", "attn_window", "bos_token_id", "eval_chunk_tokens", "fwl", "graphs",
    "tokenizer", "state_tensors",
)  # fmt: skip


def test_there_is_a_shipped_model():
    assert FOLDERS, "no models/*/config.json"


@pytest.fixture(scope="module", params=FOLDERS, ids=lambda p: p.name)
def folder(request):
    return request.param


@pytest.fixture(scope="module")
def onnx_model(folder):
    return OnnxModel(folder)


def test_config_has_every_field(folder):
    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == 1
    for field in CONFIG_FIELDS:
        assert field in config, field
    assert 0 < config["fwl"]["decay"] < 1
    for graph in config["graphs"].values():
        assert (folder / graph).is_file()
    assert (folder / "README.md").is_file(), "model card"


def test_tokenizer_reproduces_test_vectors_and_round_trips(folder):
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    vectors = json.loads((folder / "tokenizer_test_vectors.json").read_text())
    assert len(vectors) >= 20
    for v in vectors:
        assert tok.encode(v["text"]).ids == v["ids"], v["text"][:40]
        assert tok.decode(v["ids"], skip_special_tokens=False) == v["text"]


def test_graphs_reproduce_pytorch_bits_per_byte_on_the_fixture(folder, onnx_model):
    fixture = json.loads((folder / "parity_fixture.json").read_text())
    text = (folder / fixture["file"]).read_text()
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ids = [onnx_model.config["bos_token_id"], *tok.encode(text).ids]
    assert len(ids) - 1 == fixture["tokens"]
    got = onnx_model.bits_per_byte(ids, len(text.encode()))
    for mode, value in got.items():
        assert value == pytest.approx(fixture[f"{mode}_bits_per_byte"], rel=1e-4), mode
    assert got["adapted"] < got["static"], "adaptation should help on real code"


def test_head_with_contributed_state_equals_fast_chunk(onnx_model):
    """head.onnx at position t with S_t from contribution.onnx == fast_chunk.onnx at t."""
    cfg = onnx_model.config
    lam = cfg["fwl"]["decay"]
    rng = np.random.default_rng(0)
    ids = [cfg["bos_token_id"], *rng.integers(1, cfg["vocab_size"], 40).tolist()]
    h, _, _ = onnx_model.body(ids[:40], range(40))
    tgt = ids[1:41]
    fast = onnx_model.fast_chunk(h, tgt, np.ones(40), [onnx_model.zero_state()], [np.zeros(40)])
    t = 30
    state = onnx_model.contribution(h[:, :t], tgt[:t], lam ** (t - 1 - np.arange(t)))
    head = onnx_model.head(h[:, t : t + 1], state)
    np.testing.assert_allclose(head[0, 0], fast[0, t], atol=2e-4)


def test_cached_decoding_equals_one_pass(onnx_model):
    cfg = onnx_model.config
    n = cfg["attn_window"] + 20
    ids = np.random.default_rng(1).integers(1, cfg["vocab_size"], n).tolist()
    full, _, _ = onnx_model.body(ids, range(n))
    h, k, v = onnx_model.body(ids[:50], range(50))
    steps = [h]
    for i in range(50, n):
        h, k, v = onnx_model.body(ids[i : i + 1], [i], k, v)
        steps.append(h)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=2e-4)


def test_state_names_match_config(onnx_model):
    assert tuple(onnx_model.config["state_tensors"]) == STATE_NAMES


def test_training_file_list_names_only_train_split_packages(folder):
    """The exact training manifest (training/shards.py's file list) against the corpus manifest: no
    file from a valid or test package, so evaluations on those splits stay unseen."""
    listing = folder / json.loads((folder / "config.json").read_text())["training"]["file_list"]
    manifest = json.loads((ROOT / "training/corpus_manifest.json").read_text())
    split_of = {f"{p['name']}@{p['version']}": p["split"] for p in manifest["packages"]}
    rows = [
        line.split("\t") for line in lzma.decompress(listing.read_bytes()).decode().splitlines()
    ]
    assert len(rows) == json.loads((folder / "config.json").read_text())["training"]["files"]
    assert len({tuple(r) for r in rows}) == len(rows), "a file listed twice"
    assert {split_of.get(package) for package, _ in rows} == {"train"}


def test_the_pytorch_model_is_recovered_exactly_from_the_graphs(folder):
    """The folder holds every weight: the PyTorch model rebuilt from it scores the fixture as the
    checkpoint it was exported from did (the evaluation suite and further training start there)."""
    from evaluate import evaluate_files  # noqa: PLC0415
    from recover_checkpoint import recover  # noqa: PLC0415

    model, _ = recover(folder)
    fixture = json.loads((folder / "parity_fixture.json").read_text())
    text = (folder / fixture["file"]).read_text()
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    r = evaluate_files(model.float(), tok, [text], log=None)
    for mode in ("static", "adapted", "adapted_whole_file"):
        assert r[mode]["bits_per_byte"] == pytest.approx(fixture[f"{mode}_bits_per_byte"], rel=1e-6)
