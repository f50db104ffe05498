"""``convert``: load → audit → plan → narrow → export → verify → build → inspect → report, in one run.

The ONNX translation happens once (on the narrowed ExportedProgram); ``baseline=True`` adds one more
translation of the original model, only to show the network before → after.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtready.fix import FixRequest, FixResult


@dataclass
class ConvertResult:
    fix: FixResult
    build: Any = None  # trtready.engine.engine.BuildResult
    baseline: Any = None  # NetworkView of the unmodified export, when asked for
    adapter: Any = None  # Torch-TensorRT module, for --frontend torch-trt-dynamo
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fix)


@contextlib.contextmanager
def _step(progress: Any, label: str) -> Iterator[None]:
    if progress is None:
        yield
        return
    with progress.status(label, spinner="dots"):
        yield
    progress.print(f"  [green]✓[/] {label}")


def convert(loaded: Any, req: FixRequest, *, build: bool = True, baseline: bool = False,
            frontend: str = "onnx", profiles: dict[str, Any] | None = None, console: Any = None) -> ConvertResult:
    from trtready.fix.dispatch import run_fix

    if req.out is None:
        raise ValueError("convert needs an output folder")
    if frontend == "torch-trt-dynamo":  # fail before any work is written
        from trtready.adapters.torch_tensorrt import load_torch_tensorrt

        load_torch_tensorrt()
    elif build:
        from trtready.engine.engine import library_for

        library_for(req.target)
    with _step(console, "audit, plan, narrow, export ONNX, verify"):
        fix = run_fix(loaded, req)
    result = ConvertResult(fix)
    if not fix or req.dry_run:
        return result
    onnx_path = req.out / "model.onnx" if req.out.is_dir() else req.out
    if baseline and loaded.exported is not None:
        with _step(console, "baseline: the unmodified export, for before → after"):
            result.baseline = _baseline_view(loaded, req)
    if frontend == "torch-trt-dynamo":
        from trtready.adapters.torch_tensorrt import compile_dynamo

        with _step(console, "compile with Torch-TensorRT (dynamo)"):
            result.adapter = compile_dynamo(req.out / "model.pt2", req, result.notes)
        return result
    if build:
        from trtready.engine.engine import build_engine

        with _step(console, "build the engine, inspect the network"):
            result.build = build_engine(onnx_path, onnx_path.with_suffix(".engine"), req.target, profiles or {})
    return result


def _baseline_view(loaded: Any, req: FixRequest) -> Any:
    import tempfile

    import onnx_ir as ir

    from trtready.engine.network import inspect_network
    from trtready.export.onnx_export import translate

    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("ignore")
        path = Path(tmp) / "baseline.onnx"
        ir.save(translate(loaded.exported, req.bounds), str(path))
        return inspect_network(path)
