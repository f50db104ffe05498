"""InsertBoundaryCastsPass: a Cast to int32 where a narrowed node reads a value that stays int64.

The planner only lets an int32 node read int64 values proved to fit int32, so each Cast is exact.
One Cast per value, placed right after its producer (or at the top for graph inputs).
"""

from __future__ import annotations

from typing import Any

import onnx_ir as ir

from trtready.passes import NameSource
from trtready.plan.onnx_plan import OnnxPlan


class InsertBoundaryCastsPass(ir.passes.InPlacePass):
    def __init__(self, plan: OnnxPlan) -> None:
        super().__init__()
        self.plan = plan

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        names = NameSource(graph)
        casts: dict[int, ir.Value] = {}
        for ls in self.plan.narrowed_links:
            for idx, v in ls.ins:
                if v.dtype != ir.DataType.INT64:
                    continue
                if id(v) not in casts:
                    casts[id(v)] = self._cast(graph, v, names)
                ls.node.replace_input_with(idx, casts[id(v)])
        return ir.passes.PassResult(model, bool(casts))

    @staticmethod
    def _cast(graph: ir.Graph, v: Any, names: NameSource) -> ir.Value:
        out = ir.Value(name=names(f"{v.name}_int32"), shape=v.shape, type=ir.TensorType(ir.DataType.INT32))
        node = ir.Node("", "Cast", [v], [ir.AttrInt64("to", ir.DataType.INT32)], outputs=[out],
                       name=names(f"trtready_cast_{v.name}"))
        producer = v.producer()
        if producer is not None and producer.graph is graph:
            graph.insert_after(producer, node)
        else:
            first = next(iter(graph), None)
            if first is None:
                graph.append(node)
            else:
                graph.insert_before(first, node)
        return out
