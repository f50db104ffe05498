"""Rewrites proved exact, found here and applied by one pass each (``passes/``), before planning.

The matchers are pure graph proofs on the ground floor: the audit asks them whether a node it flags
can be rewritten (its hint and fix's rewrite are one proof); :mod:`trtready.plan.rewrites` decides
which to apply and what is left (``needs_reduce``, ``plan_ops``).


- :class:`IotaGather` (:class:`~trtready.passes.iota_gather.IotaGatherPass`): a GatherND over an
  arange grid of its data's own positions, which removes int64-only index slots;
- :class:`MaskedAssignment` (:class:`~trtready.passes.masked_assignment.MaskedAssignmentPass`): the
  NonZero → ScatterND that torch.onnx writes for ``x[mask] = value`` becomes ``Where`` (TensorRT-RTX
  cannot build NonZero);
- :class:`PoolAsReduce` (:class:`~trtready.passes.pool_to_reduce.PoolToReducePass`): an AveragePool or
  MaxPool whose windows tile its input becomes a global pool or a reduction (TensorRT limits a pooling
  window's volume; reductions have no such limit);
- :class:`DimFromCarrier` (:class:`~trtready.passes.dim_from_carrier.DimFromCarrierPass`): a size
  torch.onnx computes from the input's shape is read from a tensor that carries the same torch.export
  dim (TensorRT cannot always prove the two expressions equal).

IotaGather
----------

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
from typing import TypeAlias

from trtready.decision import Action, Decision
from trtready.finding_ids import Layer, op_finding_id, tensor_finding_id
from trtready.lazy import ir

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
            tensor_finding_id(Layer.ONNX, str(self.indices.name)), Action.REMOVE,
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


#: A dim of an onnx-ir shape: a known size or a (possibly unnamed) symbolic one.
Dim: TypeAlias = "int | ir.SymbolicDim"  # a string: naming it must not import onnx_ir


def _same_dim(a: Dim | None, b: Dim | None) -> bool:
    """Two dims proved equal: the same integer, or the same named symbolic dim."""
    if isinstance(a, int) or isinstance(b, int):
        return isinstance(a, int) and isinstance(b, int) and a == b
    name_a, name_b = getattr(a, "value", None), getattr(b, "value", None)
    return name_a is not None and name_a == name_b


def _iota_axis(v: ir.Value, dim: Dim | None, rank: int) -> int | None:
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


def _dim_read(v: ir.Value | None) -> Dim | None:
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


def _shape_dim(x: ir.Value | None, k: int) -> Dim | None:
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


# --- MaskedAssignment ---------------------------------------------------------------------------------
#
# torch.onnx 2.13 (onnxscript's ``_aten_index_put_bool``) writes ``x[mask] = v`` (one boolean index of
# rank k <= rank r of x) as::
#
#     M   = Expand(Unsqueeze(mask, -1) ... r-k times, Shape(x))     # bool, x's shape
#     idx = Transpose<perm=[1, 0]>(NonZero(M))                       # [N, r]: every true position
#     n   = ReduceSum(Cast<to=INT64>(Reshape(mask, [-1])))           # [1]: true rows of mask
#     upd = Reshape(Expand(v, Concat(n, x.shape[k:])), [-1])         # [N]
#     y   = ScatterND(x, idx, upd)
#
# NonZero lists M's true positions in row-major order; M is mask broadcast along the trailing axes,
# so the j-th of them is (p, t) with t the (j mod |T|)-th trailing position, and upd[j] is v broadcast
# to T at t — whenever v does not vary along the count axis (one element, or rank <= r-k, or a leading
# 1). Then y[p, t] = v[t] where mask[p], x[p, t] elsewhere: ``y = Where(M, v, x)``. When v has one
# element, the structure of M does not matter: every update is v.


@dataclass(frozen=True)
class MaskedAssignment:
    """``node`` (a ScatterND) writes ``value`` where ``mask`` (boolean, ``data``'s shape) is true:
    ``Where(mask, value, data)``; ``nonzero`` is the NonZero that listed the positions."""

    node: ir.Node
    nonzero: ir.Node
    data: ir.Value
    mask: ir.Value
    value: ir.Value

    @property
    def rewrite(self) -> str:
        return f"Where({self.mask.name}, {self.value.name}, {self.data.name}), a boolean-mask assignment"

    def decisions(self) -> list[Decision]:
        nz = self.nonzero
        why = (f"NonZero {node_label(nz)} lists the positions ScatterND {node_label(self.node)} writes one value to "
               f"(a boolean-mask assignment): it is {self.rewrite}")
        return [
            Decision(op_finding_id(Layer.ONNX, node_label(nz)), Action.REWRITE, why),
            Decision(tensor_finding_id(Layer.ONNX, str(nz.outputs[0].name)), Action.REMOVE, why + "; the int64 positions are no longer computed"),
        ]


def node_label(node: ir.Node) -> str:
    """A node's name, or for an unnamed one its op and first output (both unique in a valid graph)."""
    return node.name or f"{node.op_type}({node.outputs[0].name if node.outputs else '?'})"


def _numel_one(v: ir.Value) -> bool:
    return v.shape is not None and all(isinstance(d, int) and d == 1 for d in v.shape)


def _broadcasts_into(small: Dim, big: Dim) -> bool:
    """A dim of a broadcast operand that leaves the other's dim unchanged: 1, or the same dim."""
    return (isinstance(small, int) and small == 1) or _same_dim(small, big)


def _shape_of(v: ir.Value | None) -> ir.Value | None:
    """``X`` when ``v`` is ``Shape(X)`` (whole shape), else None."""
    node = v.producer() if v is not None else None
    if not _is_op(node, "Shape") or node is None:
        return None
    start, end = node.attributes.get("start"), node.attributes.get("end")
    if (start is not None and start.value != 0) or end is not None:
        return None
    return node.inputs[0]


def _has_shape_of(m: ir.Value, x: ir.Value) -> bool:
    """``m`` is proved to have exactly ``x``'s shape."""
    assert x.shape is not None
    if m.shape is not None and len(m.shape) == len(x.shape) and all(_same_dim(a, b) for a, b in zip(m.shape, x.shape)):
        return True
    exp = m.producer()
    if not _is_op(exp, "Expand") or exp is None or _shape_of(exp.inputs[1]) is not x:
        return False
    u = exp.inputs[0]  # Expand(u, Shape(x)) is broadcast(u, x): x's shape when u's dims fit into x's
    if u is None or u.shape is None or len(u.shape) > len(x.shape):
        return False
    return all(_broadcasts_into(a, b) for a, b in zip(reversed(list(u.shape)), reversed(list(x.shape))))


def _constant_along(m: ir.Value, first_axis: int) -> bool:
    """``m = Expand(u, …)`` with ``u`` of the same rank and size 1 on every axis from ``first_axis``:
    ``m`` does not vary along those axes."""
    exp = m.producer()
    if not _is_op(exp, "Expand") or exp is None or exp.inputs[0] is None or m.shape is None:
        return False
    u = exp.inputs[0].shape
    return (u is not None and len(u) == len(m.shape)
            and all(isinstance(d, int) and d == 1 for d in list(u)[first_axis:]))


def _const_ints(v: ir.Value | None) -> list[int] | None:
    if v is None:
        return None
    t = ir.convenience.get_const_tensor(v)
    return None if t is None else [int(x) for x in t.numpy().reshape(-1)]


def _trailing_dims(exp: ir.Node, x: ir.Value) -> list[Dim] | None:
    """The dims after the first of ``Expand(v, S)``'s output, proved: from its inferred shape, or from
    ``S = Concat(n, T)`` with T a constant or ``Slice(Shape(x), [k], [r], [0])``."""
    out = exp.outputs[0].shape
    if out is not None and all(isinstance(d, int) or getattr(d, "value", None) for d in list(out)[1:]):
        return list(out)[1:]
    cat = exp.inputs[1].producer() if exp.inputs[1] is not None else None
    if not _is_op(cat, "Concat") or cat is None or len(cat.inputs) != 2:
        return None
    first, rest = cat.inputs
    if first is None or first.shape is None or list(first.shape) != [1]:
        return None
    ints = _const_ints(rest)
    if ints is not None:
        return list(ints)
    sl = rest.producer() if rest is not None else None
    if not _is_op(sl, "Slice") or sl is None or len(sl.inputs) < 3 or _shape_of(sl.inputs[0]) is not x:
        return None
    starts, ends = _const_ints(sl.inputs[1]), _const_ints(sl.inputs[2])
    axes = _const_ints(sl.inputs[3]) if len(sl.inputs) > 3 else [0]
    steps = _const_ints(sl.inputs[4]) if len(sl.inputs) > 4 else [1]
    assert x.shape is not None
    r = len(x.shape)
    if starts is None or ends is None or axes != [0] or steps not in ([1], None) or len(starts) != 1 or len(ends) != 1:
        return None
    k, end = starts[0], min(ends[0], r)
    return list(x.shape)[k:end] if 0 <= k <= end else None


def _match_masked(node: ir.Node) -> MaskedAssignment | None:
    if not _is_op(node, "ScatterND") or len(node.inputs) != 3:
        return None
    red = node.attributes.get("reduction")
    if red is not None and red.value != "none":
        return None
    data, indices, updates = node.inputs
    if data is None or indices is None or updates is None or data.shape is None:
        return None
    tr = indices.producer()
    if not _is_op(tr, "Transpose") or tr is None or tr.inputs[0] is None:
        return None
    perm = tr.attributes.get("perm")
    if perm is None or perm.type != ir.AttributeType.INTS or list(perm.value) != [1, 0]:
        return None
    nz = tr.inputs[0].producer()
    if not _is_op(nz, "NonZero") or nz is None or nz.inputs[0] is None:
        return None
    mask = nz.inputs[0]
    if mask.dtype != ir.DataType.BOOL or not _has_shape_of(mask, data):
        return None
    rs = updates.producer()
    if not _is_op(rs, "Reshape") or rs is None or _const_ints(rs.inputs[1]) != [-1] or rs.inputs[0] is None:
        return None
    exp = rs.inputs[0].producer()
    if not _is_op(exp, "Expand") or exp is None or exp.inputs[0] is None:
        return None
    value = exp.inputs[0]
    if value.shape is None:
        return None
    r = len(data.shape)
    if _numel_one(value):  # every update is the one value: any mask of data's shape
        return MaskedAssignment(node, nz, data, mask, value) if len(value.shape) <= r else None
    trailing = _trailing_dims(exp, data)
    if trailing is None or not trailing:
        return None
    k = r - len(trailing)
    if k < 1 or not all(_same_dim(t, d) for t, d in zip(trailing, list(data.shape)[k:])):
        return None
    if not _constant_along(mask, k):
        return None  # the mask could select part of a row: updates would not line up with v
    vr = len(value.shape)
    if vr > len(trailing) + 1 or (vr == len(trailing) + 1 and value.shape[0] != 1):
        return None  # v varies along the count axis: one row per selected position
    if not all(_broadcasts_into(a, b) for a, b in zip(reversed(list(value.shape)), reversed(trailing))):
        return None
    return MaskedAssignment(node, nz, data, mask, value)


def find_masked_assignments(model: ir.Model) -> list[MaskedAssignment]:
    """Every boolean-mask assignment of the main graph that is a ``Where`` (inferred shapes needed)."""
    return [m for m in (_match_masked(n) for n in model.graph) if m is not None]


# --- PoolAsReduce ---------------------------------------------------------------------------------------
#
# An AveragePool/MaxPool without padding or dilation whose windows tile its (static) spatial extent:
#
# - whole: one window per axis covers every position — kernel == size, or (ceil_mode) a kernel past
#   the size by less than its stride, where ONNX Runtime and PyTorch average over the positions inside
#   the input (count_include_pad counts explicit pads only; there are none) — so the output is the
#   mean (max) over all positions: GlobalAveragePool (GlobalMaxPool);
# - tiles: stride == kernel dividing each size: each window is one block of
#   Reshape(X, [N, C, H/kh, kh, W/kw, kw]), so the output is ReduceMean (ReduceMax) over the kh, kw axes.
#
# Same values over the same windows; only the float summation order may differ.


@dataclass(frozen=True)
class PoolAsReduce:
    """``node`` pools its input in windows that tile it: ``whole`` → a global pool, else the blocks of
    a Reshape reduced over their window axes."""

    node: ir.Node
    sizes: tuple[int, ...]  # the input's spatial dims
    kernel: tuple[int, ...]
    whole: bool

    @property
    def window(self) -> int:
        out = 1
        for k in self.kernel:
            out *= k
        return out

    @property
    def spatial(self) -> int:
        return len(self.kernel)

    @property
    def rewrite(self) -> str:
        kind = "Average" if self.node.op_type == "AveragePool" else "Max"
        if self.whole:
            return f"Global{kind}Pool (its window covers the whole {'×'.join(map(str, self.sizes))} input)"
        return (f"Reshape + Reduce{'Mean' if kind == 'Average' else 'Max'} (its "
                f"{'×'.join(map(str, self.kernel))} windows tile the {'×'.join(map(str, self.sizes))} input)")

    def decision(self, limit: int) -> Decision:
        return Decision(
            op_finding_id(Layer.ONNX, node_label(self.node)), Action.REWRITE,
            f"{self.node.op_type} {node_label(self.node)}: a window of {self.window} elements (the target builds "
            f"windows below {limit}) becomes {self.rewrite}: the same {'mean' if 'Average' in self.node.op_type else 'max'} "
            "over the same positions",
        )


def _ints_attr(node: ir.Node, name: str, default: list[int]) -> list[int] | None:
    """An INTS attribute's values, ``default`` when absent, None when it has another type."""
    a = node.attributes.get(name)
    if a is None:
        return default
    return [int(x) for x in a.value] if a.type == ir.AttributeType.INTS else None


def _match_pool(node: ir.Node) -> PoolAsReduce | None:
    if not (_is_op(node, "AveragePool") or _is_op(node, "MaxPool")):
        return None
    if len(node.outputs) > 1 and (node.outputs[1].uses() or node.outputs[1].is_graph_output()):
        return None  # MaxPool's Indices are read
    x = node.inputs[0]
    if x is None or x.shape is None or len(x.shape) < 3:
        return None
    sizes = [d for d in list(x.shape)[2:] if isinstance(d, int) and d > 0]
    if len(sizes) != len(x.shape) - 2:
        return None
    n = len(sizes)
    kernel = _ints_attr(node, "kernel_shape", [])
    strides = _ints_attr(node, "strides", [1] * n)
    pads = _ints_attr(node, "pads", [0] * 2 * n)
    dilations = _ints_attr(node, "dilations", [1] * n)
    auto_pad = node.attributes.get("auto_pad")
    ceil = node.attributes.get("ceil_mode")
    ceil_mode = ceil is not None and ceil.value == 1
    if kernel is None or strides is None or pads is None or dilations is None:
        return None
    if (len(kernel) != n or len(strides) != n or any(pads) or any(d != 1 for d in dilations)
            or any(k < 1 for k in kernel) or any(st < 1 for st in strides)
            or (auto_pad is not None and auto_pad.value not in ("NOTSET", "VALID"))):
        return None
    ints = [int(d) for d in sizes]
    whole = all(k == h or (ceil_mode and h < k < h + s) for h, k, s in zip(ints, kernel, strides))
    tiles = all(s == k and h % k == 0 for h, k, s in zip(ints, kernel, strides))
    if not (whole or tiles):
        return None
    return PoolAsReduce(node, tuple(ints), tuple(kernel), whole)


def find_pool_reductions(model: ir.Model) -> list[PoolAsReduce]:
    """Every pooling of the main graph whose windows tile its input (inferred shapes needed)."""
    return [m for m in (_match_pool(n) for n in model.graph) if m is not None]


# --- DimFromCarrier -------------------------------------------------------------------------------------
#
# torch.onnx writes a size that torch.export knows only as an expression of the input dims — wav2vec2's
# frame count ``s // 10 - 1`` — as that arithmetic on the input's Shape. TensorRT computes the same size
# for the tensor the convolutions produce by its own formula, and its shape analysis cannot prove the
# two equal: an elementwise op over both ("ISelect condition and elseInput axis 1 dimensions are not
# compatible") does not build. Where the exporter annotates the built tensor's dim and a tensor that
# does not depend on it with the same symbolic expression, they are one size of torch.export's shape
# environment, so the size is read from that tensor instead::
#
#     zeros = Expand(0, Concat(Shape(mask)[0:1], Reshape(Add(Div(Shape(mask)[1], 10), -1))))   # [s43, s53//10 - 1]
#     →  zeros = Expand(0, Concat(Shape(mask)[0:1], Shape(conv1d_1, start=2, end=3)))
#
# Only pieces computed by integer arithmetic are replaced; the carrier must not depend on the node. The
# equality rests on the annotations being torch.export's symbols (its shape environment proved them, and
# verification re-checks the rewritten file at the ends of every dynamic axis), so only a file torch.onnx
# wrote qualifies: another producer's dim names are its own claims.


@dataclass(frozen=True)
class DimFromCarrier:
    node: ir.Node  # the Expand / ConstantOfShape whose shape is built
    concat: ir.Node  # the Concat building that shape, one 1-element piece per dim
    slot: int  # the piece replaced
    dim: str  # the symbolic expression both annotations carry
    carrier: ir.Value  # a tensor with that dim, not downstream of ``node``
    axis: int

    def decision(self) -> Decision:
        return Decision(
            op_finding_id(Layer.ONNX, node_label(self.node)), Action.REWRITE,
            f"dim {self.slot} of {node_label(self.node)} ({self.dim}) is computed from the input's shape; "
            f"{self.carrier.name} carries the same dim (axis {self.axis}), so it is read from there and TensorRT "
            "sees one size where it could not prove two expressions equal",
        )


def _downstream(node: ir.Node) -> set[int]:
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        for out in n.outputs:
            stack.extend(user for user, _ in out.uses())
    return seen


_MOVES = ("Reshape", "Unsqueeze", "Squeeze", "Cast", "Identity")
_ARITHMETIC = ("Add", "Sub", "Mul", "Div", "Mod", "Max", "Min")


def _arithmetic(piece: ir.Value) -> bool:
    """Whether ``piece`` is computed by integer arithmetic (through moves), not read from a shape."""
    node = piece.producer()
    while node is not None and node.domain in _DOMAINS and node.op_type in _MOVES and node.inputs:
        src = node.inputs[0]
        node = src.producer() if src is not None else None
    return node is not None and node.domain in _DOMAINS and node.op_type in _ARITHMETIC


def find_dims_from_carriers(model: ir.Model) -> list[DimFromCarrier]:
    """Every computed size of an Expand/ConstantOfShape in the main graph that a tensor carries as a dim."""
    if model.producer_name != "pytorch":
        return []
    graph = model.graph
    carriers: dict[str, list[tuple[ir.Value, int]]] = {}
    values = list(graph.inputs) + [o for n in graph for o in n.outputs]
    for v in values:
        for k, d in enumerate(v.shape or ()):
            if isinstance(d, ir.SymbolicDim) and d.value:
                carriers.setdefault(d.value, []).append((v, k))
    found = []
    for node in graph:
        if node.op_type not in ("Expand", "ConstantOfShape") or node.domain not in _DOMAINS:
            continue
        out = node.outputs[0]
        shape_in = node.inputs[1] if node.op_type == "Expand" and len(node.inputs) > 1 else node.inputs[0]
        concat = shape_in.producer() if shape_in is not None else None
        if out.shape is None or concat is None or not _is_op(concat, "Concat") or len(concat.inputs) != len(out.shape):
            continue
        down: set[int] | None = None
        for slot, (piece, d) in enumerate(zip(concat.inputs, out.shape)):
            if piece is None or not isinstance(d, ir.SymbolicDim) or not d.value:
                continue
            if piece.shape is None or list(piece.shape) != [1] or not _arithmetic(piece):
                continue  # not one size, or not computed: a read of a shape is what TensorRT equates
            down = _downstream(node) if down is None else down
            carrier = next(((v, k) for v, k in carriers.get(d.value, ())
                            if v.producer() is None or id(v.producer()) not in down), None)
            if carrier is not None:
                found.append(DimFromCarrier(node, concat, slot, d.value, carrier[0], carrier[1]))
    return found
