"""fix for an ONNX file: plan on the audit's analysis, narrow a loaded copy, verify in ONNX Runtime.

The caller writes OUT.onnx (``FixResult.writer``).
"""

from __future__ import annotations

from pathlib import Path

from trtready.audit import AuditReport, audit_loaded
from trtready.errors import ExecutorGapError
from trtready.fix import FixRequest, FixResult
from trtready.load import LoadedModel


def fix_onnx(loaded: LoadedModel, req: FixRequest) -> FixResult:
    from trtready.load.onnx_file import cycle_collection_paused

    with cycle_collection_paused():  # copies of a 100k-node graph: see cycle_collection_paused
        return _fix_onnx(loaded, req)


def _fix_onnx(loaded: LoadedModel, req: FixRequest) -> FixResult:
    from trtready.bounds import record_bounds
    from trtready.passes.onnx_model import apply_plan
    from trtready.outputs import save_onnx
    from trtready.fix import rewrite_and_plan, unbuildable_notes
    from trtready.verify.inputs import onnx_input_specs
    from trtready.verify.runners import OrtRunner

    _check_types(loaded)
    report = AuditReport(audit_loaded(loaded, req.bounds, req.ranges, not req.options.strict), req.target)
    assert report.result.onnx_analysis is not None, "an ONNX file's audit analyses its graph"
    removed, analysis, plan = rewrite_and_plan(report.result.onnx_analysis, report.findings, req.target, req.options)
    report.result.onnx_analysis = analysis  # the model it holds is the rewritten one now
    result = FixResult(report, removed + plan.decisions, dry_run=req.dry_run)
    result.notes += unbuildable_notes(result.decisions, req.target.name)
    if req.dry_run:
        return result
    specs = onnx_input_specs(analysis.model, analysis.roles, req.ranges, analysis.demands)
    output_names = [str(v.name) for v in analysis.model.graph.outputs]  # the checker passed: every output is named
    reference = None
    if req.verify:
        try:  # opened before the passes edit the model
            reference = OrtRunner(Path(loaded.source), limits=req.limits, shapes_from=analysis.model)
        except ExecutorGapError as gap:  # ONNX Runtime's limit, not the model's: never a refusal
            result.unverified = f"{gap}: nothing else here runs an ONNX file, so the narrowed model was not run"
            result.notes.append(f"not verified: {result.unverified}")
    narrowed = apply_plan(plan)
    record_bounds(narrowed, analysis.bounds)
    if reference is not None:
        from trtready.verify.run import depth_of_onnx, verify_runners

        from trtready.verify.runners import island_text, ort_label

        candidate = OrtRunner(narrowed, limits=req.limits)
        result.island = island_text(reference, candidate)
        cmp = verify_runners(
            reference, candidate, specs, output_names,
            labels=(ort_label(f"{loaded.source} (ONNX Runtime)", reference),
                    ort_label("narrowed ONNX (ONNX Runtime)", candidate)),
            bounds=analysis.bounds, trials=req.trials, rtol=req.rtol, atol=req.atol, feeds=req.feeds,
            limits=req.limits, depth=depth_of_onnx(narrowed),
        )
        result.verification.append(cmp)
        if not cmp:
            result.notes.append("verification failed: nothing written")
            return result
    elif not req.verify:
        result.notes.append("verification skipped (--no-verify)")
    def write(dest: Path) -> list[Path]:
        files = save_onnx(narrowed, dest, "fix")
        result.onnx_written = (narrowed, files)
        return files

    result.writer = write
    return result


def _check_types(loaded: LoadedModel) -> None:
    """fix promises a model that passes the full ONNX checker: the input has to pass it first."""
    import onnx_ir as ir

    from trtready.errors import BadInputError
    from trtready.load.onnx_file import full_check_failure

    assert loaded.onnx is not None
    failure = full_check_failure(ir.serde.serialize_model(loaded.onnx))
    if failure is not None:
        raise BadInputError(f"{loaded.source}: the ONNX checker rejects its types or shapes: {failure}")
