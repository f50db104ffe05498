"""Apply an ONNX plan: the narrowing passes in order, unused nodes removed, then the full checker.

The decisions were all taken by :func:`trtready.plan.onnx_plan.plan_onnx`; this only carries them out.
"""

from __future__ import annotations

import onnx_ir as ir

from trtready.analysis import OnnxAnalysis
from trtready.plan import Decision
from trtready.plan.onnx_plan import OnnxPlan


def apply_plan(plan: OnnxPlan) -> ir.Model:
    """Run the passes on ``plan.model`` (in place) and check the result with the ONNX checker."""
    from onnx_ir.passes.common import RemoveUnusedNodesPass

    from trtready.passes.check import FullCheckPass
    from trtready.passes.narrow_float64 import NarrowFloat64Pass
    from trtready.passes.narrow_int64 import NarrowInt64Pass

    passes: list[ir.passes.PassBase] = [NarrowInt64Pass(plan)]
    if plan.doubles:
        passes.append(NarrowFloat64Pass(plan.doubles))
    manager = ir.passes.PassManager([*passes, RemoveUnusedNodesPass(), FullCheckPass()])
    return manager(plan.model).model


def apply_rewrites(model: ir.Model, analysis: OnnxAnalysis | None = None) -> list[Decision]:
    """Rewrites proved exact (:mod:`trtready.plan.rewrites`), in place, before the narrowing is planned.

    Planning runs on the rewritten graph: a tensor that is no longer computed cannot pin its
    neighbours to int64. ``fix --dry-run`` rewrites its in-memory copy the same way, so it shows the
    real run's decisions.
    """
    from onnx_ir.passes.common import RemoveUnusedNodesPass

    from trtready.passes.index_rewrites import IndexRewritesPass
    from trtready.passes.iota_gather import IotaGatherPass
    from trtready.plan.index_rewrites import find_batch_gathers, find_cast_first, find_integer_argmax
    from trtready.plan.rewrites import find_iota_gathers

    matches = find_iota_gathers(model)
    if matches:
        ir.passes.PassManager([IotaGatherPass(matches), RemoveUnusedNodesPass()])(model)
    decisions = [m.decision() for m in matches]
    batch, argmax = find_batch_gathers(model), find_integer_argmax(model)
    if batch or argmax:
        ir.passes.PassManager([IndexRewritesPass([], batch, argmax), RemoveUnusedNodesPass()])(model)
        decisions += [b.decision() for b in batch]
    cast_first = find_cast_first(model)  # after the others: a grid's chain they removed is not moved
    if cast_first:
        ir.passes.PassManager([IndexRewritesPass(cast_first, [], []), RemoveUnusedNodesPass()])(model)
        decisions += [c.decision() for c in cast_first]
    if (batch or argmax or cast_first) and analysis is not None:
        analysis.refresh()  # the new values' shapes and intervals, for the planner
    return decisions
