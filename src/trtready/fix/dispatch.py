"""Route a loaded model to the fix for its kind."""

from __future__ import annotations

from trtready.fix import FixRequest, FixResult
from trtready.load import LoadedModel, ModelKind


def run_fix(loaded: LoadedModel, req: FixRequest) -> FixResult:
    from trtready.outputs import check_output

    if req.out is not None and not req.dry_run:
        check_output(req.out, loaded.input_paths, req.force)
    if loaded.kind is ModelKind.ONNX:
        from trtready.fix.onnx_fix import fix_onnx

        return fix_onnx(loaded, req)
    from trtready.fix.torch_fix import fix_torch

    return fix_torch(loaded, req)
