"""Translate an ExportedProgram to ONNX once (torch.onnx, dynamo) and record the dynamic bounds."""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING

from trtready.bounds import EXAMPLE_KEY, DimBound, record_bounds

if TYPE_CHECKING:
    import onnx_ir as ir
    from torch.export import ExportedProgram


def translate(ep: ExportedProgram, bounds: list[DimBound] | None = None,
              examples: dict[str, list[int]] | None = None) -> ir.Model:
    """``torch.onnx.export(ep, dynamo=True)`` → onnx-ir model, with ``--dynamic`` bounds in metadata.

    The example input shapes are recorded too: ``build`` takes them as the profiles' opt shapes.
    """
    import logging

    import torch

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    # onnx-ir warns on every empty attribute list the exporter's optimizer builds; they are not the user's concern
    logging.getLogger("onnx_ir._convenience").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(ep, dynamo=True, verbose=False, optimize=True)
    if program is None:  # only when torch.onnx is asked to write a file, which it is not here
        raise RuntimeError("torch.onnx.export returned no program")
    model = program.model
    if examples:
        model.metadata_props[EXAMPLE_KEY] = json.dumps(examples)
    record_bounds(model, bounds or [])
    return model


