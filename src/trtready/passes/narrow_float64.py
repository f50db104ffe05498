"""NarrowFloat64Pass: the planned DOUBLE values become FLOAT — their constants, Cast targets and I/O.

TensorRT converts DOUBLE to FLOAT anyway (silently on trt10/trt11/trt-rtx, docs/targets.md); doing it here
makes the rounding visible, checked (the plan refuses overflow and, unless allowed, underflow) and
verified against the float64 original. Which values change is the plan's decision
(:func:`trtready.plan.onnx_plan.plan_doubles`): values tied to a DOUBLE width elsewhere (BitCast,
float64 tensor attributes, ops without a schema) are left as they are.

Before::

    d = Cast<to=DOUBLE>(x);  y = Mul(d, w)          # w: double initializer

After::

    d = Cast<to=FLOAT>(x);   y = Mul(d, w)          # w: float initializer, d and y float
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx_ir as ir


class NarrowFloat64Pass(ir.passes.InPlacePass):
    """Retype exactly ``values`` (and what produces them) from DOUBLE to FLOAT, in every scope."""

    def __init__(self, values: Iterable[ir.Value]) -> None:
        super().__init__()
        self.values = set(values)

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        modified = False
        for graph in model.graphs():
            for name, v in list(graph.initializers.items()):
                if v in self.values and v.const_value is not None and v.const_value.dtype == ir.DataType.DOUBLE:
                    v.const_value = ir.tensor(np.asarray(v.const_value.numpy()).astype(np.float32), name=name)
                    modified = True
            for node in graph:
                if not any(o in self.values for o in node.outputs):
                    continue
                for attr_name in ("to", "dtype"):
                    attr = node.attributes.get(attr_name)
                    if attr is not None and attr.type == ir.AttributeType.INT and attr.value == ir.DataType.DOUBLE:
                        node.attributes[attr_name] = ir.AttrInt64(attr_name, ir.DataType.FLOAT)
                        modified = True
                attr = node.attributes.get("value")
                if attr is not None and attr.type == ir.AttributeType.TENSOR and attr.value.dtype == ir.DataType.DOUBLE:
                    arr = np.asarray(attr.value.numpy()).astype(np.float32)
                    node.attributes["value"] = ir.AttrTensor("value", ir.tensor(arr))
                    modified = True
        for v in self.values:
            if v.dtype == ir.DataType.DOUBLE:
                v.dtype = ir.DataType.FLOAT
                modified = True
        return ir.passes.PassResult(model, modified)
