"""NarrowFxInt64Pass: int64 tensors created inside ``forward`` become int32 where proved.

Works on the GraphModule of an ExportedProgram (``ep.module()``), with the torch.fx pass contract
(``PassResult(graph_module, modified)``). *Sources* are nodes whose dtype is a keyword we can set —
``arange``, ``full``, ``zeros``/``ones``, ``scalar_tensor`` and ``_to_copy(dtype=int64)``; the int32
region grows through ops whose result dtype follows their inputs (add, mul, remainder, view, slice,
cat, …) while the interval analysis proves every value fits int32. Consumers that accept int32
(embedding and index_select indices, comparisons, casts to float, the followers themselves) read
the int32 value. A region is narrowed only when every consumer reads int32: one that would need a
cast back to int64 (an index op that becomes an int64-only ONNX slot, a graph output, which keeps its
dtype) leaves the whole region int64 — narrowing index math and casting it back is no win
(DESIGN.md), and the ONNX planner still narrows what it can prove there. The caller re-exports the
module to obtain the narrowed ExportedProgram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trtready.intervals import Interval


@dataclass
class FxPassResult:
    graph_module: Any
    modified: bool
    narrowed: list[str]


def _ops() -> tuple[set[Any], set[Any], set[Any]]:
    import torch

    aten = torch.ops.aten
    sources = {
        aten.arange.default, aten.arange.start, aten.arange.start_step, aten.full.default,
        aten.zeros.default, aten.ones.default, aten.scalar_tensor.default, aten._to_copy.default,
        aten.full_like.default, aten.zeros_like.default, aten.ones_like.default,
    }
    followers = {
        aten.add.Tensor, aten.add.Scalar, aten.sub.Tensor, aten.sub.Scalar, aten.mul.Tensor, aten.mul.Scalar,
        aten.neg.default, aten.abs.default, aten.remainder.Scalar, aten.remainder.Tensor, aten.fmod.Scalar,
        aten.floor_divide.default, aten.clamp.default, aten.minimum.default, aten.maximum.default,
        aten.view.default, aten.reshape.default, aten.unsqueeze.default, aten.squeeze.dim, aten.squeeze.dims,
        aten.expand.default, aten.slice.Tensor, aten.select.int, aten.permute.default, aten.clone.default,
        aten.cat.default, aten.where.self, aten.alias.default, aten.contiguous.default, aten.flatten.using_ints,
    }
    int32_readers = {
        aten.embedding.default, aten.index_select.default, aten.eq.Tensor, aten.eq.Scalar, aten.ne.Tensor,
        aten.ne.Scalar, aten.lt.Tensor, aten.lt.Scalar, aten.le.Tensor, aten.le.Scalar, aten.gt.Tensor,
        aten.gt.Scalar, aten.ge.Tensor, aten.ge.Scalar, aten.sym_size.int, aten._to_copy.default,
        aten.div.Tensor,
    } | followers
    return sources, followers, int32_readers


def _is_int64(n: Any) -> bool:
    import torch

    val = n.meta.get("val") if hasattr(n, "meta") else None
    return isinstance(val, torch.Tensor) and val.dtype == torch.int64


class NarrowFxInt64Pass:
    """Narrow int64 tensors made in ``forward`` to int32, given node intervals (by node name)."""

    def __init__(self, intervals: dict[str, Interval | None]) -> None:
        self.intervals = intervals

    def _fits(self, n: Any) -> bool:
        iv = self.intervals.get(n.name)
        return iv is not None and iv.fits_int32()

    def __call__(self, gm: Any) -> FxPassResult:
        import torch

        sources, followers, readers = _ops()
        graph = gm.graph
        region: set[Any] = set()
        for n in graph.nodes:
            if n.op != "call_function" or not _is_int64(n) or not self._fits(n):
                continue
            if n.target in sources:
                if n.target is torch.ops.aten._to_copy.default and n.kwargs.get("dtype") is not torch.int64:
                    continue
                region.add(n)
            elif n.target in followers:
                tensor_ins = [a for a in n.all_input_nodes if _is_int64(a)]
                if tensor_ins and all(a in region for a in tensor_ins):
                    region.add(n)
        # A component stays int64 when any consumer outside it needs int64 (or is a graph output).
        for comp in _components(region):
            if any(u not in comp and (u.op == "output" or u.target not in readers) for n in comp for u in n.users):
                region -= comp
        if not region:
            return FxPassResult(gm, False, [])
        for n in region:
            if n.target in sources:
                n.kwargs = {**n.kwargs, "dtype": torch.int32}
        graph.lint()
        gm.recompile()
        return FxPassResult(gm, True, sorted(n.name for n in region))


def _components(region: set[Any]) -> list[set[Any]]:
    seen: set[Any] = set()
    out = []
    for start in region:
        if start in seen:
            continue
        comp, stack = set(), [start]
        while stack:
            n = stack.pop()
            if n in comp:
                continue
            comp.add(n)
            stack += [u for u in n.users if u in region] + [a for a in n.all_input_nodes if a in region]
        seen |= comp
        out.append(comp)
    return out
