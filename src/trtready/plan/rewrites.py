"""Rewrites that remove int64-only slots where the result is provably the same: found here, applied
by :class:`trtready.passes.iota_gather.IotaGatherPass`.

The pattern is what torch.onnx writes for advanced indexing by broadcast aranges, as transformers'
mask functions do (``padding_mask[batch_idx, kv_idx]``)::

    b  = Unsqueeze…(Range(0, B, 1))            # [B, 1, 1, 1]
    s  = Unsqueeze…(Range(0, S, 1))            # [1, 1, 1, S]
    ix = Concat<axis=-1>(Unsqueeze(Expand(b, G), -1), Unsqueeze(Expand(s, G), -1))
    y  = GatherND(mask, ix)                    # mask: [B, S], y: G = [B, 1, 1, S]

Element ``g`` of ``y`` is ``mask[g[0], g[3]]``: the grid indexes every element of ``mask`` by its own
position, so ``y = Unsqueeze(mask, [1, 2])`` (then ``Expand`` to ``G`` if ``G`` has other axes
wider than 1). The index grid (int64 by the spec: GatherND indices have no int32 form before
TensorRT's parser casts them) and the Range/Expand/Concat chain that builds it disappear.

A match needs every fact proved from the graph: each Range is ``Range(0, L, 1)`` whose length is
the data's own dim (same symbolic dim, or the same integer), reshaped by Unsqueeze only so its
values run along one output axis; the axes increase with the data's axes; ``batch_dims`` is 0 and
the grid indexes every data axis. Anything else is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir

from trtready.plan import Action, Decision

_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class IotaGather:
    """``node`` (a GatherND) reads ``data`` at its own positions: ``Unsqueeze(data, axes)``, expanded
    to ``expand_to`` when the grid has other axes wider than 1."""

    node: ir.Node
    data: ir.Value
    axes: tuple[int, ...]  # the output axes that do not come from data
    expand_to: ir.Value | None
    indices: ir.Value

    def decision(self) -> Decision:
        kept = f"Unsqueeze(axes={list(self.axes)})" if self.axes else "Identity"
        expand = " then Expand" if self.expand_to is not None else ""
        return Decision(
            f"onnx:{self.indices.name}", Action.REMOVE,
            f"index grid of GatherND {self.node.name} is arange over {self.data.name}'s own dims: the "
            f"gather is {kept}{expand} of {self.data.name}, the int64 grid is no longer computed",
        )


def _is_op(node: ir.Node | None, op: str) -> bool:
    return node is not None and node.op_type == op and node.domain in _DOMAINS


def _const_int(v: ir.Value | None) -> int | None:
    if v is None:
        return None
    t = ir.convenience.get_const_tensor(v)
    if t is None:
        return None
    arr = t.numpy().reshape(-1)
    return int(arr[0]) if arr.size == 1 else None


def _widening_cast(node: ir.Node | None) -> bool:
    """A Cast from an integer type to INT64: every value kept (an arange made int32 upstream)."""
    if not _is_op(node, "Cast") or node is None or node.inputs[0] is None:
        return False
    src, to = node.inputs[0].dtype, node.attributes.get("to")
    return src is not None and src.is_integer() and to is not None and to.value == ir.DataType.INT64


def _same_dim(a: object, b: object) -> bool:
    """Two dims proved equal: the same integer, or the same named symbolic dim."""
    if isinstance(a, int) or isinstance(b, int):
        return isinstance(a, int) and isinstance(b, int) and a == b
    name_a, name_b = getattr(a, "value", None), getattr(b, "value", None)
    return name_a is not None and name_a == name_b


def _iota_axis(v: ir.Value, dim: object, rank: int) -> int | None:
    """The single axis along which ``v`` (rank ``rank``) holds ``0, 1, …, dim-1``, all other axes 1.

    ``v`` must come from ``Range(0, L, 1)`` through Unsqueeze nodes only, with the Range's length
    proved equal to ``dim``.
    """
    shape = v.shape
    if shape is None or len(shape) != rank:
        return None
    cur = v
    while _is_op(cur.producer(), "Unsqueeze") or _widening_cast(cur.producer()):
        producer = cur.producer()
        assert producer is not None
        nxt = producer.inputs[0]
        if nxt is None:
            return None
        cur = nxt
    rng = cur.producer()
    if not _is_op(rng, "Range") or rng is None:
        return None
    if _const_int(rng.inputs[0]) != 0 or _const_int(rng.inputs[2]) != 1:
        return None
    length = _dim_read(rng.inputs[1])
    if not (_same_dim(length, dim) or (cur.shape is not None and len(cur.shape) == 1 and _same_dim(cur.shape[0], dim))):
        return None
    wide = [i for i, d in enumerate(shape) if not (isinstance(d, int) and d == 1)]
    if len(wide) != 1:
        return None  # an Unsqueeze keeps the order of elements: the one wide axis holds the arange
    return wide[0]


def _dim_read(v: ir.Value | None) -> object:
    """The dim a scalar reads from a shape: ``Squeeze(Shape<start=k, end=k+1>(X))`` or
    ``Gather(Shape(X), k)`` is ``X.shape[k]``; None for anything else."""
    node = v.producer() if v is not None else None
    if node is None:
        return None
    if _is_op(node, "Squeeze") and node.inputs[0] is not None:
        shape_node = node.inputs[0].producer()
        if _is_op(shape_node, "Shape") and shape_node is not None:
            start = shape_node.attributes.get("start")
            end = shape_node.attributes.get("end")
            k = start.value if start is not None else 0
            if end is not None and end.value == k + 1:
                return _shape_dim(shape_node.inputs[0], k)
    if _is_op(node, "Gather") and node.inputs[0] is not None:
        shape_node = node.inputs[0].producer()
        axis = node.attributes.get("axis")
        k = _const_int(node.inputs[1])
        if _is_op(shape_node, "Shape") and shape_node is not None and (axis is None or axis.value == 0) \
                and k is not None and not shape_node.attributes.get("start"):
            return _shape_dim(shape_node.inputs[0], k)
    return None


def _shape_dim(x: ir.Value | None, k: int) -> object:
    if x is None or x.shape is None or not 0 <= k < len(x.shape):
        return None
    return x.shape[k]


def _match(node: ir.Node) -> IotaGather | None:
    if not _is_op(node, "GatherND") or len(node.inputs) != 2:
        return None
    attr = node.attributes.get("batch_dims")
    if attr is not None and attr.value != 0:
        return None
    data, indices = node.inputs
    out = node.outputs[0]
    if data is None or indices is None or data.shape is None or out.shape is None:
        return None
    concat = indices.producer()
    if not _is_op(concat, "Concat") or concat is None or len(concat.inputs) != len(data.shape):
        return None
    rank = len(out.shape)
    axis = concat.attributes.get("axis")
    if axis is None or axis.value not in (-1, rank):
        return None
    positions: list[int] = []
    expand_shapes: list[ir.Value | None] = []
    for j, part in enumerate(concat.inputs):
        unsq = part.producer() if part is not None else None
        if unsq is None or not _is_op(unsq, "Unsqueeze") or _const_int(unsq.inputs[1]) not in (-1, rank):
            return None
        expanded = unsq.inputs[0]
        exp = expanded.producer() if expanded is not None else None
        if exp is None or not _is_op(exp, "Expand") or exp.inputs[0] is None:
            return None
        pos = _iota_axis(exp.inputs[0], data.shape[j], rank)
        if pos is None:
            return None
        positions.append(pos)
        expand_shapes.append(exp.inputs[1])
    if positions != sorted(set(positions)):
        return None  # data's axes must keep their order in the output
    others = [i for i in range(rank) if i not in positions]
    all_one = all(isinstance(out.shape[i], int) and out.shape[i] == 1 for i in others)
    if not all_one and len({id(s) for s in expand_shapes}) != 1:
        return None
    return IotaGather(node, data, tuple(others), None if all_one else expand_shapes[0], indices)


def find_iota_gathers(model: ir.Model) -> list[IotaGather]:
    """Every GatherND of the main graph whose indices are an iota grid over its data's dims.

    Needs inferred shapes (the analysis has run shape inference on ``model``).
    """
    return [m for m in (_match(n) for n in model.graph) if m is not None]
