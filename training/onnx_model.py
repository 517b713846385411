"""A model folder run through onnxruntime, following models/README.md to the letter.

It is the reference for the contract on the Python side: the tests use it to check the shipped
graphs against the numbers the PyTorch model wrote at export time (parity_fixture.json), and the
TypeScript runtime follows the same steps.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

STATE_NAMES = ("state_w1", "state_b1", "state_w2", "state_b2", "state_gamma", "state_beta")
CARRIED_NAMES = tuple(n.replace("state_", "carried_") for n in STATE_NAMES)
GRAPHS = ("body", "head", "contribution", "fast_chunk")


def session_options() -> ort.SessionOptions:
    """CPU session options; FASTWEIGHTS_TEST_KERNELS=unfused: no graph optimisation, one thread.

    Machines of this project's kind differ in CPU (Intel with AMX, AMD without), so onnxruntime
    takes other kernels and fp32 results differ in their last bits. Without graph optimisations (no
    fused MatMul/attention/LayerNorm nodes) on one thread, one machine runs a second kernel path, so
    the tests' bounds meet a spread wider than one machine's (npm test runs both).
    """
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if os.environ.get("FASTWEIGHTS_TEST_KERNELS") == "unfused":
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.intra_op_num_threads = 1
    return opts


class OnnxModel:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.config = json.loads((self.folder / "config.json").read_text())
        opts = session_options()
        self.sessions = {
            g: ort.InferenceSession(
                str(self.folder / self.config["graphs"][g]), opts, ["CPUExecutionProvider"]
            )
            for g in GRAPHS
        }

    def zero_state(self) -> dict[str, np.ndarray]:
        return {n: np.zeros(s, np.float32) for n, s in self.config["state_tensors"].items()}

    def body(self, ids, positions, past_k=None, past_v=None):
        c = self.config
        if past_k is None:
            shape = (c["n_layer"], 1, c["n_head"], 0, c["head_dim"])
            past_k = past_v = np.zeros(shape, np.float32)
        feeds = {
            "input_ids": np.asarray(ids, np.int64)[None],
            "position_ids": np.asarray(positions, np.int64)[None],
            "past_keys": past_k,
            "past_values": past_v,
        }
        hidden, k, v = self.sessions["body"].run(None, feeds)
        keep = c["attn_window"] - 1
        return hidden, k[:, :, :, -keep:], v[:, :, :, -keep:]

    def head(self, hidden, state):
        return self.sessions["head"].run(None, {"hidden": hidden, **state})[0]

    @property
    def contribution_takes_weightings(self) -> bool:
        """True for contribution graphs with weights [K, T] and a leading K axis on every output
        (issue 5 on); older folders take weights [1, T] and return the state tensors themselves."""
        first = self.sessions["contribution"].get_outputs()[0]
        return len(first.shape) == len(self.config["state_tensors"][STATE_NAMES[0]]) + 1

    def contribution(self, hidden, targets, weights):
        return self.contributions(hidden, targets, [weights])[0]

    def contributions(self, hidden, targets, weightings) -> list[dict[str, np.ndarray]]:
        """The state's weighted sums for each row of weightings (one graph run where it can)."""
        rows = np.asarray(weightings, np.float32).reshape(len(weightings), -1)
        tgt = np.asarray(targets, np.int64)[None]
        session = self.sessions["contribution"]
        if self.contribution_takes_weightings:
            out = session.run(None, {"hidden": hidden, "targets": tgt, "weights": rows})
            return [dict(zip(STATE_NAMES, (t[k] for t in out))) for k in range(len(rows))]
        return [
            dict(
                zip(
                    STATE_NAMES,
                    session.run(None, {"hidden": hidden, "targets": tgt, "weights": w[None]}),
                )
            )
            for w in rows
        ]

    def fast_chunk(self, hidden, targets, target_weights, carried: list[dict], coef):
        feeds = {
            "hidden": hidden,
            "targets": np.asarray(targets, np.int64)[None],
            "target_weights": np.asarray(target_weights, np.float32)[None],
            "carried_coef": np.asarray(coef, np.float32)[:, None, :],
        }
        for c_name, s_name in zip(CARRIED_NAMES, STATE_NAMES):
            feeds[c_name] = np.stack([st[s_name] for st in carried])
        return self.sessions["fast_chunk"].run(None, feeds)[0]

    def bits_per_byte(self, ids: list[int], n_bytes: int) -> dict[str, float]:
        """static / adapted / adapted_whole_file bits per byte of ids = [bos] + tokens."""
        lam = self.config["fwl"]["decay"]
        chunk = self.config["eval_chunk_tokens"]
        n = len(ids) - 1
        spans = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
        hiddens, fwd, back = [], [], []
        past_k = past_v = None
        for a, b in spans:
            h, past_k, past_v = self.body(ids[a:b], range(a, b), past_k, past_v)
            idx = np.arange(a, b, dtype=np.float64)
            tgt = ids[a + 1 : b + 1]
            hiddens.append(h)
            end, start = self.contributions(h, tgt, [lam ** (b - 1 - idx), lam ** (idx - a)])
            fwd.append(end)
            back.append(start)
        zero = self.zero_state()
        future = [zero] * (len(spans) + 2)
        for j in range(len(spans) - 1, -1, -1):
            a, b = spans[j]
            future[j] = {k: back[j][k] + lam ** (b - a) * future[j + 1][k] for k in STATE_NAMES}
        nll = {"static": 0.0, "adapted": 0.0, "adapted_whole_file": 0.0}
        state = zero
        for j, (a, b) in enumerate(spans):
            h, tgt = hiddens[j], ids[a + 1 : b + 1]
            ones = np.ones(b - a)
            i = np.arange(b - a, dtype=np.float64)
            gap = spans[j + 2][0] - a if j + 2 < len(spans) else 0
            future_coef = lam ** (gap - i) if gap else np.zeros(b - a)
            logits = {
                "static": self.head(h, zero),
                "adapted": self.fast_chunk(h, tgt, ones, [state], [lam**i]),
                "adapted_whole_file": self.fast_chunk(
                    h, tgt, ones, [state, future[j + 2]], [lam**i, future_coef]
                ),
            }
            for mode, lg in logits.items():
                nll[mode] += cross_entropy(lg[0], tgt)
            state = {k: lam ** (b - a) * state[k] + fwd[j][k] for k in STATE_NAMES}
        return {m: v / n_bytes / math.log(2) for m, v in nll.items()}


def cross_entropy(logits: np.ndarray, targets) -> float:
    logits = logits.astype(np.float64)
    top = logits.max(-1, keepdims=True)
    log_z = np.log(np.exp(logits - top).sum(-1)) + top[:, 0]
    return float((log_z - logits[np.arange(len(targets)), targets]).sum())
