"""Translate an ExportedProgram to ONNX once (torch.onnx, dynamo) and record the dynamic bounds."""

from __future__ import annotations

import json
import warnings
from typing import Any

from trtready.bounds import DimBound

METADATA_KEY = "trtready.dynamic"


def translate(ep: Any, bounds: list[DimBound] | None = None, examples: dict[str, list[int]] | None = None) -> Any:
    """``torch.onnx.export(ep, dynamo=True)`` → onnx-ir model, with ``--dynamic`` bounds in metadata.

    The example input shapes are recorded too: ``build`` takes them as the profiles' opt shapes.
    """
    import logging

    import torch

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(ep, dynamo=True, verbose=False, optimize=True)
    if program is None:  # only when torch.onnx is asked to write a file, which it is not here
        raise RuntimeError("torch.onnx.export returned no program")
    model = program.model
    if examples:
        from trtready.engine.profiles import EXAMPLE_KEY

        model.metadata_props[EXAMPLE_KEY] = json.dumps(examples)
    if bounds:
        model.metadata_props[METADATA_KEY] = json.dumps(
            [{"input": b.input, "axis": b.axis, "dim": b.dim, "min": b.lo, "max": b.hi} for b in bounds]
        )
    return model


def bounds_from_metadata(model: Any) -> list[DimBound]:
    raw = model.metadata_props.get(METADATA_KEY)
    if not raw:
        return []
    try:
        return [DimBound(d["input"], int(d["axis"]), d["dim"], int(d["min"]), int(d["max"])) for d in json.loads(raw)]
    except (ValueError, KeyError, TypeError):
        return []
