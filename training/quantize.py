"""Add int8 versions of the decoding graphs to a model folder (models/README.md: graphs_int8).

    python training/quantize.py models/fw-code-small

Dynamic quantization (onnxruntime.quantization.quantize_dynamic): weights of MatMul/Gemm nodes
become int8 with one scale per tensor, activations are quantized on the fly. body.onnx and head.onnx
are quantized whole: on held-out code they lose under 0.3% bits per byte. Of contribution.onnx only
the slow pass's logits (hidden x unembedding, a third of its work) are: quantizing its backward
products too (probabilities x embedding) cost about 2% of the adapted bits per byte, because one
scale per tensor rounds the small probabilities of the tail to zero (measured for issue 5, see the
model card). The int8 contribution graph also returns its matrix outputs quantized per row
(`<name>_int8`, `<name>_scales`: the runtime stores chunk contributions so, and onnxruntime does
that rounding in a fraction of the time JavaScript took). fast_chunk.onnx (evaluation only) stays
fp32, and so do the fp32 graphs: the CLI, the evaluation and the parity tests use them.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

QUANTIZED = ("body", "head", "contribution")


def logits_matmuls(path: Path, d_model: int, vocab_size: int) -> list[str]:
    """Names of the MatMul nodes with a [d_model, vocab] initializer as weight (the slow logits)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    return [
        n.name
        for n in graph.node
        if n.op_type == "MatMul" and shapes.get(n.input[1]) == [d_model, vocab_size]
    ]


def add_row_quantized_outputs(path: Path, state_tensors: dict[str, list[int]]) -> None:
    """Adds `<name>_int8` [K * rows, cols] and `<name>_scales` [K * rows] for each matrix output:
    each row rounded to the nearest multiple of (its largest magnitude / 127), ties to even, as
    src/runtime/compactState.ts does (an all-zero row gets a tiny scale and zeros)."""
    model = onnx.load(str(path))
    graph = model.graph
    for name, shape in state_tensors.items():
        if len(shape) != 2:
            continue
        p = f"{name}_rowq_"
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.array([-1, shape[1]], np.int64), p + "shape"),
                numpy_helper.from_array(np.array(1 / 127, np.float32), p + "inv127"),
                numpy_helper.from_array(np.array(1e-30, np.float32), p + "tiny"),
                numpy_helper.from_array(np.array(0, np.float32), p + "zero"),
            ]
        )
        graph.node.extend(
            [
                helper.make_node("Reshape", [name, p + "shape"], [p + "rows"]),
                helper.make_node("Abs", [p + "rows"], [p + "abs"]),
                helper.make_node("ReduceMax", [p + "abs"], [p + "max"], axes=[1], keepdims=0),
                helper.make_node("Mul", [p + "max", p + "inv127"], [p + "step"]),
                helper.make_node("Max", [p + "step", p + "tiny"], [f"{name}_scales"]),
                helper.make_node("Mul", [p + "step", p + "zero"], [p + "zeros"]),
                helper.make_node("Cast", [p + "zeros"], [p + "zero_point"], to=TensorProto.INT8),
                helper.make_node(
                    "QuantizeLinear",
                    [p + "rows", f"{name}_scales", p + "zero_point"],
                    [f"{name}_int8"],
                    axis=0,
                ),
            ]
        )
        graph.output.extend(
            [
                helper.make_tensor_value_info(f"{name}_int8", TensorProto.INT8, ["rows", shape[1]]),
                helper.make_tensor_value_info(f"{name}_scales", TensorProto.FLOAT, ["rows"]),
            ]
        )
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def int8_name(graph_file: str) -> str:
    return graph_file.removesuffix(".onnx") + ".int8.onnx"


def quantize_folder(folder: Path) -> dict[str, str]:
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    written = {}
    for graph in QUANTIZED:
        src = folder / config["graphs"][graph]
        if not src.exists():
            continue
        dst = folder / int8_name(config["graphs"][graph])
        nodes = None
        if graph == "contribution":
            nodes = logits_matmuls(src, config["d_model"], config["vocab_size"])
            if len(nodes) != 1:
                raise ValueError(f"{src.name}: expected one logits MatMul, found {nodes}")
        quantize_dynamic(
            src,
            dst,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm"],
            nodes_to_quantize=nodes,
        )
        if graph == "contribution":
            add_row_quantized_outputs(dst, config["state_tensors"])
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
