"""How a finding is named, on the ground floor: the layer it was found in, and the id of an op finding.
The rewrite matchers below the audit name the findings their decisions are about with these."""

from __future__ import annotations

import enum


class Layer(str, enum.Enum):
    STATE = "state"  # parameters and buffers of an nn.Module / checkpoint
    FX = "fx"  # torch.export graph nodes
    ONNX = "onnx"  # ONNX initializers, graph I/O and intermediate values
    TRT = "trt"  # what a TensorRT parser/builder reported


def op_finding_id(layer: Layer, node: str) -> str:
    """The id of the op finding for ``node`` (``op:fx:…``, ``op:onnx:…``): distinct from tensor ids."""
    return f"op:{layer.value}:{node}"
