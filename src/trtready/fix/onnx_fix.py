"""fix for an ONNX file: narrow in place on a loaded copy, verify in ONNX Runtime, write OUT.onnx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trtready.audit import AuditReport, audit_loaded
from trtready.bounds import DimBound
from trtready.fix import FixResult
from trtready.intervals import Interval
from trtready.load import LoadedModel
from trtready.plan import PlanOptions
from trtready.targets import ResolvedTarget


def fix_onnx(
    loaded: LoadedModel,
    out: Path | None,
    target: ResolvedTarget,
    options: PlanOptions,
    bounds: list[DimBound],
    ranges: dict[str, Interval],
    *,
    dry_run: bool = False,
    verify: bool = True,
    trials: int = 3,
    rtol: Any = None,
    atol: Any = None,
    feeds: dict[str, Any] | None = None,
) -> FixResult:
    from trtready.intervals.roles import onnx_input_roles
    from trtready.narrow.onnx_model import apply_plan, plan_model
    from trtready.outputs import save_onnx_atomic
    from trtready.verify.inputs import onnx_input_specs
    from trtready.verify.runners import OrtRunner

    report = AuditReport(audit_loaded(loaded, bounds, ranges), target)
    model = loaded.onnx
    narrowing = plan_model(model, target.profile, options, bounds, ranges)
    result = FixResult(report, narrowing.decisions, dry_run=dry_run)
    if dry_run:
        return result
    specs = onnx_input_specs(model, onnx_input_roles(model.graph), ranges)
    output_names = [v.name for v in model.graph.outputs]
    narrowed = apply_plan(model, narrowing)
    if verify:
        from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL
        from trtready.verify.run import verify_runners

        cmp = verify_runners(
            OrtRunner(str(loaded.source)), OrtRunner(narrowed), specs, output_names,
            labels=(f"{loaded.source} (ONNX Runtime)", "narrowed ONNX (ONNX Runtime)"),
            bounds=bounds, trials=trials, rtol=rtol or (DEFAULT_RTOL, {}), atol=atol or (DEFAULT_ATOL, {}),
            feeds=feeds,
        )
        result.verification.append(cmp)
        if not cmp:
            result.notes.append("verification failed: nothing written")
            return result
    else:
        result.notes.append("verification skipped (--no-verify)")
    if out is not None:
        result.written = save_onnx_atomic(narrowed, out)
    return result
