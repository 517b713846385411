"""ship_head.py: a model folder with the trained head, the same body and the learned weight."""

import json
import lzma
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ship_head  # noqa: E402
from export import export_all, write_config  # noqa: E402
from model import FastWeightsLM, ModelConfig  # noqa: E402
from recover_checkpoint import recover  # noqa: E402
from train_head import Head  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "fw-code-small"
CFG = ModelConfig(vocab_size=8192, d_model=16, n_layer=2, n_head=2, attn_window=8, fwl_decay=0.95)


def test_the_folder_holds_the_new_head_the_old_body_and_the_weight(tmp_path):
    torch.manual_seed(0)
    old = FastWeightsLM(CFG).eval()
    folder = tmp_path / "old"
    with torch.no_grad():
        for p in old.parameters():  # distinct values (equal initializers would be merged)
            p.add_(0.02 * torch.randn_like(p))
        export_all(old, folder)
    write_config(old, folder, "tiny", {"training": {"files": 3}})
    for f in ("tokenizer.json", "tokenizer_test_vectors.json", "training_files.tsv.xz"):
        shutil.copy(SHIPPED / f, folder / f)
    (folder / "parity_fixture.py").write_text("def f(x):\n    return x + 1\n" * 60)  # >= 400 tokens
    fixture = {"file": "parity_fixture.py", "source": "a held-out file"}
    (folder / "parity_fixture.json").write_text(json.dumps(fixture))
    trained, _ = recover(folder)
    head = Head(trained, 0.7)
    with torch.no_grad():
        trained.head.w1.add_(0.1)
        trained.head.log_eta.add_(0.2)
    files = [["pkg", "src/b.py"], ["pkg", "src/a.py"]]
    ckpt = {"head": head.state_dict(), "files": files, "step": 5, "tokens_seen": 20480}
    torch.save({**ckpt, "elapsed_s": 60.0, "args": {"seed": 27}}, tmp_path / "head.pt")
    out = tmp_path / "new"
    ship_head.main(
        ["--checkpoint", str(tmp_path / "head.pt"), "--model", str(folder), "--out", str(out)]
        + ["--no-int8", "--max-tokens", "4096"]
    )
    config = json.loads((out / "config.json").read_text())
    assert abs(config["repository"]["weight"] - 0.7) < 1e-6
    assert config["repository"]["max_tokens"] == 4096
    assert config["training"] == {"files": 3}, "the body's record is kept"
    h = config["head_training"]
    assert (h["step"], h["tokens_seen"], h["files"]) == (5, 20480, 2)
    assert h["command"] == "training/train_head.py --seed 27"
    listing = lzma.decompress((out / "head_training_files.tsv.xz").read_bytes()).decode()
    assert listing == "pkg\tsrc/a.py\npkg\tsrc/b.py\n"
    shipped, _ = recover(out)
    for name, p in shipped.state_dict().items():
        want = trained.state_dict()[name]
        assert torch.equal(p, want), name
    assert not torch.equal(shipped.head.w1, old.head.w1)
    assert torch.equal(shipped.blocks[0].qkv.weight, old.blocks[0].qkv.weight)
    parity = json.loads((out / "parity_fixture.json").read_text())
    assert parity["source"] == "a held-out file" and parity["tokens"] > 0
    assert (out / "parity_fixture.py").read_text() == (folder / "parity_fixture.py").read_text()
