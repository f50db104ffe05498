"""Route a loaded model to the fix for its kind, then write its result through an output session."""

from __future__ import annotations

from pathlib import Path

from trtready.fix import FixRequest, FixResult
from trtready.fix.onnx_fix import fix_onnx
from trtready.fix.torch_fix import fix_torch
from trtready.load import LoadedModel, ModelKind
from trtready.outputs import Kind, Output, use_session


def output_kind(loaded: LoadedModel) -> Kind:
    """What ``fix`` writes for this input (docs/cli.md "What fix writes")."""
    if loaded.kind is ModelKind.ONNX:
        return Kind.ONNX
    if loaded.kind in (ModelKind.SPEC, ModelKind.PT2):
        return Kind.FOLDER
    return Kind.FILE


def plan_fix(loaded: LoadedModel, req: FixRequest) -> FixResult:
    """Everything but writing: audit, plan, narrow, verify (nothing is written here)."""
    if loaded.kind is ModelKind.ONNX:
        return fix_onnx(loaded, req)

    return fix_torch(loaded, req)


def run_fix(loaded: LoadedModel, req: FixRequest) -> FixResult:
    """``fix``: outputs are checked (and locked) before any work; the result is swapped in whole."""
    if req.dry_run or req.out is None:
        return plan_fix(loaded, req)
    output = Output(Path(req.out), output_kind(loaded))
    with use_session(req.session, [output], loaded.input_paths, req.force) as s:
        result = plan_fix(loaded, req)
        if result.writer is not None and result.verified:  # written even when not ready: the verdict says why
            result.writer(s.stage(output.path))
            result.written = s.commit(output.path)
    return result
