"""IotaGatherPass: a GatherND whose indices are an iota grid over its data's own dims becomes an
Unsqueeze (and an Expand where the grid is wider) of the data.

Which GatherND qualify, and the proof that each is one, is :func:`trtready.rewrite_matchers.find_iota_gathers`;
this pass only carries the matches out. With ``grid`` the broadcast of ``Range(0, B)`` along axis 0 and
``Range(0, S)`` along axis 3, ``GatherND(mask, grid)[b, 0, 0, s] = mask[b, s]`` for every element.

Before::

    b = Unsqueeze(Range(0, B, 1), [1, 2, 3]);  s = Unsqueeze(Range(0, S, 1), [0, 1, 2])
    ix = Concat<axis=-1>(Unsqueeze(Expand(b, G), -1), Unsqueeze(Expand(s, G), -1))
    y = GatherND(mask, ix)                                  # y: [B, 1, 1, S]

After::

    y = Unsqueeze(mask, [1, 2])                             # the grid's chain is now unused

The chain that built the grid is removed by onnx-ir's ``RemoveUnusedNodesPass`` afterwards where
nothing else reads it.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from trtready.rewrite_matchers import IotaGather


class IotaGatherPass(ir.passes.InPlacePass):
    """Replace each matched GatherND of the main graph (matches from ``find_iota_gathers``)."""

    def __init__(self, matches: list[IotaGather]) -> None:
        super().__init__()
        self.matches = matches

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        for m in self.matches:
            out = m.node.outputs[0]
            new_nodes: list[ir.Node] = []
            value = m.data
            if m.axes:
                axes = ir.Value(name=f"{m.node.name}_iota_axes", shape=ir.Shape([len(m.axes)]),
                                type=ir.TensorType(ir.DataType.INT64),
                                const_value=ir.tensor(np.array(m.axes, dtype=np.int64), name=f"{m.node.name}_iota_axes"))
                graph.register_initializer(axes)
                unsq = ir.Node("", "Unsqueeze", [value, axes], name=f"{m.node.name}_iota",
                               outputs=[ir.Value(name=f"{out.name}_iota", type=out.type)])
                new_nodes.append(unsq)
                value = unsq.outputs[0]
            if m.expand_to is not None:
                exp = ir.Node("", "Expand", [value, m.expand_to], name=f"{m.node.name}_iota_expand",
                              outputs=[ir.Value(name=f"{out.name}_iota_expanded", type=out.type)])
                new_nodes.append(exp)
                value = exp.outputs[0]
            if not new_nodes:  # the grid is the data's own shape: the gather is the identity
                ident = ir.Node("", "Identity", [value], name=f"{m.node.name}_iota",
                                outputs=[ir.Value(name=f"{out.name}_iota", type=out.type)])
                new_nodes.append(ident)
                value = ident.outputs[0]
            value.shape = out.shape
            graph.insert_before(m.node, new_nodes)
            was_output, name = out.is_graph_output(), out.name
            ir.convenience.replace_all_uses_with(out, value, replace_graph_outputs=True)
            if was_output:  # the graph output keeps its name
                out.name = f"{name}__replaced"
                value.name = name
            graph.remove(m.node, safe=True)
        return ir.passes.PassResult(model, bool(self.matches))
