"""int8 graphs (training/quantize.py): listed in the config, same interface, close to fp32."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from onnx_model import session_options  # noqa: E402
from quantize import quantize_folder  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "fw-code-small"


def run_head(path: Path, hidden: np.ndarray, config: dict) -> np.ndarray:
    session = ort.InferenceSession(str(path), session_options(), ["CPUExecutionProvider"])
    state = {n: np.zeros(s, np.float32) for n, s in config["state_tensors"].items()}
    return session.run(["logits"], {"hidden": hidden, **state})[0]


def test_quantize_folder_writes_int8_graphs_close_to_fp32(tmp_path):
    config = json.loads((SHIPPED / "config.json").read_text())
    for name in ("config.json", config["graphs"]["body"], config["graphs"]["head"]):
        shutil.copy(SHIPPED / name, tmp_path / name)
    written = quantize_folder(tmp_path)
    assert set(written) == {"body", "head"}
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["graphs_int8"] == written
    assert (tmp_path / written["head"]).stat().st_size < (tmp_path / "head.onnx").stat().st_size / 3
    hidden = np.random.default_rng(0).standard_normal((1, 8, config["d_model"])).astype(np.float32)
    fp32 = run_head(tmp_path / "head.onnx", hidden, config)
    int8 = run_head(tmp_path / written["head"], hidden, config)
    assert not np.array_equal(fp32, int8)
    # Same ranking of the likely tokens: the top token of each row is among the int8 top 3.
    top3 = np.argsort(-int8[0], axis=-1)[:, :3]
    assert all(fp32[0, t].argmax() in top3[t] for t in range(8))


def test_int8_contribution_quantizes_only_the_logits_and_returns_int8_rows(tmp_path):
    config = json.loads((SHIPPED / "config.json").read_text())
    for name in ("config.json", config["graphs"]["contribution"]):
        shutil.copy(SHIPPED / name, tmp_path / name)
    written = quantize_folder(tmp_path)
    assert set(written) == {"contribution"}
    path = tmp_path / written["contribution"]
    graph = onnx.load(str(path)).graph
    # One quantized product (hidden x unembedding); the backward products stay fp32.
    assert sum(n.op_type == "MatMulInteger" for n in graph.node) == 1
    assert sum(n.op_type == "MatMul" for n in graph.node) >= 5
    session = ort.InferenceSession(str(path), session_options(), ["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    T = 24
    feeds = {
        "hidden": rng.standard_normal((1, T, config["d_model"])).astype(np.float32),
        "targets": rng.integers(0, config["vocab_size"], (1, T)).astype(np.int64),
        "weights": np.stack([np.ones(T), 0.9 ** np.arange(T)]).astype(np.float32),
    }
    out = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    for name, shape in config["state_tensors"].items():
        if len(shape) != 2:
            continue
        rows = out[name].reshape(-1, shape[1])
        q, scales = out[f"{name}_int8"], out[f"{name}_scales"]
        assert q.dtype == np.int8 and q.shape == rows.shape and scales.shape == (rows.shape[0],)
        # Each row: its largest magnitude maps to +-127, and every value lies within half a step.
        np.testing.assert_allclose(scales, np.abs(rows).max(axis=1) / 127, rtol=1e-6)
        assert np.abs(q).max(axis=1).min() == 127
        assert np.all(np.abs(q * scales[:, None] - rows) <= scales[:, None] * 0.5001)
