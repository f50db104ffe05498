"""NarrowInt64Pass: retype the planned int64 values to int32 (values, Cast targets, constants read).

Boundary Casts from int64 values into the narrowed region are the next pass's concern
(:mod:`trtready.passes.boundary_casts`); between the two passes the graph is not valid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx_ir as ir

from trtready.intervals import INT32_MAX, INT32_MIN
from trtready.passes import NameSource, constant_array
from trtready.plan.onnx_plan import OnnxPlan, clamp_exact_use


class NarrowInt64Pass(ir.passes.InPlacePass):
    """Apply an :class:`OnnxPlan`'s int32 region."""

    def __init__(self, plan: OnnxPlan) -> None:
        super().__init__()
        self.plan = plan

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        names = NameSource(graph)
        copies: dict[tuple[int, bool], ir.Value] = {}
        modified = False
        for v in self.plan.narrowed_values:
            v.dtype = ir.DataType.INT32
            node = v.producer()
            if node is not None and node.op_type == "Cast":
                node.attributes["to"] = ir.AttrInt64("to", ir.DataType.INT32)
            elif node is not None and node.op_type == "ConstantOfShape":
                fill = np.asarray(node.attributes["value"].value.numpy()).astype(np.int32)
                node.attributes["value"] = ir.AttrTensor("value", ir.tensor(fill))
            modified = True
        for ls in self.plan.narrowed_links:
            for idx, c in ls.consts:
                clamp = clamp_exact_use(ls.node, idx)
                key = (id(c), clamp)
                if key not in copies:
                    copies[key] = self._int32_copy(graph, c, clamp, names)
                ls.node.replace_input_with(idx, copies[key])
                modified = True
        return ir.passes.PassResult(model, modified)

    @staticmethod
    def _int32_copy(graph: ir.Graph, c: Any, clamp: bool, names: NameSource) -> ir.Value:
        arr = constant_array(c)
        if arr is None:  # pragma: no cover - the planner only links readable constants
            raise ValueError(f"constant {c.name} cannot be read")
        if clamp:  # Slice bounds: clamping to int32 is exact (Slice clamps to the dimension)
            arr = np.clip(arr, INT32_MIN, INT32_MAX)
        if arr.size and (arr.min() < INT32_MIN or arr.max() > INT32_MAX):  # pragma: no cover - planner proved
            raise ValueError(f"constant {c.name} does not fit int32")
        name = names(f"{c.name}_int32")
        value = ir.Value(
            name=name,
            shape=ir.Shape(arr.shape),
            type=ir.TensorType(ir.DataType.INT32),
            const_value=ir.tensor(arr.astype(np.int32), name=name),
        )
        graph.register_initializer(value)
        return value
