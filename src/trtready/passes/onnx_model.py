"""Apply an ONNX plan: the exact rewrites, then the narrowing passes in order, unused nodes removed, then
the full checker.

The decisions were all taken by :func:`trtready.plan.onnx_plan.plan_onnx`; this only carries them out.
"""

from __future__ import annotations

import onnx_ir as ir

from trtready.analysis import OnnxAnalysis
from trtready.passes.check import FullCheckPass
from trtready.passes.dim_from_carrier import DimFromCarrierPass
from trtready.passes.index_rewrites import IndexRewritesPass
from trtready.passes.iota_gather import IotaGatherPass
from trtready.passes.masked_assignment import MaskedAssignmentPass
from trtready.passes.narrow_float64 import NarrowFloat64Pass
from trtready.passes.narrow_int64 import NarrowInt64Pass
from trtready.passes.pool_to_reduce import PoolToReducePass
from trtready.plan import Decision
from trtready.plan.index_rewrites import find_batch_gathers, find_cast_first, find_integer_argmax
from trtready.plan.onnx_plan import OnnxPlan
from trtready.plan.rewrites import needs_reduce
from trtready.rewrite_matchers import (find_dims_from_carriers, find_iota_gathers, find_masked_assignments,
                                       find_pool_reductions)
from trtready.targets import TargetProfile


def apply_plan(plan: OnnxPlan) -> ir.Model:
    """Run the passes on ``plan.model`` (in place) and check the result with the ONNX checker."""
    from onnx_ir.passes.common import RemoveUnusedNodesPass

    passes: list[ir.passes.PassBase] = [NarrowInt64Pass(plan)]
    if plan.doubles:
        passes.append(NarrowFloat64Pass(plan.doubles))
    manager = ir.passes.PassManager([*passes, RemoveUnusedNodesPass(), FullCheckPass()])
    return manager(plan.model).model


def apply_rewrites(model: ir.Model, profile: TargetProfile | None = None) -> list[Decision]:
    """Rewrites proved exact (:mod:`trtready.rewrite_matchers`, :mod:`trtready.plan.index_rewrites`), in
    place, before the narrowing is planned.

    Planning runs on the rewritten graph: a tensor that is no longer computed cannot pin its
    neighbours to int64. ``fix --dry-run`` rewrites its in-memory copy the same way, so it shows the
    real run's decisions. Each rewrite is found on the graph the previous one left: IotaGather,
    boolean-mask assignments (always: a Where builds on every target), the poolings whose window
    ``profile`` cannot build, batch gathers and integer ArgMax, then Casts moved before a move, then sizes
    computed from the input's shape read from the tensor that carries them.
    The graph they leave is a new one: plan it on its own analysis
    (:meth:`~trtready.analysis.OnnxAnalysis.of_rewritten`, see :func:`rewrite_then_analyse`).
    """
    from onnx_ir.passes.common import RemoveUnusedNodesPass

    decisions: list[Decision] = []
    iota = find_iota_gathers(model)
    if iota:  # each decision names the graph as it was found, before its pass renames anything
        decisions += [m.decision() for m in iota]
        ir.passes.PassManager([IotaGatherPass(iota), RemoveUnusedNodesPass()])(model)
    masked = find_masked_assignments(model)
    if masked:
        decisions += [d for m in masked for d in m.decisions()]
        ir.passes.PassManager([MaskedAssignmentPass(masked), RemoveUnusedNodesPass()])(model)
    pools = [m for m in find_pool_reductions(model) if profile is not None and needs_reduce(m, profile)]
    if pools:
        assert profile is not None
        decisions += [m.decision(profile.pool_window_limit[m.spatial]) for m in pools]
        ir.passes.PassManager([PoolToReducePass(pools), RemoveUnusedNodesPass()])(model)
    batch, argmax = find_batch_gathers(model), find_integer_argmax(model)
    if batch or argmax:
        decisions += [b.decision() for b in batch]
        ir.passes.PassManager([IndexRewritesPass([], batch, argmax), RemoveUnusedNodesPass()])(model)
    cast_first = find_cast_first(model)  # after the others: a grid's chain they removed is not moved
    if cast_first:
        decisions += [c.decision() for c in cast_first]
        ir.passes.PassManager([IndexRewritesPass(cast_first, [], []), RemoveUnusedNodesPass()])(model)
    dims = find_dims_from_carriers(model)  # last: the sizes the graph now builds
    if dims:
        decisions += [d.decision() for d in dims]
        ir.passes.PassManager([DimFromCarrierPass(dims), RemoveUnusedNodesPass()])(model)
    return decisions


def rewrite_then_analyse(analysis: OnnxAnalysis, profile: TargetProfile | None) -> tuple[list[Decision], OnnxAnalysis]:
    """The exact rewrites on ``analysis.model`` (in place), then the analysis the planner needs: the same one
    when nothing was rewritten, else one of the rewritten graph, so the values a rewrite made have
    intervals and no plan is made on a graph that is gone."""
    decisions = apply_rewrites(analysis.model, profile)
    return decisions, (analysis if analysis.describes(analysis.model) else analysis.of_rewritten())
