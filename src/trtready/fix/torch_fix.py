"""fix for PyTorch models: state narrowing, one ONNX translation, ONNX narrowing, verification.

From a spec or ``.pt2`` it writes a folder ``OUT/`` with ``model.pt2`` (the state-narrowed
ExportedProgram), ``state_dict.safetensors``, ``model.onnx`` (+ ``.data``) and ``report.json``
(plus ``model.ts`` for the torch-trt-ts target). The ONNX translation runs once, on the narrowed
program (docs/design.md, performance principles).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.audit import AuditReport, audit_loaded
from trtready.audit.findings import Finding
from trtready.errors import UnsafeInputError
from trtready.fix import FixRequest, FixResult
from trtready.load import LoadedModel, ModelKind
from trtready.plan import Action, Decision, PlanOptions, refuse_any
from trtready.targets import TargetProfile
from trtready.verify.inputs import torch_input_specs
from trtready.finding_ids import Layer, tensor_name

if TYPE_CHECKING:
    import onnx_ir as ir
    import torch
    from torch.export import ExportedProgram

    from trtready.analysis import FxAnalysis, OnnxAnalysis
    from trtready.load.capture import CallLayout
    from trtready.plan.export_plan import ExportPath


def decide_state(findings: list[Finding], profile: TargetProfile, options: PlanOptions) -> list[Decision]:
    """The state stage's decisions (:mod:`trtready.plan.state_plan`); a refusal raises, nothing written.

    ``fix`` of any PyTorch form and ``export --format torchscript`` (:func:`narrow_state_for_trace`)
    both decide here.
    """
    from trtready.plan.state_plan import plan_state

    decisions = plan_state(findings, profile, options)
    refuse_any(decisions)
    return decisions


def narrow_state_for_trace(module: torch.nn.Module) -> torch.nn.Module:
    """The state stage of ``export --format torchscript``: a copy of ``module`` whose state is narrowed
    as ``fix`` would for Torch-TensorRT's TorchScript frontend, which rejects int64 buffers."""
    from trtready.audit.state import audit_state
    from trtready.load.state import entries_from_module
    from trtready.passes.narrow_state import narrow_module_state
    from trtready.targets import PROFILES

    decisions = decide_state(audit_state(entries_from_module(module)), PROFILES["torch-trt-ts"], PlanOptions())
    return narrow_module_state(module, decisions)


def fix_torch(loaded: LoadedModel, req: FixRequest) -> FixResult:
    from trtready.plan.fx_plan import refuse_proved_overflow

    report = AuditReport(audit_loaded(loaded, req.bounds, req.ranges, not req.options.strict), req.target)
    if loaded.capture_error is not None:  # a spec's graph is the point: never fall back to its state alone
        raise loaded.capture_error
    decisions = decide_state(report.findings, req.target.profile, req.options)
    if loaded.exported is not None:
        refuse_proved_overflow(report.findings, req.target.profile, req.options)
    result = FixResult(report, decisions, dry_run=req.dry_run)
    if not loaded.has_graph:
        result.notes.append("no graph: state narrowed only, verification skipped")
        if loaded.kind is ModelKind.TORCHSCRIPT and loaded.module is None and not req.dry_run:
            raise UnsafeInputError(
                f"{loaded.source}: writing a narrowed TorchScript archive needs torch.jit.load, which runs the "
                "archive's code; pass --trust-code only if you trust the file's author (audit needs no such flag)"
            )
        if not req.dry_run:
            result.writer = lambda dest: _write_state_only(loaded, dest, decisions)
        return result
    return _fix_program(loaded, req, result)


def _write_state_only(loaded: LoadedModel, dest: Path, decisions: list[Decision]) -> list[Path]:
    """The narrowed state in the input's own format, at ``dest``, marked as trtready's."""
    import torch

    from trtready.passes.narrow_state import narrow_module_state, narrow_state_dict
    from trtready.outputs import mark_zip

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if loaded.kind is ModelKind.TORCHSCRIPT:
            assert loaded.module is not None
            torch.jit.save(narrow_module_state(loaded.module, decisions), str(dest))
            mark_zip(dest, "fix")
        elif loaded.kind is ModelKind.SAFETENSORS:
            from safetensors.torch import load_file, save_file

            full = load_file(str(loaded.source))
            save_file({k: v.contiguous() for k, v in narrow_state_dict(full, decisions).items()}, str(dest),
                      metadata={"written_by": "trtready"})
        elif loaded.module is not None:
            torch.save(narrow_module_state(loaded.module, decisions).state_dict(), str(dest))
            mark_zip(dest, "fix")
        else:
            tensors = {e.name: torch.from_numpy(e.read()) for e in loaded.state or []}
            torch.save(narrow_state_dict(tensors, decisions), str(dest))
            mark_zip(dest, "fix")
    return [dest]


def _fix_program(loaded: LoadedModel, req: FixRequest, result: FixResult) -> FixResult:
    """State and graph narrowing (in the audit's program), one ONNX translation, ONNX narrowing, verification.

    The translation runs once on the success path. When an export path fails — the exporter stops,
    or the file it writes differs from PyTorch the way the plain export of the unmodified model does
    (an exporter bug upstream) — the next path is tried (:mod:`trtready.export.paths`), and the
    report says which path wrote the file and why each earlier one was left.

    With ``dry_run`` it stops after the ONNX plan: the decisions are those the real run takes.
    """
    import torch

    from trtready.errors import UpstreamError
    from trtready.export.paths import ExportChain
    from trtready.load.capture import CallLayout
    from trtready.passes.narrow_state import narrow_module_state
    from trtready.plan.state_plan import keep_float64_read_as_float64

    if loaded.fitted_bounds is not None:  # torch.export's own fixes kept the user's bounds
        req.bounds = loaded.fitted_bounds
    ep = loaded.exported
    assert ep is not None, "captured by the audit"
    module = loaded.module if loaded.module is not None else ep.module()
    layout = CallLayout.of(ep, *loaded.example())
    args, kwargs = layout.example_arguments()
    fx = result.report.result.fx_analysis
    assert fx is not None, "analysed by the audit"
    specs = torch_input_specs(layout, fx, req.ranges)
    narrowed_module = narrow_module_state(module, result.decisions)
    try:
        with torch.no_grad():
            narrowed_module(*args, **kwargs)  # eager check: export's fake tensors miss dtype clashes
    except Exception as e:  # the narrowed state broke forward (e.g. forward casts to float64 itself)
        result.notes.append(f"state narrowing undone: forward failed with it ({type(e).__name__})")
        result.decisions = keep_float64_read_as_float64(result.decisions, result.report.findings)
        narrowed_module = narrow_module_state(module, result.decisions)
    narrowed_ep = _narrow_program(fx, args, kwargs, req, result)
    examples = {s.name: list(s.example) for s in specs if s.example is not None}
    chain = ExportChain(req.exporter)
    result.export = chain.record
    side = _Sides(module, narrowed_module, ep, narrowed_ep, layout, specs, examples)
    mark = _Mark.of(result)
    mismatch: _Mark | None = None  # the state of the last path whose file differed as its plain export does
    while (path := chain.next()) is not None:
        mark.restore(result)
        try:
            onnx_model, change = _translate(path, side, req)
        except _PathFailed as f:
            chain.failed(path, f.reason, narrowed_ep, detail=f.detail)
            continue
        if change:
            chain.record.notes.append(f"{path.name}: {change}")
        unmodified = side.narrowed_program is side.program if path.dynamo else side.narrowed_module is side.module
        result.unmodified_onnx = None
        if req.keep_unmodified_onnx and unmodified:  # the baseline's translation: kept before the plan edits it
            import onnx_ir as ir

            result.unmodified_onnx = ir.serde.serialize_model(onnx_model).SerializeToString()
        onnx_narrowed = _plan_onnx(onnx_model, layout, req, result)
        if req.dry_run:
            chain.succeeded(path)
            return result
        assert onnx_narrowed is not None, "planned and applied: not a dry run"
        if req.verify:
            export_bug = _verify(path, side, onnx_narrowed, [str(v.name) for v in onnx_model.graph.outputs], req, result)
            if export_bug is not None:
                chain.failed(path, export_bug)
                mismatch = _Mark.of(result)
                continue
            if not all(result.verification):
                chain.succeeded(path)
                result.notes.append("verification failed: nothing written")
                return result
        else:
            result.notes.append("verification skipped (--no-verify)")
        chain.succeeded(path)
        result.writer = lambda dest: _write_folder(dest, narrowed_ep, narrowed_module, onnx_narrowed, result, args,
                                                   kwargs)
        return result
    if mismatch is not None:  # a file was written and verification said no: a mismatch (exit 1), not a refusal
        mismatch.restore(result)
        others = "" if req.exporter == "auto" else " (--exporter auto tries the others)"
        result.notes.append(f"every ONNX file an export path gave differs from PyTorch as the plain export along "
                            f"the same path does, and no export path is left{others}: nothing written")
        return result
    raise UpstreamError("torch.onnx.export", "no export path translates the model: " + chain.exhausted(),
                        "; ".join(chain.record.notes) or "a plain torch.onnx.export of the unmodified model fails "
                        "the same way on every path")


@dataclass
class _Sides:
    """The original and the narrowed model, as each export path and verification need them."""

    module: torch.nn.Module  # the original module (eager reference)
    narrowed_module: torch.nn.Module  # state-narrowed copy: what the TorchScript exporter traces
    program: ExportedProgram  # the audit's ExportedProgram
    narrowed_program: ExportedProgram  # state- and graph-narrowed (the audit's program narrowed, or re-captured)
    layout: CallLayout
    specs: list[Any]
    examples: dict[str, list[int]]
    pytorch: Any = None  # the PyTorch comparison, run once whatever the path
    reference: Any = None  # the original module's runs (verify.run.Recorded), shared by every comparison


@dataclass
class _Mark:
    """A result's findings, decisions, notes and verification at one point: restored before each export
    path (an abandoned path leaves no trace), or to show the last path whose file did not verify."""

    findings: list[Any]
    decisions: list[Any]
    notes: list[str]
    layers: dict[str, str]
    verification: list[Any]
    unverified: str | None
    island: str | None
    onnx_analysis: OnnxAnalysis | None

    @classmethod
    def of(cls, result: FixResult) -> _Mark:
        audit = result.report.result
        return cls(list(audit.findings), list(result.decisions), list(result.notes), dict(audit.layers),
                   list(result.verification), result.unverified, result.island, audit.onnx_analysis)

    def restore(self, result: FixResult) -> None:
        audit = result.report.result
        audit.findings[:] = self.findings
        result.decisions[:] = self.decisions
        result.notes[:] = self.notes
        audit.layers.clear()
        audit.layers.update(self.layers)
        result.verification[:] = self.verification
        result.unverified = self.unverified
        result.island = self.island
        audit.onnx_analysis = self.onnx_analysis


class _PathFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def _plan_onnx(onnx_model: ir.Model, layout: CallLayout, req: FixRequest, result: FixResult) -> ir.Model | None:
    """Audit the translation's ONNX layer (every decision points at a finding), apply the exact
    rewrites, plan; the narrowed model (None in a dry run)."""
    from trtready.analysis import OnnxAnalysis
    from trtready.audit import audit_translation
    from trtready.fix import rewrite_and_plan, unbuildable_notes
    from trtready.passes.onnx_model import apply_plan

    analysis = OnnxAnalysis.of(onnx_model, _renamed(req.bounds, layout, req.input_names), req.ranges,
                               not req.options.strict)
    audit_translation(result.report.result, analysis)  # every ONNX decision points at a finding
    rewritten, analysis, plan = rewrite_and_plan(analysis, result.report.findings, result.report.target, req.options)
    result.report.result.onnx_analysis = analysis  # the model it holds is the rewritten one now
    result.decisions += rewritten
    result.notes += unbuildable_notes(result.decisions, result.report.target.name)
    result.decisions += plan.decisions
    return None if req.dry_run else apply_plan(plan)


def _translate(path: ExportPath, side: _Sides, req: FixRequest) -> tuple[ir.Model, str]:
    """The translation along ``path``; a failure is the exporter's when the unmodified model fails too."""
    from trtready.errors import NarrowingError, TrtReadyError, chain_text, first_line, innermost_reason
    from trtready.export.paths import translate_path

    def run(program: ExportedProgram, module: torch.nn.Module) -> tuple[ir.Model, str]:
        return translate_path(path, program, module, side.layout, req.bounds, side.examples, req.input_names,
                              req.output_names)

    try:
        return run(side.narrowed_program, side.narrowed_module)
    except TrtReadyError:
        raise
    except Exception as e:  # the exporters raise many types
        narrowed = side.narrowed_program is not side.program if path.dynamo else side.narrowed_module is not side.module
        if narrowed:
            try:
                run(side.program, side.module)
            except Exception:  # noqa: BLE001 - the unmodified model fails the same way: upstream
                pass
            else:
                raise NarrowingError(f"the narrowed model fails {path.label} while the unmodified one translates "
                                     f"({first_line(e)}); nothing written") from e
        raise _PathFailed(innermost_reason(e), chain_text(e)) from e


def _verify(path: ExportPath, side: _Sides, onnx_narrowed: ir.Model, output_names: list[str], req: FixRequest,
            result: FixResult) -> str | None:
    """PyTorch vs narrowed program, PyTorch vs the narrowed ONNX the path wrote.

    Returns the reason to leave ``path`` when the written ONNX differs from PyTorch the way the plain
    export along the same path does (an exporter bug: the next path may not have it); else None, with
    the comparisons in ``result.verification``. When ONNX Runtime has no kernel for an op, the PyTorch
    comparison stands alone and ``result.unverified`` says what was not run.
    """
    from trtready.errors import ExecutorGapError
    from trtready.export.paths import translate_path
    from trtready.verify.run import Recorded, depth_of_program, verify_runners
    from trtready.verify.runners import OrtRunner, TorchRunner, island_text, ort_label

    common: dict[str, Any] = {"bounds": req.bounds, "trials": req.trials, "rtol": req.rtol, "atol": req.atol,
                              "feeds": req.feeds, "limits": req.limits, "depth": depth_of_program(side.program)}
    names = [n for n, _ in side.layout.tensors]
    input_map = dict(zip(names, req.input_names or names))
    # every comparison is given the same seeded inputs: each side runs once per trial, the original
    # module once for all of them, whatever the path
    if side.reference is None:
        side.reference = Recorded(TorchRunner(side.module, side.layout, program=side.program, limits=req.limits))
    ref = side.reference
    if side.pytorch is None:
        side.pytorch = verify_runners(
            ref, TorchRunner(side.narrowed_program.module(), side.layout, program=side.narrowed_program,
                             limits=req.limits),
            side.specs, output_names, labels=("original module (PyTorch)", "narrowed ExportedProgram (PyTorch)"),
            **common)
    result.verification.append(side.pytorch)
    try:
        candidate = OrtRunner(onnx_narrowed, input_map, limits=req.limits)
        written = Recorded(candidate)
        onnx_cmp = verify_runners(ref, written, side.specs, output_names,
                                  labels=("original module (PyTorch)", ort_label("written ONNX (ONNX Runtime)", candidate)),
                                  **common)
    except ExecutorGapError as gap:
        result.unverified = (f"{gap}: the written ONNX was not run; verified: the narrowed program against the "
                             "original module in PyTorch")
        return None
    result.verification.append(onnx_cmp)
    result.island = island_text(candidate)
    if onnx_cmp or not side.pytorch:
        return None
    try:
        unmodified_model, _ = translate_path(path, side.program, side.module, side.layout, req.bounds,
                                             side.examples, req.input_names, req.output_names)
        unmodified = OrtRunner(unmodified_model, input_map, limits=req.limits)
        plain = Recorded(unmodified)
        export_cmp = verify_runners(ref, plain, side.specs, output_names,
                                    labels=("original module (PyTorch)",
                                            ort_label(f"plain {path.name} export (ONNX Runtime)", unmodified)),
                                    **common)
        same = verify_runners(plain, written, side.specs, output_names,
                              labels=(ort_label(f"plain {path.name} export (ONNX Runtime)", unmodified),
                                      ort_label("written ONNX (ONNX Runtime)", candidate)),
                              **common)
    except Exception as e:  # noqa: BLE001 - without the plain export the mismatch stays narrowing's to answer for
        from trtready.errors import first_line

        result.notes.append(f"the plain {path.name} export of the unmodified model could not be compared "
                            f"({first_line(e)}): the mismatch is counted")
        return None
    if not export_cmp and same:
        worst = max((o for o in export_cmp.worst_per_output() if not o.passed), key=lambda o: o.max_abs)
        return (f"the ONNX it writes differs from PyTorch (max abs {worst.max_abs:.3g} in {worst.name}"
                f"{_at(worst)}), and the plain export of the unmodified model differs the same way: "
                "an exporter bug upstream")
    result.notes.append("the plain export matches PyTorch on the same inputs: the mismatch comes from narrowing"
                        if export_cmp else "the written ONNX also differs from the plain export")
    return None


def _at(worst: Any) -> str:
    """`` at batch=4, seq=32``: the trial where ``worst`` happened, when it has dims (not given inputs)."""
    dims = getattr(worst, "dims", None)
    return f" at {', '.join(f'{k}={v}' for k, v in dims.items())}" if dims else ""


def _narrow_program(fx: FxAnalysis, args: tuple[Any, ...], kwargs: dict[str, Any], req: FixRequest,
                    result: FixResult) -> ExportedProgram:
    """State and graph narrowing on the audit's program, without a second capture when it can be helped.

    The state decisions and the planned int32 region of the graph (:func:`trtready.plan.fx_plan.plan_fx`)
    are applied to the program itself, its metadata propagated again in its own fake mode
    (:func:`trtready.passes.narrow_program.narrow_program`). When that cannot be done exactly, they are
    applied to the program's module and ``torch.export`` runs once more. Either way the narrowed
    program is verified against the original module afterwards.
    """
    from trtready.errors import NarrowingError, TrtReadyError, first_line
    from trtready.load.capture import capture
    from trtready.passes.narrow_program import narrow_program
    from trtready.passes.narrow_state import narrow_module_state
    from trtready.passes.fx_narrow_int64 import NarrowFxInt64Pass
    from trtready.plan.fx_plan import plan_fx

    ep = fx.program
    state_changed = any(d.action is Action.NARROW and tensor_name(d.finding, Layer.STATE) for d in result.decisions)
    plan = plan_fx(fx, result.report.findings)
    result.decisions += plan.decisions
    if not plan.sources and not state_changed:
        return ep
    narrowed = narrow_program(ep, result.decisions, list(plan.sources))
    if narrowed is not None:
        return narrowed
    gm = narrow_module_state(ep.module(), result.decisions)
    res = NarrowFxInt64Pass(plan)(gm)
    assert res is not None
    if not res.modified and not state_changed:
        return ep
    gm = res.graph_module
    # ``.to(device)``/``.to(dtype)`` in library code leaves dtype assertions in the program (RoBERTa's
    # token_type_ids buffer): they assert the dtype narrowing just changed. They are checks, not compute.
    for node in list(gm.graph.nodes):
        if node.op == "call_function" and str(node.target) == "aten._assert_tensor_metadata.default" and not node.users:
            gm.graph.erase_node(node)
    gm.recompile()
    try:
        return capture(gm, args, kwargs, req.bounds)
    except TrtReadyError:
        raise
    except Exception as e:  # the unmodified program exported: a failure now is narrowing's
        raise NarrowingError(f"the narrowed program fails to re-export with torch.export ({first_line(e)}); "
                             "nothing written") from e


def _renamed(bounds: list[Any], layout: CallLayout, input_names: list[str] | None) -> list[Any]:
    """``--dynamic`` bounds under the ONNX input names (``--input-names`` renames forward's)."""
    from dataclasses import replace

    if not input_names:
        return bounds
    rename = dict(zip([n for n, _ in layout.tensors], input_names))
    return [replace(b, input=rename.get(b.input, b.input)) for b in bounds]


def _write_folder(dest: Path, ep: ExportedProgram, module: torch.nn.Module, onnx_model: ir.Model, result: FixResult, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> list[Path]:
    """model.onnx (+ .data) first, then model.pt2, state_dict.safetensors (+ model.ts) and report.json into
    ``dest``; report.json is left to convert, which writes the whole run's (``FixResult.folder_report``),
    and so are the files after model.onnx when convert hands them to ``FixResult.in_background``."""
    import torch
    from safetensors.torch import save_file

    from trtready.export.exporter import portable, trace
    from trtready.outputs import mark_zip, save_onnx, write_json
    from trtready.report.json_report import fix_report_json

    result.onnx_written = (onnx_model, save_onnx(onnx_model, dest / "model.onnx", "fix"))

    def the_rest() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.export.save(portable(ep), str(dest / "model.pt2"))
            mark_zip(dest / "model.pt2", "fix")
            state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
            save_file(_dedupe_shared(state), str(dest / "state_dict.safetensors"), metadata={"written_by": "trtready"})
            if result.report.target.name == "torch-trt-ts":
                torch.jit.save(trace(module, args, kwargs), str(dest / "model.ts"))
                mark_zip(dest / "model.ts", "fix")

    if result.in_background is not None:  # convert: written while TensorRT builds from model.onnx
        result.in_background(the_rest)
    else:
        the_rest()
    if result.folder_report:
        write_json(fix_report_json(result), dest / "report.json")
    return sorted(dest.iterdir())


def _dedupe_shared(state: dict[str, Any]) -> dict[str, Any]:
    """safetensors refuses tensors sharing storage (tied weights): clone the later ones."""
    seen: set[int] = set()
    out = {}
    for k, v in state.items():
        ptr = v.untyped_storage().data_ptr() if v.numel() else -1
        out[k] = v.clone() if ptr in seen else v
        if ptr != -1:
            seen.add(ptr)
    return out
