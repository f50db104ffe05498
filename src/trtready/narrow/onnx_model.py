"""Plan and narrow an ONNX model: decisions first, then the passes, then the checker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trtready.bounds import DimBound
from trtready.errors import UnsafeNarrowingError
from trtready.intervals import Interval, float32_facts
from trtready.plan import Action, Decision, PlanOptions
from trtready.plan.onnx_plan import OnnxPlan, clamp_exact_use, plan_onnx
from trtready.targets import TargetProfile


@dataclass
class OnnxNarrowing:
    plan: OnnxPlan
    decisions: list[Decision]


def _interval_text(iv: Interval | None) -> str:
    if iv is None:
        return "range not proved to fit int32"
    return f"reaches {iv.worst_int32_violation()}, outside int32"


def plan_model(
    model: Any,
    profile: TargetProfile,
    options: PlanOptions,
    bounds: list[DimBound] | None = None,
    input_ranges: dict[str, Interval] | None = None,
) -> OnnxNarrowing:
    """Decide every INT64/DOUBLE value of the main graph; raise when a value must be refused."""
    from trtready.audit.onnx_graph import dim_bounds, infer_shapes
    from trtready.intervals.onnx import propagate
    from trtready.intervals.roles import onnx_input_roles, ranges_from_roles

    infer_shapes(model)
    ranges = ranges_from_roles(onnx_input_roles(model.graph), input_ranges)
    env = propagate(model.graph, ranges, dim_bounds(model, bounds or []))
    plan = plan_onnx(model, env, options)
    decisions: list[Decision] = []
    refusals: list[str] = []
    for v in plan.values.values():
        narrowed, reason = plan.reason_for(v)
        fid = f"onnx:{v.name}"
        if narrowed:
            decisions.append(Decision(fid, Action.NARROW, reason))
            continue
        av = env.get(id(v))
        producer = v.producer()
        uses = list(v.uses())
        clamp_exact = bool(uses) and not v.is_graph_output() and all(clamp_exact_use(u.node, u.idx) for u in uses)
        proved = av is not None and (av.hull.fits_int32() or clamp_exact)
        if profile.dims_are_int32 and producer is not None and producer.op_type in ("Shape", "Size"):
            proved = True
        io = v.is_graph_input() or v.is_graph_output()
        forced = options.strict or (options.io_int32 and io)
        if not proved and (forced or not profile.handles_int64):
            what = f"{producer.op_type} {producer.name or ''}".strip() if producer is not None else ("graph input" if v.is_graph_input() else "initializer")
            why = "--strict" if options.strict else ("--io int32" if forced else f"{profile.name} cannot hold int64")
            msg = f"tensor {v.name} ({what}): {_interval_text(av.hull if av else None)}; {why}"
            refusals.append(msg)
            decisions.append(Decision(fid, Action.REFUSE, msg))
        else:
            decisions.append(Decision(fid, Action.KEEP, reason))
    if not profile.handles_int64 or options.strict:
        refusals += _unsafe_constants(model, profile, options)
    refusals += _unsigned_64(model)
    decisions += [Decision(f"onnx:{v.name}", Action.KEEP, why) for v, why in plan.doubles_kept.items()]
    for v in plan.doubles:
        fid = f"onnx:{v.name}"
        if v.const_value is not None:
            _, exact, notes = float32_facts(v.const_value.numpy())
            bad = [n for n in notes if "beyond the float32" in n or ("underflow" in n and not options.allow_underflow)]
            if bad:
                msg = f"tensor {v.name}: {bad[0]} (float64 -> float32)"
                refusals.append(msg)
                decisions.append(Decision(fid, Action.REFUSE, msg))
                continue
        decisions.append(Decision(fid, Action.NARROW, "float64 -> float32 (TensorRT has no DOUBLE tensors)"))
    if refusals:
        raise UnsafeNarrowingError(f"refused: {refusals[0]}" + (f" (+{len(refusals) - 1} more)" if len(refusals) > 1 else ""))
    return OnnxNarrowing(plan, decisions)


def _unsigned_64(model: Any) -> list[str]:
    """UINT64 values: no TensorRT can hold them, and unsigned arithmetic is not int32's (never narrowed)."""
    import onnx_ir as ir

    from trtready.plan.onnx_plan import _all_values

    out = []
    for v in _all_values(model.graph):
        if v.dtype == ir.DataType.UINT64:
            producer = v.producer()
            what = f"{producer.op_type} {producer.name or ''}".strip() if producer is not None else (
                "graph input" if v.is_graph_input() else "initializer")
            out.append(f"tensor {v.name} ({what}): uint64 has no TensorRT type, and trtready does not narrow unsigned "
                       "tensors (their arithmetic differs from int32's)")
    return out


def _unsafe_constants(model: Any, profile: TargetProfile, options: PlanOptions) -> list[str]:
    """int64 constants beyond int32 that the target would clamp where clamping is not exact."""
    import onnx_ir as ir

    from trtready.passes import constant_array
    from trtready.plan.onnx_plan import is_constant

    out = []
    candidates = list(model.graph.initializers.values()) + [
        n.outputs[0] for n in model.graph if n.op_type == "Constant" and n.outputs
    ]
    for c in candidates:
        if c.dtype != ir.DataType.INT64 or not is_constant(c):
            continue
        uses = list(c.uses())
        if not uses or all(clamp_exact_use(u.node, u.idx) for u in uses):
            continue
        arr = constant_array(c)
        if arr is None or arr.size == 0:
            continue
        iv = Interval(int(arr.min()), int(arr.max()))
        if not iv.fits_int32():
            why = "--strict" if options.strict and profile.handles_int64 else f"{profile.name} would clamp it"
            out.append(f"constant {c.name} (read by {uses[0].node.op_type}): {_interval_text(iv)}; {why}")
    return out


def apply_plan(model: Any, narrowing: OnnxNarrowing) -> Any:
    """Run the passes in order and check the result with the ONNX checker (full check)."""
    import onnx_ir as ir
    from onnx_ir.passes.common import RemoveUnusedNodesPass

    from trtready.load.onnx_file import full_check_failure
    from trtready.passes.boundary_casts import InsertBoundaryCastsPass
    from trtready.passes.narrow_float64 import NarrowFloat64Pass
    from trtready.passes.narrow_int64 import NarrowInt64Pass

    passes: list[ir.passes.PassBase] = [NarrowInt64Pass(narrowing.plan), InsertBoundaryCastsPass(narrowing.plan)]
    if narrowing.plan.doubles:
        passes.append(NarrowFloat64Pass(narrowing.plan.doubles))
    manager = ir.passes.PassManager([*passes, RemoveUnusedNodesPass()])
    result = manager(model)
    failure = full_check_failure(ir.serde.serialize_model(result.model))
    if failure is not None:
        from trtready.errors import NarrowingError

        raise NarrowingError(f"the narrowed model fails the ONNX checker ({failure}); nothing written")
    return result.model
