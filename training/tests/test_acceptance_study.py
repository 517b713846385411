"""The acceptance study's logistic fit and ranking measure (acceptance_study.py)."""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import acceptance_study as study  # noqa: E402


def test_fit_recovers_the_weights_of_synthetic_data():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(20000), rng.normal(size=20000), rng.normal(size=20000)])
    true = np.array([-0.5, 1.5, -0.8])
    y = (rng.random(20000) < 1 / (1 + np.exp(-(x @ true)))).astype(float)
    w = study.fit_logistic(x, y, l2=0.0)
    assert np.allclose(w, true, atol=0.08)


def test_auc_counts_ordered_pairs():
    y = np.array([0, 0, 1, 1.0])
    assert study.auc(np.array([0.1, 0.2, 0.3, 0.4]), y) == 1.0
    assert study.auc(np.array([0.4, 0.3, 0.2, 0.1]), y) == 0.0
    assert study.auc(np.array([0.1, 0.3, 0.2, 0.4]), y) == 0.75


def test_report_from_a_dump(tmp_path, capsys):
    rng = np.random.default_rng(1)
    lines = [json.dumps({"features": ["bias", "lead_logprob"]})]
    for i in range(400):
        lead = float(rng.uniform(-4, 0))
        accepted = bool(rng.random() < np.exp(lead))
        row = {"mode": "adapted", "id": i, "features": [1, lead], "accepted": accepted}
        lines.append(json.dumps({**row, "keys_saved": 5 if accepted else 0}))
    dump = tmp_path / "dump.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    assert study.main([str(dump)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["suggestions"] == 400
    assert report["weights"]["lead_logprob"] > 0
    assert report["auc_other_half"]["score"] > 0.6
    assert report["chosen"]["keys_kept"] >= 0.97
    assert report["by_threshold"][0]["shown"] == 400
