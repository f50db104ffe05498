"""MaskedAssignmentPass: the NonZero → ScatterND of a boolean-mask assignment becomes a Where.

Which ScatterND qualify, and the proof that each is ``Where(mask, value, data)``, is
:func:`trtready.rewrite_matchers.find_masked_assignments`; this pass only carries the matches out.
TensorRT-RTX 1.7 cannot build NonZero (no plugin); Where builds on every target, keeps every shape
static and leaves no int64 positions to compute.

Before (torch.onnx 2.13 for ``hidden[~mask] = 0``)::

    M = Expand(Unsqueeze(Not(mask), [-1]), Shape(hidden))
    idx = Transpose<perm=[1, 0]>(NonZero(M))
    upd = Reshape(Expand(zero, Concat(ReduceSum(Cast(Reshape(Not(mask), [-1]))), [D])), [-1])
    y = ScatterND(hidden, idx, upd)

After::

    y = Where(M, zero, hidden)          # the NonZero chain is now unused

The chain is removed by onnx-ir's ``RemoveUnusedNodesPass`` afterwards where nothing else reads it.
"""

from __future__ import annotations

import onnx_ir as ir

from trtready.rewrite_matchers import MaskedAssignment


class MaskedAssignmentPass(ir.passes.InPlacePass):
    """Replace each matched ScatterND of the main graph (matches from ``find_masked_assignments``)."""

    def __init__(self, matches: list[MaskedAssignment]) -> None:
        super().__init__()
        self.matches = matches

    def requires(self, model: ir.Model) -> None:
        graph_nodes = set(model.graph)
        for m in self.matches:
            if m.node not in graph_nodes:
                raise ir.passes.PreconditionError(f"ScatterND {m.node.name} is not in the main graph")

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        for m in self.matches:
            out = m.node.outputs[0]
            where = ir.Node("", "Where", [m.mask, m.value, m.data], name=f"{m.node.name}_where",
                            outputs=[ir.Value(name=f"{out.name}_where", type=out.type, shape=out.shape)])
            graph.insert_before(m.node, where)
            value = where.outputs[0]
            was_output, name = out.is_graph_output(), out.name
            ir.convenience.replace_all_uses_with(out, value, replace_graph_outputs=True)
            if was_output:  # the graph output keeps its name
                out.name = f"{name}__replaced"
                value.name = name
            graph.remove(m.node, safe=True)
        return ir.passes.PassResult(model, bool(self.matches))
