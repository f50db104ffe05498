"""DimFromCarrierPass: a size computed from the input's shape is read from the tensor that carries it.

Which sizes qualify, and why they are the same number, is
:func:`trtready.rewrite_matchers.find_dims_from_carriers`; this pass only carries the matches out::

    shape = Concat(a, Reshape(Add(Div(Shape(x)[1], 10), -1)), c)
    →  shape = Concat(a, Shape<start=k, end=k+1>(carrier), c)

The arithmetic is removed afterwards by onnx-ir's ``RemoveUnusedNodesPass`` where nothing else reads it.
"""

from __future__ import annotations

import onnx_ir as ir

from trtready.rewrite_matchers import DimFromCarrier


class DimFromCarrierPass(ir.passes.InPlacePass):
    """Replace each matched piece of a shape Concat by a Shape read of its carrier."""

    def __init__(self, matches: list[DimFromCarrier]) -> None:
        super().__init__()
        self.matches = matches

    def requires(self, model: ir.Model) -> None:
        graph_nodes = set(model.graph)
        for m in self.matches:
            if m.concat not in graph_nodes:
                raise ir.passes.PreconditionError(f"Concat {m.concat.name} is not in the main graph")

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        for m in self.matches:
            read = ir.node("Shape", [m.carrier], attributes={"start": m.axis, "end": m.axis + 1},
                           name=f"{m.concat.name or 'concat'}_dim{m.slot}_of_{m.carrier.name}", num_outputs=1)
            out = read.outputs[0]
            out.name = f"{m.carrier.name}_dim{m.axis}_for_{m.concat.name or 'concat'}_{m.slot}"
            out.dtype, out.shape = ir.DataType.INT64, ir.Shape([1])
            graph.insert_before(m.concat, [read])
            m.concat.replace_input_with(m.slot, out)
        return ir.passes.PassResult(model, modified=bool(self.matches))
