"""convert vs the bare path, measured side by side on the same model in one process.

bare:    torch.export → torch.onnx.export(dynamo) → TensorRT-RTX parse + build (what a user writes)
convert: trtready convert (audit, plan, state + graph narrowing, the one ONNX translation, ONNX passes,
         verification in PyTorch and ONNX Runtime, build, inspect, manifest)

Each path runs REPEATS times alternately after one warm-up each; medians and fastest runs are compared
(the fastest run is the least disturbed by other load on a shared machine).

    .venv/bin/python bench/convert.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import trtready  # noqa: E402
from trtready.bounds import parse_dynamic  # noqa: E402
from trtready.fix import FixRequest  # noqa: E402
from trtready.load import load_model  # noqa: E402
from trtready.load.capture import dynamic_shapes_for  # noqa: E402
from trtready.pipeline import convert  # noqa: E402
from trtready.plan import PlanOptions  # noqa: E402
from trtready.targets import resolve_target  # noqa: E402


def tiny_bert() -> trtready.ModelSpec:
    from transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    return trtready.ModelSpec(BertModel(cfg).eval(), (torch.randint(0, 128, (2, 16)), torch.ones(2, 16, dtype=torch.int64)),
                              dynamic=["input_ids:0=batch[1:8],1=seq[2:64]", "attention_mask:0=batch[1:8],1=seq[2:64]"])


def bare(spec: trtready.ModelSpec, tmp: Path) -> float:
    t = time.perf_counter()
    bounds = parse_dynamic(spec.dynamic)
    ep = torch.export.export(spec.module, spec.args, dynamic_shapes=dynamic_shapes_for(spec.module, bounds, spec.args, {}))
    prog = torch.onnx.export(ep, dynamo=True, verbose=False)
    path = tmp / "bare.onnx"
    prog.save(str(path))
    import tensorrt_rtx as trt

    from trtready.engine import capturing_logger

    logger = capturing_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse_from_file(str(path))
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        name = network.get_input(i).name
        profile.set_shape(name, (1, 2), (2, 16), (8, 64))
    config.add_optimization_profile(profile)
    assert builder.build_serialized_network(network, config) is not None
    return time.perf_counter() - t


def ours(spec: trtready.ModelSpec, tmp: Path, i: int) -> float:
    t = time.perf_counter()
    loaded = load_model(spec)
    req = FixRequest(tmp / f"conv{i}", resolve_target("trt-rtx"), PlanOptions(), parse_dynamic(loaded.dynamic))
    assert convert(loaded, req)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    repeats = ap.parse_args().repeats
    spec = tiny_bert()
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        bare(spec, tmp), ours(spec, tmp, -1)  # warm-up: imports, kernels, caches
        b, o = [], []
        for i in range(repeats):
            b.append(bare(spec, tmp))
            o.append(ours(spec, tmp, i))
    mb, mo = statistics.median(b), statistics.median(o)
    import tensorrt_rtx

    print(f"Machine: {platform.machine()}, {platform.processor() or '?'}, Python {platform.python_version()}, "
          f"torch {torch.__version__}, tensorrt_rtx {tensorrt_rtx.__version__}; tiny BERT, dynamic batch×seq; "
          f"{repeats} alternating runs after a warm-up")
    print(f"bare export + build : median {mb:.2f} s (runs: {', '.join(f'{x:.2f}' for x in b)})")
    print(f"trtready convert    : median {mo:.2f} s (runs: {', '.join(f'{x:.2f}' for x in o)})")
    print(f"ratio convert / bare: {mo / mb:.2f}× (medians), {min(o) / min(b):.2f}× (fastest runs)")


if __name__ == "__main__":
    main()
