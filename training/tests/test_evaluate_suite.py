"""The evaluation suite's peers and line completion, on a tiny random model (fast)."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cache_peer  # noqa: E402
import dynamic_eval  # noqa: E402
import line_completion as lc  # noqa: E402
from evaluate import score_tokens  # noqa: E402
from evaluate_suite import _totals, bpb, fwl_causal_nll, seeded_subset  # noqa: E402
from model import FastWeightsLM, ModelConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CFG = ModelConfig(
    vocab_size=61, d_model=16, n_layer=2, n_head=2, attn_window=8, fwl_decay=0.9, fwl_normaliser=7.0
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = FastWeightsLM(CFG)
    with torch.no_grad():
        m.head.log_eta.copy_(torch.log(torch.tensor([0.7, 0.3, 0.5, 0.2, 0.4, 0.6])))
    return m.eval()


def ids(n=30, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [0, *torch.randint(1, CFG.vocab_size, (n,), generator=g).tolist()]


# -- cache peer --------------------------------------------------------------------------------


def test_unigram_cache_counts_earlier_tokens():
    p = cache_peer.cache_probs([5, 6, 5, 5, 7], order=1)["unigram_cache"]
    np.testing.assert_allclose(p, [0, 0, 1 / 2, 2 / 3, 0])


def test_ngram_cache_backs_off_and_interpolates():
    seq = [1, 2, 3, 1, 2, 3, 1, 2]
    p = cache_peer.cache_probs(seq, order=3, beta=1.0)
    # Position 4 predicts 2 after "1": bigram context "1" seen once, followed by 2 once.
    uni = 1 / 4  # 2 occurs once in [1, 2, 3, 1]
    big = (1 + 1.0 * uni) / (1 + 1.0)
    assert p["unigram_cache"][4] == pytest.approx(uni)
    # the trigram context (3, 1) was never seen: back-off stops at the bigram
    assert p["ngram_cache"][4] == pytest.approx(big)
    # a repeated pattern is predicted better by the n-gram cache than by the unigram cache
    assert p["ngram_cache"][7] > p["unigram_cache"][7]


def test_mix_nll_keeps_the_model_alone_where_the_cache_is_empty():
    nll = np.array([1.0, 2.0, 3.0])
    out = cache_peer.mix_nll(nll, np.array([0.0, 0.5, 0.0]), 0.2)
    assert out[0] == pytest.approx(1.0)
    assert out[1] == pytest.approx(-math.log(0.8 * math.exp(-2.0) + 0.2 * 0.5))
    assert out[2] == pytest.approx(-math.log(0.8 * math.exp(-3.0)))


def test_cache_tuning_picks_a_weight_that_helps_on_repetitive_text():
    seq = [1, 2, 3, 4] * 20
    nll = np.full(len(seq), 3.0)
    best = cache_peer.tune([(seq, nll, 100)])
    assert best["ngram_cache"]["valid_bits_per_byte"] < best["valid_static_bits_per_byte"]
    assert best["ngram_cache"]["weight"] in cache_peer.WEIGHTS


def test_cache_match_gives_the_back_off_p_and_the_longest_context():
    seq = [1, 2, 3, 4, 5, 1, 2, 3, 9, 1, 2, 3]
    m = cache_peer.cache_match(seq, order=8, beta=0.5)
    # before the 9: unigram 0 (9 never seen), "3" -> 4 once: (0 + 0.5 * 0) / 1.5 = 0 at every order
    assert m["p"][8] == 0
    # the last 3 after "1 2": unigram 2/11, then "2" -> 3 twice of 2, "1 2" -> 3 twice of 2
    p = 2 / 11
    for _ in range(2):
        p = (2 + 0.5 * p) / (2 + 0.5)
    assert m["p"][11] == pytest.approx(p)
    # before the last 3: "1 2" was followed by 3 twice, so the longest context seen is "1 2" (k = 2)
    assert (m["order"][11], m["count"][11], m["top"][11]) == (2, 2, 1.0)
    # before the 9: "1 2 3" was seen once, followed by 4
    assert (m["order"][8], m["count"][8], m["top"][8]) == (3, 1, 1.0)
    # no context yet: the count is the number of tokens so far
    assert (m["order"][1], m["count"][1], m["top"][1]) == (0, 1, 0.0)


def test_fitted_gate_trusts_long_sure_matches_and_beats_a_fixed_weight():
    rng = np.random.default_rng(0)
    seq = list(rng.integers(10, 60, 200)) + [1, 2, 3, 4, 5, 6, 7, 8] * 30
    seq = [int(x) for x in seq]
    nll = np.full(len(seq), 4.0)  # a model that knows nothing
    m = cache_peer.cache_match(seq, 8, 1.0)
    theta = cache_peer.fit_gate([(nll, m)], 8)
    w = cache_peer.gate_weights(theta, m, 8)
    assert w[-1] > 0.9 and w[5] < w[-1]
    gated = cache_peer.mix_nll(nll, m["p"], w).sum()
    fixed = min(cache_peer.mix_nll(nll, m["p"], x).sum() for x in cache_peer.WEIGHTS)
    assert gated < fixed


# -- dynamic evaluation ------------------------------------------------------------------------


def test_static_nll_matches_evaluate_and_fwl_causal_matches_adapted(model):
    x = ids(40)
    ref = score_tokens(model, x)
    np.testing.assert_allclose(dynamic_eval.static_nll(model, x, 5), ref["static"], atol=1e-5)
    np.testing.assert_allclose(fwl_causal_nll(model, x), ref["adapted"], atol=1e-5)


def test_dynamic_eval_with_zero_step_is_static_and_restores_weights(model):
    x = ids(40)
    before = [p.detach().clone() for p in model.parameters()]
    static = dynamic_eval.static_nll(model, x, 8)
    zero = dynamic_eval.DynamicEvaluator(model, "sgd", 0.0, 0.0, segment=8).score(x)
    np.testing.assert_allclose(zero, static, atol=1e-5)
    sgd = dynamic_eval.DynamicEvaluator(model, "sgd", 0.5, 0.1, segment=8).score(x)
    np.testing.assert_allclose(sgd[:8], static[:8], atol=1e-5)  # the first segment: no step yet
    assert np.abs(sgd[8:] - static[8:]).max() > 1e-4  # later segments: adapted weights
    for p, b in zip(model.parameters(), before):
        assert torch.equal(p, b)


def test_dynamic_eval_adapts_to_a_repeated_segment(model):
    x = [0, *([3, 9, 4, 7, 1, 8, 2, 5] * 6)]
    static = dynamic_eval.static_nll(model, x, 8).sum()
    ms = dynamic_eval.mean_square_grads(model, [ids(24, 3)], 8)
    for method, lr in (("sgd", 0.1), ("rms", 1e-3)):
        ev = dynamic_eval.DynamicEvaluator(model, method, lr, 0.01, segment=8, ms=ms)
        assert ev.score(x).sum() < static, method


# -- line completion ---------------------------------------------------------------------------


def test_line_targets_match_the_typescript_rule():
    """The same vectors are pinned in test/unit/cli.test.ts: both sides pick the same cursors."""
    assert lc.fnv1a32(b"hello") == 1335831723
    rng = lc.Mulberry32(1335831723)
    got = [rng.next() for _ in range(3)]
    assert got == pytest.approx([0.6311965801287442, 0.7983490515034646, 0.30862852558493614])
    ts = (ROOT / "test/unit/fixtures/sample.ts").read_text()
    py = (ROOT / "test/unit/fixtures/sample.py").read_text()
    assert lc.sample_targets(ts, 3, 0) == [483, 601, 628]
    assert lc.sample_targets(py, 2, 7) == [62, 225]


def test_cursor_candidates_end_a_word_and_leave_text_on_the_line():
    text = "x = 1\n    return foo(bar)  \n}\n"
    cands = lc.line_candidates(text)
    assert len(cands) == 1
    start, cursors = cands[0]
    line = text[start:].split("\n")[0]
    assert [line[c - start :] for c in cursors] == [" foo(bar)  ", "(bar)  "]


def test_metrics_follow_codexglue():
    assert lc.exact_match(" a  b ", "a b")
    assert not lc.exact_match("a b", "a c")
    assert lc.edit_similarity("abc", "abc") == 100.0
    assert lc.edit_similarity("abcd", "abce") == pytest.approx(75.0)  # substitution costs 2
    assert lc.edit_similarity("", "") == 100.0


def test_whole_file_state_adds_only_text_after_the_cursor(model):
    x = ids(30)
    states = lc._states(model, x, cursor=12)
    ref = lc._states(model, x[:13], cursor=12)  # nothing after the cursor
    for k in states["adapted"]:
        assert torch.allclose(states["adapted"][k], ref["adapted"][k], atol=1e-6)
        assert torch.allclose(ref["adapted_whole_file"][k], ref["adapted"][k])
    assert any(
        not torch.allclose(states["adapted_whole_file"][k], states["adapted"][k])
        for k in states["adapted"]
    )


# -- suite helpers -----------------------------------------------------------------------------


def test_seeded_subset_is_fixed_and_in_order():
    files = [dict(index=i) for i in range(50)]
    a = seeded_subset(files, 7, 3)
    assert a == seeded_subset(files, 7, 3)
    assert [f["index"] for f in a] == sorted(f["index"] for f in a)
    assert seeded_subset(files, 0, 3) == files


def test_totals_slice_positions_and_bits_per_byte():
    rec = dict(static=np.array([math.log(2)] * 4), tok_bytes=np.array([1, 1, 2, 0]))
    t = _totals([rec], ("static",), 0, 2)
    assert (t["files"], t["tokens"], t["bytes"]) == (1, 2, 2)
    assert bpb(t["static"], t["bytes"]) == pytest.approx(1.0)


def test_evaluate_files_reports_per_file_sums_that_add_up():
    from evaluate import evaluate_files
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(ROOT / "models/fw-code-small/tokenizer.json"))
    cfg = ModelConfig(vocab_size=tok.get_vocab_size(), d_model=16, n_layer=1, n_head=2)
    torch.manual_seed(0)
    m = FastWeightsLM(cfg).eval()
    texts = ["def f(x):\n    return x + 1\n" * 3, "a = 1\n", "x = 1\n" * 40]
    r = evaluate_files(m, tok, texts, min_tokens=10, log=None)
    per_file = r["per_file_nats"]
    assert [f["bytes"] for f in per_file] == [len(texts[0]), len(texts[2])]  # the short one skipped
    assert sum(f["tokens"] for f in per_file) == r["tokens"]
    for mode in ("static", "adapted", "adapted_whole_file"):
        nats = sum(f[mode] for f in per_file)
        assert math.isclose(bpb(nats, r["bytes"]), r[mode]["bits_per_byte"], rel_tol=1e-9)


def test_future_weight_scales_only_the_text_after_the_chunk(model):
    x = ids(60)
    ref = score_tokens(model, x, chunk=8)
    none = score_tokens(model, x, chunk=8, future_weight=0.0)
    np.testing.assert_allclose(none["adapted_whole_file"], ref["adapted"], atol=1e-5)
    np.testing.assert_allclose(none["static"], ref["static"])
    double = score_tokens(model, x, chunk=8, future_weight=2.0)
    # Chunks with text two chunks ahead change; the last two chunks have none and stay causal.
    assert not np.allclose(double["adapted_whole_file"][:40], ref["adapted_whole_file"][:40])
    np.testing.assert_allclose(double["adapted_whole_file"][-8:], ref["adapted"][-8:], atol=1e-5)


# -- repository stage ----------------------------------------------------------------------------


def test_repository_stage_scores_each_file_with_its_package_by_position(tmp_path):
    import json

    import evaluate_suite

    cfg = ModelConfig(**{**CFG.to_dict(), "vocab_size": 8192})
    torch.manual_seed(3)
    m = FastWeightsLM(cfg)
    ckpt = tmp_path / "today.pt"
    torch.save({"model": m.state_dict(), "config": cfg.to_dict()}, ckpt)
    head = tmp_path / "head.pt"
    torch.save({"model": m.state_dict(), "config": cfg.to_dict(), "repository_weight": 0.5}, head)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = {
        "src/a.py": "from .b import size\n\ndef area(w, h):\n    return size(w) * size(h)\n" * 3,
        "src/b.py": "def size(x):\n    return max(0, int(x))\n" * 4,
        "lib/c.py": "import os\n\nROOT = os.path.dirname(__file__)\n",
    }
    lines = [json.dumps({"package": "p", "path": k, "text": v}) for k, v in texts.items()]
    for split in ("valid", "test"):
        (corpus / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    args = (
        ["--checkpoint", str(ckpt), "--head-checkpoint", str(head), "--corpus", str(corpus)]
        + ["--tokenizer", str(ROOT / "models" / "fw-code-small" / "tokenizer.json")]
        + ["--out", str(out), "--stages", "repository", "--min-tokens", "5"]
        + ["--repository-weights", "0,1"]
    )
    evaluate_suite.main(args)
    rows = json.loads((out / "repository-valid.json").read_text())["rows"]
    assert set(rows) == {"today w=0", "today w=1", "head w=0.5"}
    zero, one = rows["today w=0"]["all"], rows["today w=1"]["all"]
    assert zero["files"] == 3 and zero["bytes"] == sum(len(t) for t in texts.values())
    assert zero["fwl_workspace"] == pytest.approx(zero["adapted_whole_file"], rel=1e-5)
    assert one["fwl_workspace"] != pytest.approx(one["adapted_whole_file"], rel=1e-5)
    assert rows["today w=1"]["0-512"]["files"] == 3 and rows["today w=1"]["4k+"]["files"] == 0
    head_only = args[:-1] + [""]  # no weights for --checkpoint: the head alone, in its own file
    evaluate_suite.main(head_only)
    rows = json.loads((out / "repository-valid-head.json").read_text())["rows"]
    assert set(rows) == {"head w=0.5"}
