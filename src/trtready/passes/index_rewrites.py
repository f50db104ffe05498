"""IndexRewritesPass: carry out the rewrites :mod:`trtready.plan.index_rewrites` found and proved.

Each replaces nodes by others computing the same values (the proofs are in that module):

- ``y = Move(x); z = Cast(y)`` → ``c = Cast(x); z = Move(c)`` (the Cast node is reused, ``y`` is dropped);
- ``GatherND(data, grid)`` over ``[arange(B), idx]`` → ``Squeeze(GatherElements<axis=1>(data,
  Expand(Unsqueeze(idx, [1 … r-1]), [1, 1, d2 …])), [1])``, the output keeping its name;
- ``ArgMax(x)`` of an integer ``x`` → ``TopK(x, [1])``'s indices (then ``Squeeze`` for ``keepdims = 0``),
  the output keeping its name.

The unused nodes left behind (the grid's chain) are removed by onnx-ir's ``RemoveUnusedNodesPass``.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from trtready.passes import NameSource
from trtready.plan.index_rewrites import BatchGather, CastFirst, IntegerArgMax


def _const(graph: ir.Graph, names: NameSource, base: str, arr: np.ndarray) -> ir.Value:
    name = names(base)
    v = ir.Value(name=name, shape=ir.Shape(arr.shape), type=ir.TensorType(ir.DataType.INT64),
                 const_value=ir.tensor(arr.astype(np.int64), name=name))
    graph.register_initializer(v)
    return v


def _take_over(old: ir.Value, new: ir.Value, names: NameSource) -> None:
    """``new`` replaces ``old`` everywhere, graph outputs included, under ``old``'s name."""
    name = old.name
    ir.convenience.replace_all_uses_with(old, new, replace_graph_outputs=True)
    old.name = names(f"{name}__replaced")
    new.name = name


class IndexRewritesPass(ir.passes.InPlacePass):
    """Apply the matches of the main graph, in the order found."""

    def __init__(self, cast_first: list[CastFirst], batch: list[BatchGather], argmax: list[IntegerArgMax]) -> None:
        super().__init__()
        self.cast_first, self.batch, self.argmax = cast_first, batch, argmax

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        names = NameSource(graph)
        for m in self.cast_first:
            x, y, z = m.move.inputs[0], m.move.outputs[0], m.cast.outputs[0]
            assert x is not None
            to = ir.DataType(m.cast.attributes["to"].value)
            c = ir.Value(name=names(f"{x.name}_cast"), shape=x.shape, type=ir.TensorType(to))
            cast = ir.Node("", "Cast", [x], [ir.AttrInt64("to", to)], outputs=[c], name=names(f"{m.cast.name}_first"))
            moved = ir.Value(name=names(f"{y.name}_moved"), shape=z.shape, type=ir.TensorType(to))
            move = ir.Node("", m.move.op_type, [c, *m.move.inputs[1:]], list(m.move.attributes.values()),
                           outputs=[moved], name=names(f"{m.move.name}_after_cast"))
            graph.insert_before(m.move, [cast, move])
            _take_over(z, moved, names)
            graph.remove([m.cast, m.move], safe=True)
        for b in self.batch:
            out = b.node.outputs[0]
            rank = len(b.data.shape) if b.data.shape is not None else 2
            stem = b.node.name or "batch_gather"
            axes = _const(graph, names, f"{stem}_axes", np.arange(1, rank))
            unsq_out = ir.Value(name=names(f"{stem}_idx"), type=b.idx.type)
            nodes = [ir.Node("", "Unsqueeze", [b.idx, axes], outputs=[unsq_out], name=names(f"{stem}_unsqueeze"))]
            index = unsq_out
            if rank > 2:
                shape_out = ir.Value(name=names(f"{stem}_shape"), type=ir.TensorType(ir.DataType.INT64))
                ones = _const(graph, names, f"{stem}_ones", np.array([1, 1]))
                full = ir.Value(name=names(f"{stem}_expand_to"), type=ir.TensorType(ir.DataType.INT64))
                expanded = ir.Value(name=names(f"{stem}_idx_expanded"), type=b.idx.type)
                nodes += [
                    ir.Node("", "Shape", [b.data], [ir.AttrInt64("start", 2)], outputs=[shape_out],
                            name=names(f"{stem}_shape")),
                    ir.Node("", "Concat", [ones, shape_out], [ir.AttrInt64("axis", 0)], outputs=[full],
                            name=names(f"{stem}_concat")),
                    ir.Node("", "Expand", [index, full], outputs=[expanded], name=names(f"{stem}_expand")),
                ]
                index = expanded
            gathered = ir.Value(name=names(f"{stem}_rows"), type=out.type)
            one = _const(graph, names, f"{stem}_axis1", np.array([1]))
            result = ir.Value(name=names(f"{stem}_pooled"), type=out.type, shape=out.shape)
            nodes += [
                ir.Node("", "GatherElements", [b.data, index], [ir.AttrInt64("axis", 1)], outputs=[gathered],
                        name=names(f"{stem}_elements")),
                ir.Node("", "Squeeze", [gathered, one], outputs=[result], name=names(f"{stem}_squeeze")),
            ]
            graph.insert_before(b.node, nodes)
            _take_over(out, result, names)
            graph.remove(b.node, safe=True)
        for a in self.argmax:
            node = a.node
            out = node.outputs[0]
            axis_attr, keep_attr = node.attributes.get("axis"), node.attributes.get("keepdims")
            axis = int(axis_attr.value) if axis_attr is not None else 0
            keep = int(keep_attr.value) if keep_attr is not None else 1
            stem = node.name or "argmax"
            k = _const(graph, names, f"{stem}_k", np.array([1]))
            values = ir.Value(name=names(f"{stem}_top"), type=node.inputs[0].type if node.inputs[0] else None)
            indices = ir.Value(name=names(f"{stem}_index"), type=ir.TensorType(ir.DataType.INT64),
                               shape=out.shape if keep else None)
            nodes = [ir.Node("", "TopK", [node.inputs[0], k],
                             [ir.AttrInt64("axis", axis), ir.AttrInt64("largest", 1), ir.AttrInt64("sorted", 1)],
                             outputs=[values, indices], name=names(f"{stem}_topk"))]
            result = indices
            if not keep:
                ax = _const(graph, names, f"{stem}_axis", np.array([axis]))
                result = ir.Value(name=names(f"{stem}_squeezed"), type=ir.TensorType(ir.DataType.INT64),
                                  shape=out.shape)
                nodes.append(ir.Node("", "Squeeze", [indices, ax], outputs=[result], name=names(f"{stem}_squeeze")))
            graph.insert_before(node, nodes)
            _take_over(out, result, names)
            graph.remove(node, safe=True)
        modified = bool(self.cast_first or self.batch or self.argmax)
        return ir.passes.PassResult(model, modified)
