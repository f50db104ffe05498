"""Exact rewrites that take int64 tensors out of index paths: found and proved here, applied by
:class:`trtready.passes.index_rewrites.IndexRewritesPass` before the narrowing is planned.

- **Cast first.** ``Cast(Move(x))`` — a Reshape/Unsqueeze/Squeeze/Flatten/Transpose/Expand/Identity
  whose only reader is a Cast — is ``Move(Cast(x))``: a Cast is elementwise, so it commutes with every
  op that only moves elements. GPT-2's ``attention_mask.view(...)`` read as bool and DeBERTa's
  ``mask.unsqueeze(2)`` read as float then move bools and floats, not int64s.
- **Batch gather.** ``data[arange(B), idx]`` is written by torch.onnx as
  ``GatherND(data, Concat<axis=-1>(Unsqueeze(Range(0, B, 1), -1), Unsqueeze(idx, -1)))`` (CLIP's pooled
  token). With ``B`` proved to be ``data``'s first dim, element ``b`` is ``data[b, idx[b], ...]``:
  ``Squeeze(GatherElements<axis=1>(data, Expand(Unsqueeze(idx, [1, ...]), [1, 1, d2, ...])), [1])``.
  GatherND's indices are int64 by the spec; GatherElements' take int32, and the index grid is gone.
- **Integer ArgMax.** ``ArgMax`` of an integer tensor (``select_last_index = 0``) is the index output of
  ``TopK(x, 1)`` along the same axis: both pick the first position of the largest value (TopK breaks ties
  by the lower index), and integers have no NaN to order differently. TensorRT computes ArgMax as a
  TopK anyway, but its parser then casts the indices to INT64 and squeezes them in INT64 (three INT64
  execution tensors, measured with TensorRT-RTX 1.7); a TopK's indices cost one, which a Cast to int32
  right after removes from everything downstream.
"""

from __future__ import annotations

from dataclasses import dataclass

from trtready.finding_ids import Layer, tensor_finding_id
from trtready.lazy import ir
from trtready.plan import Action, Decision
from trtready.rewrite_matchers import Dim, _const_int, _dim_read, _is_op, _same_dim, _widening_cast

_MOVES = {"Reshape", "Unsqueeze", "Squeeze", "Flatten", "Transpose", "Expand", "Identity"}


@dataclass(frozen=True)
class CastFirst:
    """``cast`` reads ``move``'s output only: the Cast goes before the move."""

    move: ir.Node
    cast: ir.Node

    def decision(self) -> Decision:
        v = self.move.outputs[0]
        return Decision(tensor_finding_id(Layer.ONNX, str(v.name)), Action.REMOVE,
                        f"{self.cast.name} casts {v.name} right after {self.move.op_type} {self.move.name}: the Cast "
                        f"goes first (it is elementwise, the {self.move.op_type} only moves elements), "
                        f"so {v.name} is no longer an int64 tensor")


@dataclass(frozen=True)
class BatchGather:
    """``node`` (a GatherND) reads ``data[b, idx[b], ...]``: a GatherElements along axis 1."""

    node: ir.Node
    data: ir.Value
    idx: ir.Value
    grid: ir.Value

    def decision(self) -> Decision:
        return Decision(tensor_finding_id(Layer.ONNX, str(self.grid.name)), Action.REMOVE,
                        f"GatherND {self.node.name} reads {self.data.name}[arange(B), {self.idx.name}] with B "
                        f"{self.data.name}'s first dim: a GatherElements along axis 1, whose indices may be "
                        f"int32; the int64 index grid is no longer computed")


@dataclass(frozen=True)
class IntegerArgMax:
    """``node`` (an ArgMax of an integer tensor) is the index output of a TopK with K = 1."""

    node: ir.Node

    def note(self) -> str:
        return (f"ArgMax {self.node.name} of an integer tensor computed as TopK(K=1) along the same axis (the first "
                f"largest; integers have no NaN to order): TensorRT's parser makes one INT64 tensor of its indices "
                f"instead of three")


def find_cast_first(model: ir.Model) -> list[CastFirst]:
    out = []
    for node in model.graph:
        if node.domain not in ("", "ai.onnx") or node.op_type not in _MOVES or not node.inputs:
            continue
        x, y = node.inputs[0], node.outputs[0]
        if x is None or x.dtype != ir.DataType.INT64 or y.is_graph_output():
            continue
        producer = x.producer()
        if producer is not None and producer.op_type in ("Shape", "Size"):
            continue  # ONNX Runtime mis-types a Cast placed on a Shape output (plan/onnx_plan.py)
        uses = list(y.uses())
        if len(uses) != 1 or uses[0].idx != 0 or not _is_op(uses[0].node, "Cast"):
            continue
        to = uses[0].node.attributes.get("to")
        if to is None or to.value == ir.DataType.INT64:
            continue
        out.append(CastFirst(node, uses[0].node))
    return out


def _iota(v: ir.Value | None, dim: Dim | None) -> bool:
    """``v`` is ``Range(0, L, 1)`` (through widening Casts) with ``L`` proved equal to ``dim``."""
    cur = v
    while cur is not None and _widening_cast(cur.producer()):
        producer = cur.producer()
        assert producer is not None
        cur = producer.inputs[0]
    rng = cur.producer() if cur is not None else None
    if rng is None or not _is_op(rng, "Range") or _const_int(rng.inputs[0]) != 0 or _const_int(rng.inputs[2]) != 1:
        return False
    length = _dim_read(rng.inputs[1])
    return _same_dim(length, dim) or (cur is not None and cur.shape is not None and len(cur.shape) == 1
                                      and _same_dim(cur.shape[0], dim))


def _last_unsqueezed(v: ir.Value | None) -> ir.Value | None:
    """``u`` where ``v = Unsqueeze(u, [-1])`` and ``u`` has rank 1."""
    node = v.producer() if v is not None else None
    if node is None or not _is_op(node, "Unsqueeze") or node.inputs[0] is None:
        return None
    axes = ir.convenience.get_const_tensor(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
    u = node.inputs[0]
    if axes is None or u.shape is None or len(u.shape) != 1:
        return None
    flat = axes.numpy().reshape(-1).tolist()
    return u if flat in ([-1], [1]) else None


def find_batch_gathers(model: ir.Model) -> list[BatchGather]:
    out = []
    for node in model.graph:
        if not _is_op(node, "GatherND") or len(node.inputs) != 2:
            continue
        bd = node.attributes.get("batch_dims")
        data, grid = node.inputs
        if (bd is not None and bd.value != 0) or data is None or grid is None or data.shape is None or len(data.shape) < 2:
            continue
        concat = grid.producer()
        if concat is None or not _is_op(concat, "Concat") or len(concat.inputs) != 2:
            continue
        axis = concat.attributes.get("axis")
        if axis is None or axis.value not in (-1, 1):
            continue
        rows, idx = (_last_unsqueezed(p) for p in concat.inputs)
        if rows is None or idx is None or not _iota(rows, data.shape[0]):
            continue
        if idx.dtype not in (ir.DataType.INT64, ir.DataType.INT32):
            continue
        out.append(BatchGather(node, data, idx, grid))
    return out


def find_integer_argmax(model: ir.Model) -> list[IntegerArgMax]:
    out = []
    for node in model.graph:
        if not _is_op(node, "ArgMax") or not node.inputs or node.inputs[0] is None:
            continue
        dtype = node.inputs[0].dtype
        last = node.attributes.get("select_last_index")
        if dtype is None or not dtype.is_integer() or (last is not None and last.value):
            continue
        out.append(IntegerArgMax(node))
    return out
