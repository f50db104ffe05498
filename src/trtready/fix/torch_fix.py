"""fix for PyTorch models: state narrowing, one ONNX translation, ONNX narrowing, verification.

From a spec or ``.pt2`` it writes a folder ``OUT/`` with ``model.pt2`` (the state-narrowed
ExportedProgram), ``state_dict.safetensors``, ``model.onnx`` (+ ``.data``) and ``report.json``
(plus ``model.ts`` for the torch-trt-ts target). The ONNX translation runs once, on the narrowed
program (DESIGN.md, performance principles).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from trtready.audit import AuditReport, audit_loaded
from trtready.audit.findings import Layer
from trtready.errors import UnsafeInputError, UnsafeNarrowingError
from trtready.fix import FixRequest, FixResult
from trtready.load import LoadedModel, ModelKind
from trtready.load.capture import example_inputs
from trtready.plan import Action, Decision, PlanOptions, refuse_any
from trtready.verify.inputs import torch_input_specs


def _refuse_proved_overflow(report: AuditReport, options: PlanOptions) -> None:
    """Refuse early, before any export, a graph value proved to exceed int32 on a target without int64."""
    profile = report.target.profile
    if profile.handles_int64 and not options.strict:
        return
    for f in report.findings:
        if f.layer is Layer.FX and f.dtype == "int64" and f.interval is not None and not f.interval.fits_int32():
            raise UnsafeNarrowingError(
                f"refused: tensor {f.tensor} ({f.producer or f.role.value}, {f.where}) reaches "
                f"{f.interval.worst_int32_violation()}, outside int32; {profile.name} cannot hold int64"
                + (" (--strict)" if options.strict and profile.handles_int64 else "")
            )


def fix_torch(loaded: LoadedModel, req: FixRequest) -> FixResult:
    from trtready.narrow.state import plan_state

    report = AuditReport(audit_loaded(loaded, req.bounds, req.ranges), req.target)
    decisions = plan_state(report.findings, req.target.profile, req.options)
    refuse_any(decisions)
    if loaded.exported is not None:
        _refuse_proved_overflow(report, req.options)
    result = FixResult(report, decisions, dry_run=req.dry_run)
    if loaded.kind in (ModelKind.CHECKPOINT, ModelKind.SAFETENSORS, ModelKind.TORCHSCRIPT) or (
        loaded.module is not None and loaded.exported is None
    ):
        result.notes.append("no graph: state narrowed only, verification skipped")
        if loaded.kind is ModelKind.TORCHSCRIPT and loaded.module is None and not req.dry_run:
            raise UnsafeInputError(
                f"{loaded.source}: writing a narrowed TorchScript archive needs torch.jit.load, which runs the "
                "archive's code; pass --trust-code only if you trust the file's author (audit needs no such flag)"
            )
        if not req.dry_run:
            result.writer = lambda dest: _write_state_only(loaded, dest, decisions)
        return result
    if req.dry_run:
        return result
    return _fix_program(loaded, req, result)


def _write_state_only(loaded: LoadedModel, dest: Path, decisions: list[Decision]) -> list[Path]:
    """The narrowed state in the input's own format, at ``dest``, marked as trtready's."""
    import torch

    from trtready.narrow.state import narrow_module_state, narrow_state_dict
    from trtready.outputs import mark_zip

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if loaded.kind is ModelKind.TORCHSCRIPT:
            for d in decisions:
                if d.action is Action.NARROW:
                    name = d.finding.removeprefix("state:")
                    owner_path, _, attr = name.rpartition(".")
                    owner = loaded.module.get_submodule(owner_path) if owner_path else loaded.module
                    t = getattr(owner, attr)
                    setattr(owner, attr, t.to(torch.int32 if t.dtype == torch.int64 else torch.float32))
            torch.jit.save(loaded.module, str(dest))
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
    import torch

    from trtready.export.exporter import to_onnx
    from trtready.narrow.onnx_model import apply_plan, plan_model
    from trtready.narrow.state import narrow_module_state
    from trtready.verify.run import verify_runners
    from trtready.verify.runners import OrtRunner, TorchRunner

    ep = loaded.exported
    module = loaded.module if loaded.module is not None else ep.module()
    narrowed_module = narrow_module_state(module, result.decisions)
    args, kwargs = (loaded.args, loaded.kwargs) if loaded.args else example_inputs(ep)
    specs, names = torch_input_specs(ep, args, req.ranges)
    bounds = req.bounds
    common = {"bounds": bounds, "trials": req.trials, "rtol": req.rtol, "atol": req.atol, "feeds": req.feeds,
              "limits": req.limits}
    try:
        with torch.no_grad():
            narrowed_module(*args, **kwargs)  # eager check: export's fake tensors miss dtype clashes
    except Exception as e:  # the narrowed state broke forward (e.g. forward casts to float64 itself)
        result.notes.append(f"state narrowing undone: forward failed with it ({type(e).__name__})")
        result.decisions = [
            Decision(d.finding, Action.KEEP, "forward needs it as float64; narrowed in the ONNX graph instead")
            if d.action is Action.NARROW and d.finding.startswith("state:") and _is_float64(result, d.finding) else d
            for d in result.decisions
        ]
        narrowed_module = narrow_module_state(module, result.decisions)
    narrowed_ep = _narrow_program(ep, args, kwargs, req, result)
    examples = {s.name: list(s.example) for s in specs if s.example is not None}
    onnx_model = to_onnx(narrowed_ep, bounds, examples, req.input_names, req.output_names)
    narrowing = plan_model(onnx_model, result.report.target.profile, req.options, bounds, req.ranges)
    result.decisions += narrowing.decisions
    output_names = [v.name for v in onnx_model.graph.outputs]
    onnx_narrowed = apply_plan(onnx_model, narrowing)
    if req.verify:
        ref = TorchRunner(module, names)
        result.verification.append(verify_runners(
            ref, TorchRunner(narrowed_ep.module(), names), specs, output_names,
            labels=("original module (PyTorch)", "narrowed ExportedProgram (PyTorch)"), **common))
        result.verification.append(verify_runners(
            ref, OrtRunner(onnx_narrowed, dict(zip(names, req.input_names or names))), specs, output_names,
            labels=("original module (PyTorch)", "narrowed ONNX (ONNX Runtime)"), **common))
        if not all(result.verification):
            result.notes.append("verification failed: nothing written")
            return result
    else:
        result.notes.append("verification skipped (--no-verify)")
    result.writer = lambda dest: _write_folder(dest, narrowed_ep, narrowed_module, onnx_narrowed, result, args)
    return result


def _narrow_program(ep: Any, args: tuple[Any, ...], kwargs: dict[str, Any], req: FixRequest, result: FixResult) -> Any:
    """State and graph narrowing on the audit's program, then one re-export.

    The state decisions are applied to the program's own module, the graph pass (int64 made in
    forward → int32 where proved) runs on the same module, and ``torch.export`` runs once more to
    give the narrowed ExportedProgram: one capture instead of one per stage.
    """
    from trtready.intervals.fx import propagate
    from trtready.intervals.roles import fx_input_roles, ranges_from_roles
    from trtready.load.capture import capture
    from trtready.narrow.state import narrow_module_state
    from trtready.passes.fx_narrow_int64 import NarrowFxInt64Pass

    state_changed = any(d.action is Action.NARROW and d.finding.startswith("state:") for d in result.decisions)
    gm = narrow_module_state(ep.module(), result.decisions)
    intervals = propagate(ep, ranges_from_roles(fx_input_roles(ep), req.ranges))
    res = NarrowFxInt64Pass(intervals)(gm)
    narrowed = set(res.narrowed)
    for f in result.report.findings:
        if f.layer is Layer.FX and f.dtype == "int64" and f.tensor in narrowed:
            result.decisions.append(Decision(f.id, Action.NARROW, f"proved {f.interval} fits int32 (PyTorch graph)"))
    if not res.modified and not state_changed:
        return ep
    return capture(res.graph_module, args, kwargs, req.bounds)


def _is_float64(result: FixResult, finding_id: str) -> bool:
    return any(f.id == finding_id and f.dtype == "float64" for f in result.report.findings)


def _write_folder(dest: Path, ep: Any, module: Any, onnx_model: Any, result: FixResult, args: tuple[Any, ...]) -> list[Path]:
    """model.pt2, state_dict.safetensors, model.onnx (+ .data), report.json (+ model.ts) into ``dest``."""
    import torch
    from safetensors.torch import save_file

    from trtready.outputs import mark_zip, save_onnx, write_json
    from trtready.report.json_report import fix_report_json

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.export.save(ep, str(dest / "model.pt2"))
        mark_zip(dest / "model.pt2", "fix")
        state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
        save_file(_dedupe_shared(state), str(dest / "state_dict.safetensors"), metadata={"written_by": "trtready"})
        save_onnx(onnx_model, dest / "model.onnx", "fix")
        if result.report.target.name == "torch-trt-ts":
            traced = torch.jit.trace(module, args, check_trace=False)
            torch.jit.save(traced, str(dest / "model.ts"))
            mark_zip(dest / "model.ts", "fix")
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
