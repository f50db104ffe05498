"""How a finding is named, on the ground floor: the layer it was found in, and the id of an op finding.
The rewrite matchers below the audit name the findings their decisions are about with these."""

from __future__ import annotations

import enum
from typing import NewType

# A finding's id: made only by the functions below (mypy holds every other string out), read by
# :func:`tensor_name`. In JSON it is the plain string.
FindingId = NewType("FindingId", str)


class Layer(str, enum.Enum):
    STATE = "state"  # parameters and buffers of an nn.Module / checkpoint
    FX = "fx"  # torch.export graph nodes
    ONNX = "onnx"  # ONNX initializers, graph I/O and intermediate values
    TRT = "trt"  # what a TensorRT parser/builder reported


def op_finding_id(layer: Layer, node: str) -> FindingId:
    """The id of the op finding for ``node`` (``op:fx:…``, ``op:onnx:…``): distinct from tensor ids."""
    return FindingId(f"op:{layer.value}:{node}")


def tensor_finding_id(layer: Layer, name: str) -> FindingId:
    """The id of the finding about tensor ``name`` of ``layer`` (``state:embeddings.position_ids``,
    ``fx:arange``, ``onnx:/Range_output_0``): the one place that writes the format."""
    return FindingId(f"{layer.value}:{name}")


def index_finding_id(layer: Layer, node: str) -> FindingId:
    """The id of the index-bounds finding of ``node`` (``onnx:index:…``, ``fx:index:…``)."""
    return FindingId(f"{layer.value}:index:{node}")


def plugin_finding_id(node: str) -> FindingId:
    """The id of the finding about a plugin node (``plugin:onnx:…``)."""
    return FindingId(f"plugin:onnx:{node}")


def build_finding_id(kind: str, name: str) -> FindingId:
    """The id of a finding the TensorRT build reported (``trt:binding:…``, ``trt:profile:…``, ``trt:double:…``)."""
    return FindingId(f"{Layer.TRT.value}:{kind}:{name}")


def tensor_name(finding_id: FindingId, layer: Layer) -> str | None:
    """The tensor a finding of ``layer`` is about, or None when ``finding_id`` is of another layer or kind:
    the one place that reads the format."""
    prefix = f"{layer.value}:"
    if not finding_id.startswith(prefix) or finding_id.startswith(f"{prefix}index:"):
        return None
    return finding_id[len(prefix):]
