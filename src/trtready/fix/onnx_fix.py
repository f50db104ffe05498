"""fix for an ONNX file: narrow in place on a loaded copy, verify in ONNX Runtime; the caller writes OUT.onnx."""

from __future__ import annotations

from pathlib import Path

from trtready.audit import AuditReport, audit_loaded
from trtready.fix import FixRequest, FixResult
from trtready.load import LoadedModel


def fix_onnx(loaded: LoadedModel, req: FixRequest) -> FixResult:
    from trtready.intervals.roles import onnx_input_roles
    from trtready.narrow.onnx_model import apply_plan, plan_model
    from trtready.outputs import save_onnx
    from trtready.verify.inputs import onnx_input_specs
    from trtready.verify.runners import OrtRunner

    _check_types(loaded)
    report = AuditReport(audit_loaded(loaded, req.bounds, req.ranges), req.target)
    model = loaded.onnx
    narrowing = plan_model(model, req.target.profile, req.options, req.bounds, req.ranges)
    result = FixResult(report, narrowing.decisions, dry_run=req.dry_run)
    if req.dry_run:
        return result
    specs = onnx_input_specs(model, onnx_input_roles(model.graph), req.ranges)
    output_names = [v.name for v in model.graph.outputs]
    reference = OrtRunner(Path(loaded.source)) if req.verify else None  # before the passes edit the model
    narrowed = apply_plan(model, narrowing)
    if reference is not None:
        from trtready.verify.run import depth_of_onnx, verify_runners

        cmp = verify_runners(
            reference, OrtRunner(narrowed), specs, output_names,
            labels=(f"{loaded.source} (ONNX Runtime)", "narrowed ONNX (ONNX Runtime)"),
            bounds=req.bounds, trials=req.trials, rtol=req.rtol, atol=req.atol, feeds=req.feeds,
            limits=req.limits, depth=depth_of_onnx(model),
        )
        result.verification.append(cmp)
        if not cmp:
            result.notes.append("verification failed: nothing written")
            return result
    else:
        result.notes.append("verification skipped (--no-verify)")
    result.writer = lambda dest: save_onnx(narrowed, dest, "fix")
    return result


def _check_types(loaded: LoadedModel) -> None:
    """fix promises a model that passes the full ONNX checker: the input has to pass it first."""
    import onnx_ir as ir

    from trtready.errors import BadInputError
    from trtready.load.onnx_file import full_check_failure

    failure = full_check_failure(ir.serde.serialize_model(loaded.onnx))
    if failure is not None:
        raise BadInputError(f"{loaded.source}: the ONNX checker rejects its types or shapes: {failure}")
