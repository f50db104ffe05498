"""Apply an ONNX plan: the narrowing passes in order, unused nodes removed, then the full checker.

The decisions were all taken by :func:`trtready.plan.onnx_plan.plan_onnx`; this only carries them out.
"""

from __future__ import annotations

import onnx_ir as ir

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


def apply_rewrites(model: ir.Model) -> list[Decision]:
    """Rewrites proved exact (:mod:`trtready.plan.rewrites`), in place, before the narrowing is planned.

    Planning runs on the rewritten graph: a tensor that is no longer computed cannot pin its
    neighbours to int64. ``fix --dry-run`` rewrites its in-memory copy the same way, so it shows the
    real run's decisions.
    """
    from onnx_ir.passes.common import RemoveUnusedNodesPass

    from trtready.passes.iota_gather import IotaGatherPass
    from trtready.plan.rewrites import find_iota_gathers

    matches = find_iota_gathers(model)
    if matches:
        ir.passes.PassManager([IotaGatherPass(matches), RemoveUnusedNodesPass()])(model)
    return [m.decision() for m in matches]
