"""PoolToReducePass: a pooling whose windows tile its input becomes a global pool or a reduction.

Which AveragePool/MaxPool qualify, and the proof, is :func:`trtready.rewrite_matchers.find_pool_reductions`;
the planner picks the ones the target cannot build (a window at or past its kernel-volume limit:
TensorRT-RTX 1.7 builds 2-D windows below 100 000 elements); this pass only carries them out.

One window over the whole input (EfficientNet's ``AvgPool2d(1280, ceil_mode=True)``)::

    y = AveragePool<kernel_shape=[320, 320], strides=[320, 320], ceil_mode=1>(x)    # x: [N, C, 1, 1]
    →  y = GlobalAveragePool(x)

Windows that tile the input (``stride == kernel`` dividing each size)::

    y = AveragePool<kernel_shape=[400, 400], strides=[400, 400]>(x)                 # x: [N, C, 800, 800]
    →  y = ReduceMean<keepdims=0>(Reshape(x, [0, 0, 2, 400, 2, 400]), axes=[3, 5])

GlobalAveragePool and ReduceMean are reduction layers in TensorRT, with no window limit.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from trtready.rewrite_matchers import PoolAsReduce


class PoolToReducePass(ir.passes.InPlacePass):
    """Replace each matched pooling of the main graph (matches from ``find_pool_reductions``)."""

    def __init__(self, matches: list[PoolAsReduce]) -> None:
        super().__init__()
        self.matches = matches

    def requires(self, model: ir.Model) -> None:
        graph_nodes = set(model.graph)
        for m in self.matches:
            if m.node not in graph_nodes:
                raise ir.passes.PreconditionError(f"{m.node.op_type} {m.node.name} is not in the main graph")

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        opset = model.opset_imports.get("", 1)
        for m in self.matches:
            node, out = m.node, m.node.outputs[0]
            x = node.inputs[0]
            assert x is not None
            average = node.op_type == "AveragePool"
            base = node.name or out.name or "pool"
            if m.whole:
                new = [ir.Node("", "GlobalAveragePool" if average else "GlobalMaxPool", [x], name=f"{base}_global",
                               outputs=[ir.Value(name=f"{out.name}_global", type=out.type, shape=out.shape)])]
            else:
                new = self._tiles(graph, m, x, out, base, average, opset)
            graph.insert_before(node, new)
            value = new[-1].outputs[0]
            was_output, name = out.is_graph_output(), out.name
            ir.convenience.replace_all_uses_with(out, value, replace_graph_outputs=True)
            if was_output:  # the graph output keeps its name
                out.name = f"{name}__replaced"
                value.name = name
            graph.remove(node, safe=True)
        return ir.passes.PassResult(model, bool(self.matches))

    @staticmethod
    def _tiles(graph: ir.Graph, m: PoolAsReduce, x: ir.Value, out: ir.Value, base: str, average: bool,
               opset: int) -> list[ir.Node]:
        """Reshape into [N, C, H1/k1, k1, …] (0 copies N and C), then reduce the k axes."""
        blocks: list[int] = []
        for size, k in zip(m.sizes, m.kernel):
            blocks += [size // k, k]
        shape = _initializer(graph, f"{base}_block_shape", [0, 0, *blocks])
        reshaped = ir.Node("", "Reshape", [x, shape], name=f"{base}_blocks",
                           outputs=[ir.Value(name=f"{out.name}_blocks", type=x.type)])
        axes = [3 + 2 * i for i in range(len(m.kernel))]
        reduce_op = "ReduceMean" if average else "ReduceMax"
        outputs = [ir.Value(name=f"{out.name}_reduced", type=out.type, shape=out.shape)]
        if opset >= 18:  # axes became an input in opset 18
            reduce = ir.Node("", reduce_op, [reshaped.outputs[0], _initializer(graph, f"{base}_reduce_axes", axes)],
                             attributes=[ir.AttrInt64("keepdims", 0)], name=f"{base}_reduce", outputs=outputs)
        else:
            reduce = ir.Node("", reduce_op, [reshaped.outputs[0]],
                             attributes=[ir.AttrInt64s("axes", axes), ir.AttrInt64("keepdims", 0)],
                             name=f"{base}_reduce", outputs=outputs)
        return [reshaped, reduce]


def _initializer(graph: ir.Graph, name: str, values: list[int]) -> ir.Value:
    v = ir.Value(name=name, shape=ir.Shape([len(values)]), type=ir.TensorType(ir.DataType.INT64),
                 const_value=ir.tensor(np.array(values, dtype=np.int64), name=name))
    graph.register_initializer(v)
    return v
