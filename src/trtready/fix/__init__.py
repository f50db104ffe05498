"""``fix``: audit → plan → narrow → verify → write, for every MODEL form (docs/cli.md "What fix writes")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.audit import AuditReport, plugin_summary
from trtready.audit.findings import Finding, Layer, Outcome, op_finding_id
from trtready.bounds import DimBound
from trtready.intervals import Interval
from trtready.limits import DEFAULT_LIMITS, Limits
from trtready.plan import Action, Decision, PlanOptions
from trtready.plan.rewrites import plan_ops
from trtready.targets import ResolvedTarget
from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison

if TYPE_CHECKING:
    from trtready.analysis import OnnxAnalysis
    from trtready.export.paths import ExportRecord
    from trtready.plan.onnx_plan import OnnxPlan
    from trtready.outputs import OutputSession


@dataclass
class FixRequest:
    """Everything ``fix`` was asked to do, parsed once (CLI and Python API alike)."""

    out: Path | None
    target: ResolvedTarget
    options: PlanOptions
    bounds: list[DimBound] = field(default_factory=list)
    ranges: dict[str, Interval] = field(default_factory=dict)
    dry_run: bool = False
    verify: bool = True
    trials: int = 4
    force: bool = False
    rtol: tuple[float, dict[str, float]] = (DEFAULT_RTOL, {})
    atol: tuple[float, dict[str, float]] = (DEFAULT_ATOL, {})
    feeds: dict[str, Any] | None = None
    input_names: list[str] | None = None  # ONNX graph input names (export); None keeps forward's
    output_names: list[str] | None = None  # ONNX graph output names; None: pytree keys or the exporter's
    limits: Limits = DEFAULT_LIMITS
    session: OutputSession | None = None  # outputs checked and locked by the caller (CLI: with --json)
    exporter: str = "auto"  # auto | dynamo | torchscript (trtready.plan.export_plan)
    # convert --baseline: keep the translation before the ONNX plan when it is of the unmodified program,
    # so the baseline's network is read from it rather than from a second translation
    keep_unmodified_onnx: bool = False


@dataclass(frozen=True)
class Verdict:
    """Whether what ``fix`` writes is ready for the target: the one answer the terminal line, the
    exit code and report.json's ``verdict`` all show."""

    ready: bool
    worst: Outcome
    line: str

    def to_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "worst": self.worst.value, "line": self.line, "of": "output"}


@dataclass
class FixResult:
    """What ``fix`` decided, verified and wrote; truthy when verification passed (or was skipped)
    and what it writes is ready for the target (:meth:`verdict`)."""

    report: AuditReport
    decisions: list[Decision]
    written: list[Path] = field(default_factory=list)
    verification: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    # Which export path wrote the ONNX file and why earlier ones were left (PyTorch models only).
    export: ExportRecord | None = None
    # What verification could not run, and why (e.g. ONNX Runtime has no kernel for an op): the
    # verdict is then "verified in PyTorch only", never a refusal. None when nothing was left out.
    unverified: str | None = None
    # What ONNX Runtime ran in float32 for want of a kernel (verify/runners.island_text): the written
    # file was run, those nodes widened; the verdict says so. None when ONNX Runtime ran every node.
    island: str | None = None
    # Writes the result at a path (a file, or for a folder output an existing empty folder) and
    # returns what it wrote; None when there is nothing to write (dry run, failed verification).
    writer: Callable[[Path], list[Path]] | None = field(default=None, repr=False)
    # Whether the writer puts fix's report.json in the folder; convert writes the whole run's instead.
    folder_report: bool = True
    # The ONNX model the writer saved and the files it went to (model.onnx first): what convert's
    # build reads the graph's inputs and recorded bounds from, instead of parsing the file again.
    onnx_written: tuple[Any, list[Path]] | None = field(default=None, repr=False)
    # With ``keep_unmodified_onnx``: the serialized translation of the unmodified program along the path
    # that wrote the file, taken before the ONNX plan; None when the program was narrowed first.
    unmodified_onnx: bytes | None = field(default=None, repr=False)
    # convert: runs the writes after model.onnx (model.pt2, the safetensors) while the engine builds from
    # model.onnx; the caller waits for them before it reports or commits. None: the writer writes everything.
    in_background: Callable[[Callable[[], None]], None] | None = field(default=None, repr=False)

    @property
    def verified(self) -> bool:
        """Every comparison passed (or verification was skipped): the output may be written."""
        return all(bool(c) for c in self.verification)

    def __bool__(self) -> bool:
        return self.verified and self.verdict().ready

    def remaining(self) -> list[Finding]:
        """The findings that still describe what is written, after the decisions.

        The target consumes the ONNX graph (ONNX-based targets, when there is one) or the narrowed
        program and its state (Torch-TensorRT): findings of that representation stay, except those
        narrowed or removed by a decision. A kept value keeps its prediction.
        """
        decided = {d.finding: d.action for d in self.decisions}
        findings = self.report.findings
        layers = {f.layer for f in findings}
        if self.report.target.profile.onnx_based and Layer.ONNX in layers:
            wanted = {Layer.ONNX, Layer.TRT}
        else:
            wanted = {Layer.STATE, Layer.FX, Layer.TRT}
        return [f for f in findings if f.layer in wanted
                and decided.get(f.id) not in (Action.NARROW, Action.REMOVE, Action.REWRITE)]

    def verdict(self) -> Verdict:
        """Ready or not for the target, and the worst problem, of the model ``fix`` writes."""
        name = self.report.target.name
        failed = self.report.result.failed_layers
        if failed:
            layer, why = next(iter(failed.items()))
            return Verdict(False, Outcome.ERROR, f"NOT READY for {name}: could not analyse the {layer} layer ({why})")
        if not self.verified:
            return Verdict(False, Outcome.ERROR, f"NOT READY for {name}: verification failed, nothing written")
        left = [f for f in self.remaining() if name in f.predictions]
        after = "after fix" + (" (dry run)" if self.dry_run else "")
        tensors = [f for f in left if not f.is_index and not f.is_op and not f.is_plugin]
        indices = sum(1 for f in left if f.is_index)
        unproved = f"; {indices} table index(es) not proved inside" if indices else ""
        unproved += plugin_summary(left, name)
        ops = [f for f in left if f.is_op and f.predictions[name].outcome is not Outcome.FINE]
        if not tensors and not indices and not ops:
            return Verdict(True, Outcome.FINE, f"READY for {name} {after}: no 64-bit tensors left{unproved}")
        counts: dict[Outcome, int] = {}
        for f in tensors:
            o = f.predictions[name].outcome
            counts[o] = counts.get(o, 0) + 1
        worst = max([f.predictions[name].outcome for f in left], key=lambda o: o.severity)
        summary = ", ".join(f"{n} {o.value.replace('_', ' ')}"
                            for o, n in sorted(counts.items(), key=lambda x: -x[0].severity))
        if not worst.blocks_ready:
            what = f"{len(tensors)} 64-bit tensors left ({summary})" if tensors else "no 64-bit tensors left"
            return Verdict(True, worst, f"READY for {name} {after}: {what}{unproved}")
        # an op the target cannot build is the most actionable line: it wins a tie with a tensor
        f = max(left, key=lambda f: (f.predictions[name].outcome.severity, f.is_op))
        blocked = f"{len(ops)} op(s) it cannot build" if ops else ""
        what = "; ".join(x for x in (blocked, summary) if x)
        return Verdict(False, worst, f"NOT READY for {name} {after}: {what}; worst: {f.tensor} — "
                                     f"{f.predictions[name].message}")

    def excuses(self) -> list[str]:
        """Every mismatch not counted against the result, with its reason (said on the terminal too)."""
        return [f"{c.candidate} vs {c.reference}: {c.excused}" for c in self.verification if c.excused and not c.passed]

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in Action}
        for d in self.decisions:
            out[d.action.value] += 1
        return out


def unbuildable_notes(decisions: list[Decision], target: str) -> list[str]:
    """One note per ONNX node the target still cannot build after the rewrites (a ``keep`` of an op
    finding): fix writes the model anyway — it is correct, the engine build is what fails."""
    prefix = op_finding_id(Layer.ONNX, "")
    return [f"not buildable on {target}: {d.reason}" for d in decisions
            if d.action is Action.KEEP and d.finding.startswith(prefix)]


def rewrite_and_plan(analysis: OnnxAnalysis, findings: list[Finding], target: ResolvedTarget,
                     options: PlanOptions) -> tuple[list[Decision], OnnxAnalysis, OnnxPlan]:
    """The ONNX stages of every representation, in their order: the exact rewrites (in place), the
    rewritten graph's own analysis, a decision for each op the target still cannot build, then the plan.

    The plan may spend the Cast layers the rewrites removed (its Cast balance), counted on the graph
    before and after them. Returns the rewrite and op decisions (the plan's are ``plan.decisions``), the
    analysis the plan was made on (``analysis`` itself when nothing was rewritten) and the plan.
    """
    from trtready.passes.onnx_model import rewrite_then_analyse
    from trtready.plan.onnx_plan import parser_casts, plan_onnx

    casts = parser_casts(analysis.model.graph)
    rewritten, analysis = rewrite_then_analyse(analysis, target.profile)
    decisions = rewritten + plan_ops(findings, analysis.model, target.profile, rewritten)
    credit = max(0, casts - parser_casts(analysis.model.graph))
    return decisions, analysis, plan_onnx(analysis, target.profile, options, credit)
