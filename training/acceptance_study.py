"""How well what is known at show time predicts that a suggestion is accepted (issue 26).

    npm run replay -- data/valid-files --max-chars 16000 --files-limit 96 --seed 3 \
        --modes adapted --dump-suggestions runs/show_valid.jsonl --json
    python training/acceptance_study.py runs/show_valid.jsonl [--keep-keys 0.97]

Each dumped line is one suggestion the extension showed: its features (showFeatures.ts in
src/completion) and whether the simulated user took it. A logistic regression (L2, Newton steps)
predicts that. The report gives its ranking quality (AUC, fitted on alternate suggestions and scored
on the others) beside the lead's probability alone (what fastweights.minConfidence cuts on), and for
each threshold of the fitted score the acceptance and the share of saved keystrokes the kept
suggestions hold. Hiding a suggestion changes what comes after it in a replay: the table is an
estimate. Only numpy is used.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def load(paths: list[str]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    names: list[str] = []
    rows, labels, keys = [], [], []
    for path in paths:
        with open(path) as f:
            header = json.loads(f.readline())
            if names and header["features"] != names:
                raise SystemExit(f"{path}: other features than the first file")
            names = header["features"]
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    rows.append(r["features"])
                    labels.append(1.0 if r["accepted"] else 0.0)
                    keys.append(r["keys_saved"])
    return (
        names,
        np.array(rows, dtype=np.float64),
        np.array(labels),
        np.array(keys, dtype=np.float64),
    )


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> np.ndarray:
    """Weights of p = sigmoid(x @ w), the bias (column 0) not penalised."""
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def auc(score: np.ndarray, y: np.ndarray) -> float:
    order = np.argsort(score)
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / max(1, n_pos * n_neg))


def table(score: np.ndarray, y: np.ndarray, keys: np.ndarray, thresholds) -> list[dict]:
    out = []
    for t in thresholds:
        kept = score >= t
        out.append(
            {
                "threshold": round(float(t), 3),
                "shown": int(kept.sum()),
                "acceptance": round(float(y[kept].mean()) if kept.any() else 0.0, 3),
                "keys_kept": round(float(keys[kept].sum() / max(1.0, keys.sum())), 3),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("dumps", nargs="+")
    ap.add_argument("--keep-keys", type=float, default=0.97)
    ap.add_argument("--l2", type=float, default=1.0)
    args = ap.parse_args(argv)
    names, x, y, keys = load(args.dumps)
    # Alternate suggestions: a fit on one half scored on the other says how well the features rank.
    half = np.arange(len(y)) % 2 == 0
    w_half = fit_logistic(x[half], y[half], args.l2)
    lead = names.index("lead_logprob")
    w = fit_logistic(x, y, args.l2)
    score = 1.0 / (1.0 + np.exp(-(x @ w)))
    thresholds = np.round(np.arange(0.0, 0.71, 0.02), 2)
    rows = table(score, y, keys, thresholds)
    chosen = max(
        (r for r in rows if r["keys_kept"] >= args.keep_keys), key=lambda r: r["threshold"]
    )
    report = {
        "suggestions": int(len(y)),
        "acceptance": round(float(y.mean()), 3),
        "auc_other_half": {
            "score": round(auc(x[~half] @ w_half, y[~half]), 3),
            "lead_probability_alone": round(auc(x[~half][:, lead], y[~half]), 3),
        },
        "weights": {n: round(float(v), 4) for n, v in zip(names, w)},
        "by_threshold": rows,
        "chosen": chosen,
    }
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
