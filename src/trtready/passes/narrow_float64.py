"""NarrowFloat64Pass: every DOUBLE value, constant, Cast target and I/O becomes FLOAT.

TensorRT converts DOUBLE to FLOAT anyway (silently on trt10/trt-rtx, TARGETS.md); doing it here
makes the rounding visible, checked (the plan refuses overflow and, unless allowed, underflow) and
verified against the float64 original.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir


class NarrowFloat64Pass(ir.passes.InPlacePass):
    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        modified = False
        for name, v in list(graph.initializers.items()):
            if v.dtype == ir.DataType.DOUBLE and v.const_value is not None:
                arr = np.asarray(v.const_value.numpy()).astype(np.float32)
                v.const_value = ir.tensor(arr, name=name)
                modified = True
        for node in ir.traversal.RecursiveGraphIterator(graph):
            for attr_name in ("to", "dtype"):
                attr = node.attributes.get(attr_name)
                if attr is not None and attr.type == ir.AttributeType.INT and attr.value == ir.DataType.DOUBLE:
                    node.attributes[attr_name] = ir.AttrInt64(attr_name, ir.DataType.FLOAT)
                    modified = True
            for attr_name in ("value",):
                attr = node.attributes.get(attr_name)
                if attr is not None and attr.type == ir.AttributeType.TENSOR and attr.value.dtype == ir.DataType.DOUBLE:
                    arr = np.asarray(attr.value.numpy())
                    node.attributes[attr_name] = ir.AttrTensor(attr_name, ir.tensor(np.asarray(arr).astype(np.float32)))
                    modified = True
            for v in node.outputs:
                if v.dtype == ir.DataType.DOUBLE:
                    v.dtype = ir.DataType.FLOAT
                    modified = True
        for v in list(graph.inputs) + list(graph.initializers.values()):
            if v.dtype == ir.DataType.DOUBLE:
                v.dtype = ir.DataType.FLOAT
                modified = True
        return ir.passes.PassResult(model, modified)
