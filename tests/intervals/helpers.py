"""Shared by the interval tests: propagate over ONNX text, and run the same graph in ONNX Runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx_ir as ir

from tests.onnx_models import run_by_name
from trtready.intervals.onnx import propagate
from trtready.load.onnx_file import infer_shapes


def propagate_and_run(text: str, feeds: dict[str, np.ndarray], inputs: Any = None,
                      dims: Any = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(interval of every node output by name, ONNX Runtime's value of every graph output by name)."""
    model = ir.from_onnx_text(text)
    infer_shapes(model)  # as every run does before propagating: dtypes of intermediate values
    env = propagate(model.graph, inputs, dims)
    ivs = {v.name: env.get(v) for node in model.graph for v in node.outputs}
    return ivs, run_by_name(model, feeds)
