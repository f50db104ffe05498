"""The stage sequences of ``convert`` and ``export``.

``convert``: load → audit → plan → narrow → export → verify → build → inspect → report, in one run.
The ONNX translation happens once (on the narrowed ExportedProgram); ``baseline=True`` adds one more
translation of the original model, only to show the network before → after — none when nothing was
narrowed before the translation (the translation, kept before the ONNX plan, is the baseline's).

``export``: the translation alone; a TorchScript trace is of the module after ``fix``'s state stage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.adapters.torch_tensorrt import compile_dynamo, load_torch_tensorrt
from trtready.bounds import DimBound
from trtready.deploy import engine_contract, made_repo, stage_triton
from trtready.engine.engine import build as build_network, library_for, write_engine
from trtready.engine.manifest import manifest_path
from trtready.engine.network import effect, inspect_network
from trtready.errors import BadInputError, UsageError, first_line
from trtready.export.exporter import export_model
from trtready.export.paths import translate_path
from trtready.fix import FixRequest, FixResult
from trtready.fix.dispatch import plan_fix
from trtready.fix.torch_fix import narrow_state_for_trace
from trtready.lazy import ir
from trtready.load import ModelKind
from trtready.load.capture import CallLayout
from trtready.outputs import Kind, Output, dumps, use_session, write_bytes
from trtready.plan import Action
from trtready.report.html import render_html
from trtready.report.json_report import convert_report_json

if TYPE_CHECKING:
    from trtready.export.exporter import ExportResult
    from trtready.load import LoadedModel
    from trtready.outputs import OutputSession


@dataclass
class ConvertResult:
    fix: FixResult
    build: Any = None  # trtready.engine.engine.BuildResult
    baseline: Any = None  # NetworkView of the unmodified export, when asked for
    adapter: Any = None  # Torch-TensorRT module, for --frontend torch-trt-dynamo
    notes: list[str] = field(default_factory=list)
    effect: str | None = None  # none | smaller | mixed: the network before → after (with a baseline)
    deploy: Any = None  # trtready.deploy.DeployResult, for --triton

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
            frontend: str = "onnx", profiles: dict[str, Any] | None = None, console: Any = None,
            triton: Any = None) -> ConvertResult:
    """The whole pipeline into one output folder, swapped in only when everything succeeded; with
    ``triton`` (a :class:`trtready.deploy.TritonRequest`) the engine's Triton model too."""
    req = dataclasses.replace(req, keep_unmodified_onnx=baseline)  # the caller's request is left as it was
    if req.out is None:
        raise ValueError("convert needs an output folder")
    if frontend == "torch-trt-dynamo":  # fail before any work is written

        load_torch_tensorrt()
    elif build:
        library_for(req.target)
    if triton is not None and (not build or frontend != "onnx"):
        raise UsageError("--triton deploys the TensorRT engine convert builds: it needs the onnx frontend and a build")

    outputs = [Output(req.out, Kind.FOLDER)] + ([Output(triton.folder, Kind.FOLDER)] if triton is not None else [])
    with made_repo(triton.repo if triton is not None else None), \
            use_session(req.session, outputs, loaded.input_paths, req.force) as s:
        with _step(console, "audit, plan, narrow, export ONNX, verify"):
            fix = plan_fix(loaded, req)
        result = ConvertResult(fix)
        if not fix.verified or req.dry_run or fix.writer is None:
            return result
        staged = s.stage(req.out)
        onnx_path = staged / "model.onnx"
        fix.folder_report = False  # the folder's report.json is the whole run's, written once below
        with _Background() as background:
            fix.in_background = background.run if build and frontend == "onnx" else None
            fix.writer(onnx_path if loaded.kind is ModelKind.ONNX else staged)
            _later_stages(loaded, req, fix, result, s, staged, onnx_path, build=build, baseline=baseline,
                          frontend=frontend, profiles=profiles, console=console, triton=triton,
                          building=background.start)
        fix.in_background = None
        # the folder's report.json is the whole run's: the fix report plus the build and its effect

        data = convert_report_json(result)
        text = dumps(data)  # serialised once: the file and the page's data block are the same text
        write_bytes((text + "\n").encode("utf-8"), staged / "report.json")
        write_bytes(render_html(data, text).encode("utf-8"), staged / "report.html")  # the same data, drawn
        fix.written = s.commit(req.out)
        if result.deploy is not None:
            result.deploy.written = s.commit(triton.folder)
    return result


class _Background:
    """Work handed to one thread while TensorRT builds (the written folder's files after model.onnx;
    the build releases the GIL). ``run`` queues a piece; ``start`` — called once the network is parsed,
    as the build begins — starts them. Not before: the parse calls back into Python for each of its
    thousands of log lines, and each call waits for the GIL while the writer holds it (measured: the
    Llama parse took 0.16 s beside the writer, 0.02 s alone). Leaving the block starts what was never
    started, waits for every piece and raises the first error one raised, unless the block is
    already raising its own (then nothing more is started: the folder is discarded)."""

    def __init__(self) -> None:
        import threading

        self._pending: list[Callable[[], None]] = []
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def run(self, work: Callable[[], None]) -> None:
        self._pending.append(work)

    def start(self) -> None:
        import threading

        def guarded(work: Callable[[], None]) -> None:
            try:
                work()
            except BaseException as e:  # noqa: BLE001 - handed to the main thread when the block ends
                self._errors.append(e)

        for work in self._pending:
            thread = threading.Thread(target=guarded, args=(work,), name="trtready-write", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._pending.clear()

    def __enter__(self) -> _Background:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        if kind is None:
            self.start()
        for thread in self._threads:
            thread.join()
        if kind is None and self._errors:
            raise self._errors[0]


def _later_stages(loaded: LoadedModel, req: FixRequest, fix: FixResult, result: ConvertResult, s: Any, staged: Path,
                  onnx_path: Path, *, build: bool, baseline: bool, frontend: str, profiles: dict[str, Any] | None,
                  console: Any, triton: Any, building: Callable[[], None] | None = None) -> None:
    """What follows the written folder: the baseline's network, then the Torch-TensorRT compile or the
    engine build and inspection, then the Triton model. ``building`` is called as the build begins."""
    assert req.out is not None

    if baseline and (loaded.exported is not None or loaded.kind is ModelKind.ONNX):
        with _step(console, "baseline: the unmodified model's network, for before → after"):
            try:
                result.baseline = _baseline_view(loaded, req, fix)
            except BadInputError as e:  # what the rewrites were for: said, not a failure of convert
                result.notes.append(f"no baseline: the unmodified model does not parse ({first_line(e)})")
    if frontend == "torch-trt-dynamo":
        with _step(console, "compile with Torch-TensorRT (dynamo)"):
            result.adapter = compile_dynamo(staged / "model.pt2", req, result.notes)
    elif build:
        with _step(console, "build the engine, inspect the network"), _predicted(fix):
            built = build_network(onnx_path, req.target, profiles or {}, fix.onnx_written, building=building)
            result.build = write_engine(built, staged / "model.engine", req.out / "model.engine")
        if result.baseline is not None:
            _judge_effect(result)
        if triton is not None:
            result.deploy = stage_triton(engine_contract(manifest_path(staged / "model.engine")), triton, s)


def export(loaded: LoadedModel, out: Path, fmt: str, bounds: list[DimBound], input_names: list[str] | None = None,
           output_names: list[str] | None = None, *, force: bool = False, session: OutputSession | None = None,
           exporter: str = "auto") -> ExportResult:
    """``export``: one translation to ``fmt``. A TorchScript trace is made of the module after the state
    stage ``fix`` runs (:func:`trtready.fix.torch_fix.narrow_state_for_trace`): Torch-TensorRT's
    TorchScript frontend rejects int64 buffers. ONNX and ``.pt2`` are the program as it is."""
    return export_model(loaded, out, fmt, bounds, input_names, output_names, force=force, session=session,
                        exporter=exporter, narrow_state=narrow_state_for_trace if fmt == "torchscript" else None)


@contextlib.contextmanager
def _predicted(fix: FixResult) -> Iterator[None]:
    """A build failure that the plan predicted (an op the target cannot build, not rewritten) says
    so, and what the user can change, after TensorRT's own message."""
    try:
        yield
    except BadInputError as e:
        notes = [n for n in fix.notes if n.startswith("not buildable on ")]
        if not notes:
            raise
        raise BadInputError(f"{e} — predicted before the build: {notes[0]}"
                            + (f" (+{len(notes) - 1} more)" if len(notes) > 1 else "")) from e


def _judge_effect(result: ConvertResult) -> None:
    """A narrowing the parsed network does not show is said, not counted as a gain."""
    result.effect = effect(result.baseline, result.build.network)
    narrowed = sum(1 for d in result.fix.decisions if d.action in (Action.NARROW, Action.REMOVE))
    if result.effect == "none" and narrowed:
        result.notes.append(f"no effect: the {narrowed} narrowed value(s) leave the parsed network unchanged "
                            "(TensorRT computes them in the same types either way)")
    elif result.effect == "mixed":
        result.notes.append("mixed effect: the parsed network has more INT64 shape tensors, INT64 execution "
                            "tensors or Cast layers somewhere than before (see before → after)")


def _baseline_view(loaded: Any, req: FixRequest, fix: FixResult) -> Any:
    """The network of the unmodified model, exported along the path that wrote the converted one."""
    import tempfile

    from trtready.export.onnx_export import translate

    if loaded.kind is ModelKind.ONNX:  # the input itself is the unmodified model
        return inspect_network(Path(loaded.source))

    record = fix.export
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("ignore")
        path = Path(tmp) / "baseline.onnx"
        if fix.unmodified_onnx is not None:  # nothing was narrowed before the translation: it is the baseline's
            path.write_bytes(fix.unmodified_onnx)
            return inspect_network(path)
        if record is None or record.path is None or record.path.name == "dynamo":
            model = translate(loaded.exported, req.bounds)
        else:  # the unmodified model along the path that wrote the converted one: the same exporter

            ep = loaded.exported
            module = loaded.module if loaded.module is not None else ep.module()
            model, _ = translate_path(record.path, ep, module, CallLayout.of(ep, *loaded.example()), req.bounds,
                                      {}, None, None)
        ir.save(model, str(path))
        return inspect_network(path)
