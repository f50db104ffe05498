"""Apply an ONNX plan: the narrowing passes in order, unused nodes removed, then the full checker.

The decisions were all taken by :func:`trtready.plan.onnx_plan.plan_onnx`; this only carries them out.
"""

from __future__ import annotations

import onnx_ir as ir

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
