"""Audit: find every int64/float64 tensor in a model's state and graphs, and predict each target.

Three layers, each with provenance (docs/design.md): ``state`` (parameters and buffers), ``fx`` (the
torch.export graph) and ``onnx`` (initializers, graph I/O, intermediate values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trtready.analysis import FxAnalysis, OnnxAnalysis
from trtready.audit.findings import (
    AuditResult,
    Finding,
    Kind,
    Layer,
    OpUse,
    Outcome,
    Prediction,
    Role,
)
from trtready.audit.flow import dtype_flow
from trtready.audit.ops import fx_op_findings, onnx_op_findings
from trtready.audit.predict import predict_all
from trtready.bounds import DimBound, check_bound_names
from trtready.dim_fixes import APPLIED
from trtready.errors import UpstreamError
from trtready.intervals import Interval
from trtready.load import LoadedModel
from trtready.load.capture import capture_fitted
from trtready.load.onnx_file import cycle_collection_paused
from trtready.load.state import WIDE_DTYPES
from trtready.signature import program_input_names
from trtready.targets import ResolvedTarget

if TYPE_CHECKING:
    from trtready.analysis import FxAnalysis, OnnxAnalysis

__all__ = ["AuditResult", "Finding", "Kind", "Layer", "OpUse", "Outcome", "Prediction", "Role", "audit_loaded"]


def audit_loaded(
    loaded: LoadedModel,
    bounds: list[DimBound] | None = None,
    input_ranges: dict[str, Interval] | None = None,
    assume_valid: bool = True,
    flow: bool = True,
) -> AuditResult:
    """Audit a loaded model; the ExportedProgram captured on the way is kept on ``loaded``.

    ``assume_valid``: intervals may assume what the model's table lookups demand of valid inputs
    (demanded ranges, stated in the result); ``--strict`` turns it off. ``flow``: draw the dtype-flow
    subgraph (``result.flow``) that only report.json and the HTML report show; a run that writes
    neither skips it (a pass over every value of the graph), and no finding depends on it.
    """
    from trtready.audit.state import audit_state

    bounds = bounds or []
    findings: list[Finding] = []
    layers: dict[str, str] = {}
    notes = list(loaded.notes)

    onnx_analysis: OnnxAnalysis | None = None
    fx_analysis: FxAnalysis | None = None
    if loaded.onnx is not None:
        from trtready.audit.onnx_graph import audit_onnx
        from trtready.audit.plugins import plugin_findings

        graph = loaded.onnx.graph
        check_bound_names([v.name for v in graph.inputs if v.name and v.name not in graph.initializers], bounds, input_ranges or {})
        with cycle_collection_paused():  # a finding and an interval per value: millions of objects at 100k nodes
            onnx_analysis = OnnxAnalysis.of(loaded.onnx, bounds, input_ranges, assume_valid)
            findings += audit_onnx(onnx_analysis)
            findings += onnx_op_findings(loaded.onnx)
            findings += plugin_findings(onnx_analysis)
            findings += _index_findings(onnx_analysis, notes)
        layers["onnx"] = "done"
    else:
        ep = loaded.exported
        if ep is None and loaded.has_example and loaded.module is not None:
            try:
                captured = capture_fitted(loaded.module, loaded.args, loaded.kwargs, bounds)
                ep = loaded.exported = captured.program
                if captured.changes:
                    loaded.fitted_bounds = bounds = captured.bounds
                    notes += [APPLIED + c for c in captured.changes]
            except UpstreamError as e:  # the rest of the report stands; the verdict says what is missing
                loaded.capture_error = e
                layers["fx"] = f"failed: {e}"
        used = None
        if ep is not None:
            from trtready.audit.fx import audit_fx, used_state

            check_bound_names(program_input_names(ep), bounds, input_ranges or {})
            used = used_state(ep)
            fx_analysis = FxAnalysis.of(ep, input_ranges, assume_valid)
            findings += audit_fx(fx_analysis, bounds)
            findings += fx_op_findings(ep, bounds)
            findings += _index_findings(fx_analysis, notes)
            layers["fx"] = "done"
        elif "fx" not in layers:
            layers["fx"] = "skipped: no graph (" + ("no example inputs" if loaded.module is not None else "state only") + ")"
        if loaded.state is not None:
            findings = audit_state(loaded.state, used) + findings
            layers["state"] = "done"
        if loaded.hf is not None:
            _config_only(loaded, layers, notes)
        if ep is not None:
            from trtready.audit.fx import mark_first_use

            mark_first_use(findings, ep)
    predict_all(findings)
    result = AuditResult(loaded.source, loaded.kind.value, loaded.sha256, findings, layers, notes,
                         config_only=loaded.hf.to_json() if loaded.hf is not None else None)
    result.onnx_analysis, result.fx_analysis = onnx_analysis, fx_analysis
    if flow:
        result.flow = dtype_flow(result.onnx_analysis, result.fx_analysis, {f.id for f in findings})
    return result


def _config_only(loaded: LoadedModel, layers: dict[str, str], notes: list[str]) -> None:
    """What a weightless build could not look at is said: no values of parameters, no ONNX, no
    verification. A 64-bit parameter without values is a gap in the state layer (never READY on it)."""
    assert loaded.hf is not None
    notes.append(f"config only: {loaded.hf.model_class} ({loaded.hf.chosen_by}) built without weights — parameters "
                 "on the meta device, their values not read; buffers hold what the model's code builds "
                 "(a checkpoint may store other values)")
    blind = [e.name for e in loaded.state or [] if e.dtype in WIDE_DTYPES and e.read() is None]
    if blind:
        layers["state"] = (f"failed: {len(blind)} 64-bit parameter(s) have no values without weights "
                           f"({', '.join(blind[:3])}{', …' if len(blind) > 3 else ''})")
    layers["onnx"] = "skipped: config only — without weights nothing was exported to ONNX or verified"


def _index_findings(analysis: OnnxAnalysis | FxAnalysis, notes: list[str]) -> list[Finding]:
    """The layer's table lookups whose index is not proved inside (audit/indices.py); a note counts them all."""
    from trtready.analysis import OnnxAnalysis
    from trtready.audit.indices import fx_index_findings, index_summary, onnx_index_findings

    if isinstance(analysis, OnnxAnalysis):
        layer, (found, counts) = "onnx", onnx_index_findings(analysis)
    else:
        layer, (found, counts) = "fx", fx_index_findings(analysis)
    if sum(counts.values()):
        notes.append(f"{layer}: {index_summary(counts)}")
    return found


def audit_translation(result: AuditResult, analysis: OnnxAnalysis) -> None:
    """Add the ONNX layer of a PyTorch model — the graph that fix translated — to its audit, so
    that every decision points at a finding; predictions are made for the new findings."""
    from trtready.audit.onnx_graph import audit_onnx
    from trtready.audit.plugins import plugin_findings

    added = (audit_onnx(analysis) + onnx_op_findings(analysis.model) + plugin_findings(analysis)
             + _index_findings(analysis, result.notes))
    predict_all(added)
    result.findings.extend(added)
    result.layers["onnx"] = "done"
    result.onnx_analysis = analysis

    # the picture follows what the target consumes: the translation, before its ONNX rewrites and narrowing
    result.flow = dtype_flow(analysis, None, {f.id for f in result.findings})


def plugin_summary(findings: list[Finding], target: str) -> str:
    """``; N plugin node(s), K with INT64 inputs``: the plugin boundary in a verdict line."""
    plugins = [f for f in findings if f.is_plugin and target in f.predictions]
    wide = sum(1 for f in plugins if f.predictions[target].outcome is not Outcome.FINE)
    if not plugins:
        return ""
    return f"; {len(plugins)} plugin node(s)" + (f", {wide} with INT64 inputs (see the findings)" if wide else "")


class AuditReport:
    """An :class:`AuditResult` seen from one target: truthy when the model is ready for it."""

    def __init__(self, result: AuditResult, target: ResolvedTarget) -> None:
        self.result = result
        self.target = target

    @property
    def findings(self) -> list[Finding]:
        return self.result.findings

    @property
    def ready(self) -> bool:
        return self.result.ready(self.target.name)

    def __bool__(self) -> bool:
        return self.ready

    def outcome(self, f: Finding) -> Prediction:
        return f.predictions[self.target.name]

    def verdict(self) -> str:
        """One line: ready or not for the target, and the worst problem; a config-only audit says what it
        did not see."""
        line = self._verdict()
        if self.result.config_only is not None:
            line += "; config only: weights not loaded, float values not read, nothing exported or verified"
        return line

    def _verdict(self) -> str:
        name = self.target.name
        counts: dict[Outcome, int] = {}
        for f in self.findings:
            if f.is_index or f.is_plugin:  # counted apart: neither blocks readiness by itself
                continue
            o = f.predictions[name].outcome
            counts[o] = counts.get(o, 0) + 1
        failed = self.result.failed_layers
        if failed:
            layer, why = next(iter(failed.items()))
            return f"NOT READY for {name}: could not analyse the {layer} layer ({why})"
        tensors = sum(1 for f in self.findings if not f.is_op and not f.is_index and not f.is_plugin)
        indices = sum(1 for f in self.findings if f.is_index)
        unproved = f"; {indices} table index(es) not proved inside" if indices else ""
        unproved += plugin_summary(self.findings, name)
        if not tensors and self.ready:
            return f"READY for {name}: no int64/float64 tensors" + unproved + self._ops_elsewhere()
        summary = ", ".join(f"{n} {o.value.replace('_', ' ')}" for o, n in sorted(counts.items(), key=lambda x: -x[0].severity))
        if self.ready:
            return f"READY for {name}: {tensors} 64-bit tensors ({summary})" + unproved + self._ops_elsewhere()
        # an op the target cannot build is the most actionable line: it wins a tie with a tensor
        worst = max(self.findings, key=lambda f: (f.predictions[name].outcome.severity, f.is_op))
        blocked = sum(1 for f in self.findings if f.is_op and f.predictions[name].outcome is Outcome.ERROR)
        ops = f"{blocked} op(s) it cannot build, " if blocked else ""
        return f"NOT READY for {name}: {ops}{summary}; worst: {worst.tensor} — {worst.predictions[name].message}"

    def _ops_elsewhere(self) -> str:
        n = sum(1 for f in self.findings if f.is_op)
        return f"; {n} op(s) that other targets cannot build" if n else ""
