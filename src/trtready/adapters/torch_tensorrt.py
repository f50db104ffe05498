"""Torch-TensorRT dynamo frontend: compile the narrowed ExportedProgram with the right options.

``torch_tensorrt`` is optional. The options are built for the parameters the installed
``dynamo.compile`` has (read from its signature): tests/oracle checks them against the real library
(torch-tensorrt-rtx 2.13.0), up to the engine build.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from trtready.errors import MissingLibraryError
from trtready.load.capture import CallLayout, example_inputs


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
    # ``arg_inputs`` since 2.3; ``inputs`` is its older name, still accepted as an alias.
    opts: dict[str, Any] = {"arg_inputs" if "arg_inputs" in params else "inputs": inputs}
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


def unapplied_options(compile_fn: Any, output_names: list[str] | None) -> list[str]:
    """Requests the installed ``dynamo.compile`` has no parameter for, each as a note for the report."""
    params = set(inspect.signature(compile_fn).parameters)
    notes = []
    if output_names and "output_names" not in params:
        notes.append("--output-names not applied: this Torch-TensorRT's dynamo.compile takes no output names; "
                     "its engines name their outputs output0, output1, … (inputs keep forward's names)")
    return notes


def compile_dynamo(pt2: Path, req: Any, notes: list[str] | None = None) -> Any:
    import torch

    torch_trt = load_torch_tensorrt()
    ep = torch.export.load(str(pt2))

    layout = CallLayout.of(ep, *example_inputs(ep))
    opts = dynamo_options(torch_trt.dynamo.compile, torch_trt, dict(layout.tensors), req.bounds, req.output_names)
    if notes is not None:
        notes.extend(unapplied_options(torch_trt.dynamo.compile, req.output_names))
    return torch_trt.dynamo.compile(ep, **opts)
