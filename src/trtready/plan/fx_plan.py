"""Keep / narrow / refuse for the int64 tensors a PyTorch program makes in ``forward``.

*Sources* are nodes whose dtype is a keyword that can be set — ``arange``, ``full``, ``zeros``/
``ones`` (and their ``_like`` forms), ``scalar_tensor``, ``_to_copy(dtype=int64)``. The int32 region
grows from them through ops whose result dtype follows their inputs (add, mul, remainder, view,
slice, cat, …) while the analysis proves every value fits int32. A connected region is narrowed only
when every consumer outside it reads int32 (embedding and index_select indices, comparisons, casts to
float, …): one that would need a cast back to int64 — an index op that becomes an int64-only ONNX
slot, a graph output, which keeps its dtype — stays int64 whole. Narrowing index math only to cast it
back is no win, and the ONNX planner still narrows what it can prove after translation. So does a
region that reads a symbolic size as a number (``arange(seq)``): in ONNX the size is an int64 shape
value, read through a Cast TensorRT computes on the host, and the parser casts an int32 Range's shape
back — more Cast layers, nothing saved (measured on the demo token model: 8 → 9 Cast layers).

:func:`refuse_proved_overflow` refuses early — before any export — a value proved to exceed int32
on a target that cannot hold int64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trtready.audit.findings import Finding, Layer
from trtready.errors import UnsafeNarrowingError
from trtready.plan import Action, Decision, PlanOptions

if TYPE_CHECKING:
    import torch.fx
    from torch.fx.node import Argument, Target

    from trtready.analysis import FxAnalysis
    from trtready.targets import TargetProfile


@dataclass
class FxPlan:
    """Node names (of the program and of its ``module()``, which keeps them) that become int32."""

    region: list[str] = field(default_factory=list)  # every node computed in int32
    sources: list[str] = field(default_factory=list)  # the nodes whose ``dtype`` keyword changes
    decisions: list[Decision] = field(default_factory=list)


def _ops() -> tuple[set[Target], set[Target], set[Target]]:
    import torch

    aten = torch.ops.aten
    sources: set[Target] = {
        aten.arange.default, aten.arange.start, aten.arange.start_step, aten.full.default,
        aten.zeros.default, aten.ones.default, aten.scalar_tensor.default, aten._to_copy.default,
        aten.full_like.default, aten.zeros_like.default, aten.ones_like.default,
    }
    followers: set[Target] = {
        aten.add.Tensor, aten.add.Scalar, aten.sub.Tensor, aten.sub.Scalar, aten.mul.Tensor, aten.mul.Scalar,
        aten.neg.default, aten.abs.default, aten.remainder.Scalar, aten.remainder.Tensor, aten.fmod.Scalar,
        aten.floor_divide.default, aten.clamp.default, aten.minimum.default, aten.maximum.default,
        aten.view.default, aten.reshape.default, aten.unsqueeze.default, aten.squeeze.dim, aten.squeeze.dims,
        aten.expand.default, aten.slice.Tensor, aten.select.int, aten.permute.default, aten.clone.default,
        aten.cat.default, aten.where.self, aten.alias.default, aten.contiguous.default, aten.flatten.using_ints,
    }
    int32_readers: set[Target] = {
        aten.embedding.default, aten.index_select.default, aten.eq.Tensor, aten.eq.Scalar, aten.ne.Tensor,
        aten.ne.Scalar, aten.lt.Tensor, aten.lt.Scalar, aten.le.Tensor, aten.le.Scalar, aten.gt.Tensor,
        aten.gt.Scalar, aten.ge.Tensor, aten.ge.Scalar, aten.sym_size.int, aten._to_copy.default,
        aten.div.Tensor,
    } | followers
    return sources, followers, int32_readers


def _is_int64(n: Argument) -> bool:
    import torch
    import torch.fx

    val = n.meta.get("val") if isinstance(n, torch.fx.Node) else None
    return isinstance(val, torch.Tensor) and val.dtype == torch.int64


def _components(region: set[torch.fx.Node]) -> list[set[torch.fx.Node]]:
    seen: set[torch.fx.Node] = set()
    out = []
    for start in region:
        if start in seen:
            continue
        comp: set[torch.fx.Node] = set()
        stack = [start]
        while stack:
            n = stack.pop()
            if n in comp:
                continue
            comp.add(n)
            stack += [u for u in n.users if u in region] + [a for a in n.all_input_nodes if a in region]
        seen |= comp
        out.append(comp)
    return out


def plan_fx(analysis: FxAnalysis, findings: list[Finding]) -> FxPlan:
    """The int32 region of the program (see the module docstring), with a decision per finding in it."""
    import torch

    sources, followers, readers = _ops()

    def fits(n: torch.fx.Node) -> bool:
        iv = analysis.interval(n)
        return iv is not None and iv.fits_int32()

    region: set[torch.fx.Node] = set()
    for n in analysis.program.graph.nodes:
        if n.op != "call_function" or not _is_int64(n) or not fits(n):
            continue
        if n.target in sources:
            if n.target is torch.ops.aten._to_copy.default and n.kwargs.get("dtype") is not torch.int64:
                continue
            region.add(n)
        elif n.target in followers:
            tensor_ins = [a for a in n.all_input_nodes if _is_int64(a)]
            if tensor_ins and all(a in region for a in tensor_ins):
                region.add(n)
    kept: dict[str, str] = {}
    for comp in _components(region):
        if any(u not in comp and (u.op == "output" or u.target not in readers) for n in comp for u in n.users):
            region -= comp
            continue
        sizes = sorted({s for n in comp for s in _sizes_read(n)})
        if sizes:
            region -= comp
            why = (f"kept int64: narrowing it would add a host-side Cast of the size {', '.join(sizes)} (ONNX shape "
                   "values are int64; TensorRT computes them on the host and casts a narrowed Range back)")
            kept.update({n.name: why for n in comp})
    names = {n.name for n in region}
    plan = FxPlan(sorted(names), sorted(n.name for n in region if n.target in sources))
    fx_findings = [f for f in findings if f.layer is Layer.FX and f.dtype == "int64" and not f.is_index]
    plan.decisions = [Decision(f.id, Action.NARROW, f"proved {f.interval} fits int32 (PyTorch graph)")
                      for f in fx_findings if f.tensor in names]
    plan.decisions += [Decision(f.id, Action.KEEP, kept[f.tensor]) for f in fx_findings if f.tensor in kept]
    return plan


def _sizes_read(n: torch.fx.Node) -> list[str]:
    """The symbolic sizes node ``n`` reads as numbers (``arange(seq)``, ``x + seq``): in ONNX each is a
    shape value, int64 by the spec, which a narrowed ``n`` would read through a host-side Cast."""
    import torch
    import torch.fx

    target = str(n.target)
    if target.startswith("aten.arange.") or target == "aten.scalar_tensor.default":
        values = list(n.args) + [n.kwargs.get("step")]
    elif target in ("aten.full.default", "aten.full_like.default"):
        values = list(n.args[1:2])  # the fill value; the size is a shape (int64 in ONNX whatever the dtype)
    elif target.split(".")[1] in _ARITH:
        values = list(n.args[:2])
    else:
        return []  # views, slices, cat: their sizes and bounds are shapes, not values
    out = []
    for x in values:
        val = x.meta.get("val") if isinstance(x, torch.fx.Node) else x
        if isinstance(val, torch.SymInt):
            out.append(str(val))
    return out


_ARITH = {"add", "sub", "mul", "floor_divide", "remainder", "fmod", "clamp", "minimum", "maximum", "where", "neg", "abs"}


def refuse_proved_overflow(findings: list[Finding], profile: TargetProfile, options: PlanOptions) -> None:
    """Refuse, before any export, a graph value proved to exceed int32 on a target without int64."""
    if profile.handles_int64 and not options.strict:
        return
    for f in findings:
        if f.layer is Layer.FX and f.dtype == "int64" and f.interval is not None and not f.interval.fits_int32() \
                and not f.is_index:
            raise UnsafeNarrowingError(
                f"refused: tensor {f.tensor} ({f.producer or f.role.value}, {f.where}) reaches "
                f"{f.interval.worst_int32_violation()}, outside int32; {profile.name} cannot hold int64"
                + (" (--strict)" if options.strict and profile.handles_int64 else "")
            )
