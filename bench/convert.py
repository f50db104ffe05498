"""convert vs the bare path, per zoo text model, measured side by side in one process.

bare:    torch.export → torch.onnx.export(dynamo) → TensorRT-RTX parse + build (what a user writes)
convert: trtready convert (audit, plan, state + graph narrowing, the one ONNX translation, ONNX passes,
         verification in PyTorch and ONNX Runtime, build, inspect, manifest)

Models are the zoo's (``tests/zoo/models.py``: random weights, keyword inputs, dynamic batch × sequence).
For each model both paths run once to warm up, then REPEATS times alternately (bare, convert, bare, …):
load on a shared machine hits both alike, and the medians, the fastest runs and the median of the
per-pair ratios (each convert against the bare run just before it) are compared per model.
``--models text`` takes every zoo model called with ``input_ids`` (encoders, decoders, T5's and
BART's encoders). A model the bare path cannot take through (an exporter or TensorRT stopping) is a
row saying so, with the convert time alone; one convert cannot take through says so too.

    .venv/bin/python bench/convert.py [--models bert,distilbert,gpt2,llama | text] [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import re
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

DEFAULT_MODELS = "bert,distilbert,gpt2,llama"


def bare(spec: trtready.ModelSpec, tmp: Path) -> float:
    """What a user writes without trtready: export, translate, save, parse, build with one profile."""
    t = time.perf_counter()
    bounds = parse_dynamic(spec.dynamic)
    kwargs = spec.kwargs or {}
    ep = torch.export.export(spec.module, spec.args, kwargs=kwargs,
                             dynamic_shapes=dynamic_shapes_for(spec.module, bounds, spec.args, kwargs))
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
    example = {**dict(zip((f"arg{i}" for i in range(len(spec.args))), spec.args)), **kwargs}
    for i in range(network.num_inputs):
        name = network.get_input(i).name
        opt = tuple(example[name].shape)
        lo = tuple(next((b.lo for b in bounds if b.input == name and b.axis == a), n) for a, n in enumerate(opt))
        hi = tuple(next((b.hi for b in bounds if b.input == name and b.axis == a), n) for a, n in enumerate(opt))
        profile.set_shape(name, lo, opt, hi)
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
    ap.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated zoo text model names")
    ap.add_argument("--repeats", type=int, default=5)
    opts = ap.parse_args()
    from tests.zoo.models import ZOO

    if opts.models == "text":
        names = [n for n, (factory, kind, _) in ZOO.items() if kind in ("encoder", "decoder", "encoder-decoder")
                 and "input_ids" in (factory().kwargs or {})]
    else:
        names = [n.strip() for n in opts.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        sys.exit(f"not a zoo model: {', '.join(unknown)}")
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        for name in names:
            spec = ZOO[name][0]()
            (tmp / name).mkdir()
            failed = {}
            for label, run in (("bare", lambda: bare(spec, tmp)), ("convert", lambda: ours(spec, tmp / name, -1))):
                try:
                    run()  # warm-up: imports, kernels, caches
                except Exception as e:  # noqa: BLE001 - a path that stops is this model's finding
                    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()  # torch.onnx colours its messages
                    failed[label] = f"{type(e).__name__}: {text.splitlines()[0][:100] if text else ''}"
            b, o = [], []
            for i in range(opts.repeats):
                # each run starts after a full collection: neither path pays for the other's cyclic garbage
                if "bare" not in failed:
                    gc.collect()
                    b.append(bare(spec, tmp))
                if "convert" not in failed:
                    gc.collect()
                    o.append(ours(spec, tmp / name, i))
            rows.append((name, b, o, failed))
            print(f"{name}: bare {', '.join(f'{x:.2f}' for x in b) or failed['bare']}; "
                  f"convert {', '.join(f'{x:.2f}' for x in o) or failed['convert']}", flush=True)
    import tensorrt_rtx

    print(f"\nMachine: {platform.machine()}, {platform.processor() or '?'}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, torch {torch.__version__}, tensorrt_rtx {tensorrt_rtx.__version__}; "
          f"zoo models, dynamic batch×seq; {opts.repeats} alternating runs per model after a warm-up; "
          f"load average at the end {os.getloadavg()[0]:.2f}")
    print(f"{'model':<14} {'bare (median)':>14} {'convert (median)':>17} {'ratio (medians)':>16} {'ratio (fastest)':>16}"
          f" {'ratio (pairs)':>14}")
    for name, b, o, failed in rows:
        if failed:
            what = "; ".join(f"{k} stops: {v}" for k, v in failed.items())
            alone = f"convert {statistics.median(o):.2f} s; " if o else ""
            print(f"{name:<14} {alone}{what}")
            continue
        mb, mo = statistics.median(b), statistics.median(o)
        pairs = statistics.median(y / x for x, y in zip(b, o))
        print(f"{name:<14} {mb:>12.2f} s {mo:>15.2f} s {mo / mb:>15.2f}× {min(o) / min(b):>15.2f}× {pairs:>13.2f}×")


if __name__ == "__main__":
    main()
