"""Inspect the network a TensorRT ONNX parser builds: what narrowing is measured by (docs/design.md).

INT64 *execution* tensors (device-side) are the ones narrowing should remove; INT64 shape tensors
are host-side shape math. Cast layers are counted in total and as device-side conversions between
different types (an INT64→INT64 Cast the parser inserts is a no-op).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtready.engine import capturing_logger, interrupts_deferred, load_library
from trtready.errors import BadInputError


@dataclass
class NetworkView:
    library: str
    version: str
    tensors_by_dtype: dict[str, int]
    int64_execution: list[str]
    int64_shape: int
    cast_layers: int
    device_casts: int  # Cast layers on execution tensors that change the type
    layers: int
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "library": self.library, "version": self.version, "layers": self.layers,
            "tensors_by_dtype": self.tensors_by_dtype, "int64_execution_tensors": len(self.int64_execution),
            "int64_shape_tensors": self.int64_shape, "int64_execution_names": self.int64_execution,
            "cast_layers": self.cast_layers, "device_casts": self.device_casts,
            "inputs": self.inputs, "outputs": self.outputs,
        }


def _dtype(t: Any) -> str:
    return str(t.dtype).rsplit(".", 1)[-1]


def parse_network(model: bytes | str | Path, library: str | None = None) -> tuple[Any, Any, Any]:
    """(trt module, builder, network) from an ONNX file or its bytes; parser errors name the node."""
    trt = load_library(library)
    logger = capturing_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    with interrupts_deferred():  # an interrupt during the parse is raised once it returns, not dropped
        if isinstance(model, (str, Path)):
            ok = parser.parse_from_file(str(model))
        else:
            ok = parser.parse(model)
    if not ok:
        errs = [parser.get_error(i) for i in range(parser.num_errors)]
        first = errs[0] if errs else None
        where = f"node {first.node_name()} ({first.node_operator()}): " if first is not None else ""
        raise BadInputError(f"the {trt.__name__} ONNX parser rejected the model: {where}{first.desc() if first else ''}")
    return trt, builder, network


def inspect_network(model: bytes | str | Path, library: str | None = None) -> NetworkView:
    trt, _builder, network = parse_network(model, library)
    return inspect_parsed(trt, network)


def inspect_parsed(trt: Any, network: Any) -> NetworkView:
    """Counts of an already parsed network (build reuses the parse)."""
    dtypes: Counter[str] = Counter()
    exec64: list[str] = []
    shape64 = 0
    seen: set[str] = set()

    def visit(t: Any) -> None:
        nonlocal shape64
        if t is None or t.name in seen:
            return
        seen.add(t.name)
        dtypes[_dtype(t)] += 1
        if t.dtype == trt.DataType.INT64:
            if t.is_execution_tensor:
                exec64.append(t.name)
            if t.is_shape_tensor:
                shape64 += 1

    io_in, io_out = [], []
    for i in range(network.num_inputs):
        t = network.get_input(i)
        visit(t)
        io_in.append({"name": t.name, "dtype": _dtype(t), "shape": list(t.shape)})
    casts = device_casts = 0
    for li in range(network.num_layers):
        layer = network.get_layer(li)
        for o in range(layer.num_outputs):
            visit(layer.get_output(o))
        if layer.type == trt.LayerType.CAST:
            casts += 1
            src, dst = layer.get_input(0), layer.get_output(0)
            if src.dtype != dst.dtype and dst.is_execution_tensor:
                device_casts += 1
    for i in range(network.num_outputs):
        t = network.get_output(i)
        io_out.append({"name": t.name, "dtype": _dtype(t), "shape": list(t.shape)})
    return NetworkView(trt.__name__, getattr(trt, "__version__", "?"), dict(dtypes), exec64, shape64, casts,
                       device_casts, network.num_layers, io_in, io_out)


def effect(before: NetworkView, after: NetworkView) -> str:
    """What narrowing changed in the parsed network: ``none``, ``smaller`` (fewer INT64 execution
    tensors or Cast layers, nothing more of either or of INT64 shape tensors) or ``mixed``."""
    b = (len(before.int64_execution), before.int64_shape, before.cast_layers)
    a = (len(after.int64_execution), after.int64_shape, after.cast_layers)
    if a == b and before.layers == after.layers and before.tensors_by_dtype == after.tensors_by_dtype:
        return "none"
    if all(x <= y for x, y in zip(a, b)):
        return "smaller"
    return "mixed"
