"""Add int8 versions of the decoding graphs to a model folder (models/README.md: graphs_int8).

    python training/quantize.py models/fw-code-small

Dynamic quantization (onnxruntime.quantization.quantize_dynamic): weights of MatMul/Gemm nodes
become int8 with one scale per tensor, activations are quantized on the fly. Only body.onnx and
head.onnx are quantized: on held-out code they lose under 0.3% bits per byte, while quantizing the
gradient math of contribution.onnx and fast_chunk.onnx cost about 2% of the adapted bits per byte
(measured for issue 5, see the model card). The fp32 graphs stay: the CLI, the evaluation and the
parity tests use them.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic

QUANTIZED = ("body", "head")


def int8_name(graph_file: str) -> str:
    return graph_file.removesuffix(".onnx") + ".int8.onnx"


def quantize_folder(folder: Path) -> dict[str, str]:
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    written = {}
    for graph in QUANTIZED:
        src = folder / config["graphs"][graph]
        dst = folder / int8_name(config["graphs"][graph])
        quantize_dynamic(
            src, dst, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"]
        )
        written[graph] = dst.name
    config["graphs_int8"] = written
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return written


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("folder", type=Path, help="model folder written by training/export.py")
    args = p.parse_args(argv)
    # quantize_dynamic suggests shape pre-processing at WARNING level; it changes nothing here.
    logging.getLogger().setLevel(logging.ERROR)
    for graph, name in quantize_folder(args.folder).items():
        size = (args.folder / name).stat().st_size / 1e6
        print(f"{graph}: {name} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
