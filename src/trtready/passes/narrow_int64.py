"""NarrowInt64Pass: apply an :class:`~trtready.plan.onnx_plan.OnnxPlan`'s int32 region.

The rule (decided by the planner, applied here): every value of a narrowed component becomes INT32,
a Cast or ConstantOfShape producing one is retargeted, each constant a narrowed node reads gets an
INT32 copy (Slice bounds beyond int32 are clamped, which Slice does anyway), and each int64 value a
narrowed node reads — proved to fit by the plan — gets one exact Cast to INT32 right after its
producer. The main graph only: the planner keeps values next to subgraphs int64.

Before::

    k = Mul(i, three)            # i: int64 in [0, 8], three: int64 constant
    z = Gather(t, k)

After::

    i_int32 = Cast<to=INT32>(i)
    k = Mul(i_int32, three_int32)    # k: int32
    z = Gather(t, k)
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from trtready.analysis import graph_fingerprint
from trtready.intervals import INT32_MAX, INT32_MIN
from trtready.passes import NameSource, constant_array
from trtready.plan.onnx_plan import OnnxPlan, clamp_exact_use


class NarrowInt64Pass(ir.passes.InPlacePass):
    """Retype the planned int64 values to int32, with int32 constants and exact boundary Casts."""

    def __init__(self, plan: OnnxPlan) -> None:
        super().__init__()
        self.plan = plan

    def requires(self, model: ir.Model) -> None:
        if model is not self.plan.model:
            raise ir.passes.PreconditionError("the plan was made for another model")
        if graph_fingerprint(model) != self.plan.fingerprint:
            raise ir.passes.PreconditionError("the graph changed after it was planned: plan it again")

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        names = NameSource(graph)
        modified = False
        for v in self.plan.narrowed_values:
            v.dtype = ir.DataType.INT32
            node = v.producer()
            if node is not None and node.op_type == "Cast":
                node.attributes["to"] = ir.AttrInt64("to", ir.DataType.INT32)
            elif node is not None and node.op_type == "ConstantOfShape" and "value" in node.attributes:
                fill = np.asarray(node.attributes["value"].value.numpy()).astype(np.int32)
                node.attributes["value"] = ir.AttrTensor("value", ir.tensor(fill))
            elif node is not None and node.op_type == "ConstantOfShape":
                node.attributes["value"] = ir.AttrTensor("value", ir.tensor(np.zeros(1, np.int32)))
            modified = True
        copies: dict[tuple[ir.Value, bool], ir.Value] = {}
        casts: dict[ir.Value, ir.Value] = {}
        for ls in self.plan.narrowed_links:
            for idx, c in ls.consts:
                key = (c, clamp_exact_use(ls.node, idx))
                if key not in copies:
                    copies[key] = self._int32_copy(graph, c, key[1], names)
                ls.node.replace_input_with(idx, copies[key])
                modified = True
            for idx, v in ls.ins:
                if v.dtype != ir.DataType.INT64:
                    continue
                if v not in casts:
                    casts[v] = self._cast(graph, v, names)
                ls.node.replace_input_with(idx, casts[v])
                modified = True
        for v in self.plan.input_casts:
            self._int32_input(graph, v, names)
            modified = True
        for v in self.plan.output_casts:
            self._int32_output(graph, v, names)
            modified = True
        return ir.passes.PassResult(model, modified)

    @staticmethod
    def _int32_input(graph: ir.Graph, v: ir.Value, names: NameSource) -> None:
        """An INT32 binding for an input computed in int64 inside: one Cast up, first in the graph."""
        uses = list(v.uses())
        wide = NarrowInt64Pass._cast(graph, v, names, ir.DataType.INT64)
        for use in uses:
            use.node.replace_input_with(use.idx, wide)
        v.dtype = ir.DataType.INT32

    @staticmethod
    def _int32_output(graph: ir.Graph, v: ir.Value, names: NameSource) -> None:
        """An INT32 binding for an output computed in int64 (ArgMax indices): one Cast down, same name."""
        name = v.name or "output"
        out = NarrowInt64Pass._cast(graph, v, names)
        for i, o in enumerate(graph.outputs):
            if o is v:
                graph.outputs[i] = out
        v.name = names(f"{name}_int64")
        out.name = name

    @staticmethod
    def _int32_copy(graph: ir.Graph, c: ir.Value, clamp: bool, names: NameSource) -> ir.Value:
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

    @staticmethod
    def _cast(graph: ir.Graph, v: ir.Value, names: NameSource, to: ir.DataType = ir.DataType.INT32) -> ir.Value:
        """``Cast(v, to)`` right after ``v``'s producer (first in the graph for an input or constant)."""
        out = ir.Value(name=names(f"{v.name}_{to.name.lower()}"), shape=v.shape, type=ir.TensorType(to))
        node = ir.Node("", "Cast", [v], [ir.AttrInt64("to", to)], outputs=[out],
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
