"""fix for PyTorch models: state narrowing, one ONNX translation, ONNX narrowing, verification.

From a spec or ``.pt2`` it writes a folder ``OUT/`` with ``model.pt2`` (the state-narrowed
ExportedProgram), ``state_dict.safetensors``, ``model.onnx`` (+ ``.data``) and ``report.json``
(plus ``model.ts`` for the torch-trt-ts target). The ONNX translation runs once, on the narrowed
program (docs/design.md, performance principles).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from trtready.audit import AuditReport, audit_loaded
from trtready.errors import UnsafeInputError
from trtready.fix import FixRequest, FixResult
from trtready.load import LoadedModel, ModelKind
from trtready.plan import Action, Decision, refuse_any
from trtready.verify.inputs import torch_input_specs


def fix_torch(loaded: LoadedModel, req: FixRequest) -> FixResult:
    from trtready.plan.fx_plan import refuse_proved_overflow
    from trtready.plan.state_plan import plan_state

    report = AuditReport(audit_loaded(loaded, req.bounds, req.ranges, not req.options.strict), req.target)
    if loaded.capture_error is not None:  # a spec's graph is the point: never fall back to its state alone
        raise loaded.capture_error
    decisions = plan_state(report.findings, req.target.profile, req.options)
    refuse_any(decisions)
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

    from trtready.narrow.state import narrow_module_state, narrow_state_dict
    from trtready.outputs import mark_zip

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if loaded.kind is ModelKind.TORCHSCRIPT:
            assert loaded.module is not None
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
    """State and graph narrowing, one re-export, one ONNX translation, ONNX narrowing, verification.

    With ``dry_run`` it stops after the ONNX plan: the decisions are those the real run takes.
    """
    import torch

    from trtready.analysis import OnnxAnalysis
    from trtready.audit import audit_translation
    from trtready.load.capture import CallLayout
    from trtready.narrow.onnx_model import apply_plan, apply_rewrites
    from trtready.narrow.state import narrow_module_state
    from trtready.plan.onnx_plan import plan_onnx
    from trtready.plan.state_plan import keep_float64_read_as_float64

    ep = loaded.exported
    assert ep is not None, "captured by the audit"
    module = loaded.module if loaded.module is not None else ep.module()
    layout = CallLayout.of(ep, *loaded.example())
    args, kwargs = layout.example_arguments()
    fx = result.report.result.fx_analysis
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
    onnx_model = _translate(narrowed_ep, ep, req, examples)
    analysis = OnnxAnalysis.of(onnx_model, _renamed(req.bounds, layout, req.input_names), req.ranges,
                                 not req.options.strict)
    audit_translation(result.report.result, analysis)  # every ONNX decision points at a finding
    result.decisions += apply_rewrites(onnx_model, analysis)
    plan = plan_onnx(analysis, result.report.target.profile, req.options)
    result.decisions += plan.decisions
    if req.dry_run:
        return result
    output_names = [v.name for v in onnx_model.graph.outputs]
    onnx_narrowed = apply_plan(plan)
    if req.verify:
        _verify(module, narrowed_ep, onnx_narrowed, ep, layout, specs, output_names, req, result, examples)
        if not all(result.verification):
            result.notes.append("verification failed: nothing written")
            return result
    else:
        result.notes.append("verification skipped (--no-verify)")
    result.writer = lambda dest: _write_folder(dest, narrowed_ep, narrowed_module, onnx_narrowed, result, args, kwargs)
    return result


def _translate(narrowed_ep: Any, original_ep: Any, req: FixRequest, examples: dict[str, list[int]]) -> Any:
    """The one torch.onnx translation; a failure is torch.onnx's when the unmodified program fails too."""
    from trtready.errors import NarrowingError, TrtReadyError, UpstreamError, first_line, upstream_reason
    from trtready.export.exporter import to_onnx

    try:
        return to_onnx(narrowed_ep, req.bounds, examples, req.input_names, req.output_names)
    except TrtReadyError:
        raise
    except Exception as e:  # torch.onnx raises many types
        if narrowed_ep is not original_ep:
            try:
                to_onnx(original_ep, req.bounds, examples, req.input_names, req.output_names)
            except Exception:  # noqa: BLE001 - the unmodified program fails the same way: upstream
                pass
            else:
                raise NarrowingError(f"the narrowed program fails torch.onnx.export while the unmodified one "
                                     f"translates ({first_line(e)}); nothing written") from e
        raise UpstreamError("torch.onnx.export", upstream_reason(e),
                            "a plain torch.onnx.export(..., dynamo=True) of the unmodified model fails the same way") from e


def _verify(module: Any, narrowed_ep: Any, onnx_narrowed: Any, original_ep: Any, layout: Any, specs: list[Any],
            output_names: list[str], req: FixRequest, result: FixResult, examples: dict[str, list[int]]) -> None:
    """PyTorch vs narrowed program, PyTorch vs narrowed ONNX; a mismatch of the ONNX side is judged
    against the unmodified export on the same inputs (is it narrowing's doing, or the export's?)."""
    from trtready.verify.run import verify_runners
    from trtready.verify.runners import OrtRunner, TorchRunner

    from trtready.verify.run import depth_of_program

    common: dict[str, Any] = {"bounds": req.bounds, "trials": req.trials, "rtol": req.rtol, "atol": req.atol, "feeds": req.feeds,
              "limits": req.limits, "depth": depth_of_program(original_ep)}
    names = [n for n, _ in layout.tensors]
    input_map = dict(zip(names, req.input_names or names))
    ref = TorchRunner(module, layout, program=original_ep, limits=req.limits)
    result.verification.append(verify_runners(
        ref, TorchRunner(narrowed_ep.module(), layout, program=narrowed_ep, limits=req.limits), specs, output_names,
        labels=("original module (PyTorch)", "narrowed ExportedProgram (PyTorch)"), **common))
    candidate = OrtRunner(onnx_narrowed, input_map, limits=req.limits)
    onnx_cmp = verify_runners(ref, candidate, specs, output_names,
                              labels=("original module (PyTorch)", "narrowed ONNX (ONNX Runtime)"), **common)
    result.verification.append(onnx_cmp)
    if onnx_cmp or not result.verification[0]:
        return
    from trtready.export.exporter import to_onnx

    unmodified = OrtRunner(to_onnx(original_ep, req.bounds, examples, req.input_names, req.output_names), input_map,
                           limits=req.limits)
    export_cmp = verify_runners(ref, unmodified, specs, output_names,
                                labels=("original module (PyTorch)", "unmodified export (ONNX Runtime)"), **common)
    same = verify_runners(unmodified, candidate, specs, output_names,
                          labels=("unmodified export (ONNX Runtime)", "narrowed ONNX (ONNX Runtime)"), **common)
    if not export_cmp and same:
        worst = max(export_cmp.worst_per_output(), key=lambda o: o.max_abs)
        onnx_cmp.excused = (
            f"the unmodified export differs from PyTorch the same way (max abs {worst.max_abs:.3g} in {worst.name}): "
            "the difference is upstream (torch.onnx / ONNX Runtime); the narrowed ONNX matches the unmodified "
            "export within tolerance"
        )
        result.verification.append(same)
        result.notes.append(onnx_cmp.excused)
    else:
        result.notes.append("the unmodified export matches PyTorch on the same inputs: the mismatch comes from narrowing"
                            if export_cmp else "the narrowed ONNX also differs from the unmodified export")


def _narrow_program(fx: Any, args: tuple[Any, ...], kwargs: dict[str, Any], req: FixRequest,
                    result: FixResult) -> Any:
    """State and graph narrowing on the audit's program, then one re-export.

    The state decisions are applied to the program's own module, the planned int32 region of the
    graph (:func:`trtready.plan.fx_plan.plan_fx`) on the same module, and ``torch.export`` runs once
    more to give the narrowed ExportedProgram: one capture instead of one per stage.
    """
    from trtready.errors import NarrowingError, TrtReadyError, first_line
    from trtready.load.capture import capture
    from trtready.narrow.state import narrow_module_state
    from trtready.passes.fx_narrow_int64 import NarrowFxInt64Pass
    from trtready.plan.fx_plan import plan_fx

    ep = fx.program
    state_changed = any(d.action is Action.NARROW and d.finding.startswith("state:") for d in result.decisions)
    plan = plan_fx(fx, result.report.findings)
    result.decisions += plan.decisions
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


def _renamed(bounds: list[Any], layout: Any, input_names: list[str] | None) -> list[Any]:
    """``--dynamic`` bounds under the ONNX input names (``--input-names`` renames forward's)."""
    from trtready.bounds import DimBound

    if not input_names:
        return bounds
    rename = dict(zip([n for n, _ in layout.tensors], input_names))
    return [DimBound(rename.get(b.input, b.input), b.axis, b.dim, b.lo, b.hi) for b in bounds]


def _write_folder(dest: Path, ep: Any, module: Any, onnx_model: Any, result: FixResult, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> list[Path]:
    """model.pt2, state_dict.safetensors, model.onnx (+ .data), report.json (+ model.ts) into ``dest``."""
    import torch
    from safetensors.torch import save_file

    from trtready.export.exporter import portable, trace
    from trtready.outputs import mark_zip, save_onnx, write_json
    from trtready.report.json_report import fix_report_json

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.export.save(portable(ep), str(dest / "model.pt2"))
        mark_zip(dest / "model.pt2", "fix")
        state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
        save_file(_dedupe_shared(state), str(dest / "state_dict.safetensors"), metadata={"written_by": "trtready"})
        save_onnx(onnx_model, dest / "model.onnx", "fix")
        if result.report.target.name == "torch-trt-ts":
            torch.jit.save(trace(module, args, kwargs), str(dest / "model.ts"))
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
