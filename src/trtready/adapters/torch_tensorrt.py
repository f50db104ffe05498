"""Torch-TensorRT dynamo frontend: compile the narrowed ExportedProgram with the right options.

``torch_tensorrt`` is optional. The option mapping is plain data built here, so it is tested without
the library (a stand-in module is injected in the tests).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from trtready.errors import MissingLibraryError


def load_torch_tensorrt() -> Any:
    try:
        return importlib.import_module("torch_tensorrt")
    except ImportError as e:
        raise MissingLibraryError(
            "torch_tensorrt is not installed: --frontend torch-trt-dynamo needs it (pip install torch-tensorrt "
            "matching your torch); the ONNX → TensorRT path needs only tensorrt or tensorrt-rtx"
        ) from e


def dynamo_options(compile_fn: Any, torch_trt: Any, example_inputs: dict[str, Any], bounds: list[Any],
                   output_names: list[str] | None) -> dict[str, Any]:
    """Keyword arguments for ``torch_tensorrt.dynamo.compile``, for the parameters it has."""
    import torch

    params = set(inspect.signature(compile_fn).parameters)
    by_axis = {(b.input, b.axis): b for b in bounds}
    inputs = []
    for name, t in example_inputs.items():
        shape = list(t.shape)
        mn, mx = list(shape), list(shape)
        for axis in range(len(shape)):
            b = by_axis.get((name, axis))
            if b is not None:
                mn[axis], mx[axis] = b.lo, b.hi
        if mn == mx:
            inputs.append(torch_trt.Input(shape=shape, dtype=t.dtype, name=name))
        else:
            inputs.append(torch_trt.Input(min_shape=mn, opt_shape=shape, max_shape=mx, dtype=t.dtype, name=name))
    opts: dict[str, Any] = {"inputs": inputs}
    # float64 must be truncated explicitly; the option's name changed across versions.
    for name in ("truncate_double", "truncate_long_and_double"):
        if name in params:
            opts[name] = True
            break
    if "enabled_precisions" in params:
        opts["enabled_precisions"] = {torch.float32}
    if output_names and "output_names" in params:  # binding names where the installed version has them
        opts["output_names"] = list(output_names)
    return opts


def compile_dynamo(pt2: Path, req: Any) -> Any:
    import torch

    torch_trt = load_torch_tensorrt()
    ep = torch.export.load(str(pt2))
    from trtready.load.capture import example_inputs

    args, _ = example_inputs(ep)
    names = list(ep.graph_signature.user_inputs)
    opts = dynamo_options(torch_trt.dynamo.compile, torch_trt, dict(zip(names, args)), req.bounds, req.output_names)
    return torch_trt.dynamo.compile(ep, **opts)
