"""Route a loaded model to the fix for its kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trtready.bounds import DimBound
from trtready.errors import UsageError
from trtready.fix import FixResult
from trtready.intervals import Interval
from trtready.load import LoadedModel, ModelKind
from trtready.plan import PlanOptions
from trtready.targets import ResolvedTarget


def run_fix(
    loaded: LoadedModel,
    out: Path | None,
    target: ResolvedTarget,
    options: PlanOptions,
    bounds: list[DimBound],
    ranges: dict[str, Interval],
    *,
    dry_run: bool,
    verify: bool,
    trials: int,
    force: bool,
    **verify_opts: Any,
) -> FixResult:
    from trtready.outputs import check_output

    if out is not None and not dry_run:
        inputs = [Path(loaded.source)] + list(loaded.data_files) if loaded.kind is not ModelKind.SPEC else []
        check_output(out, inputs, force)
    if loaded.kind is ModelKind.ONNX:
        from trtready.fix.onnx_fix import fix_onnx

        return fix_onnx(loaded, out, target, options, bounds, ranges, dry_run=dry_run, verify=verify,
                        trials=trials, **verify_opts)
    from trtready.fix.torch_fix import fix_torch

    if loaded.kind in (ModelKind.SPEC, ModelKind.PT2, ModelKind.TORCHSCRIPT, ModelKind.CHECKPOINT,
                       ModelKind.SAFETENSORS):
        return fix_torch(loaded, out, target, options, bounds, ranges, dry_run=dry_run, verify=verify,
                         trials=trials, force=force, **verify_opts)
    raise UsageError(f"fix does not handle {loaded.kind.value} models")  # pragma: no cover
