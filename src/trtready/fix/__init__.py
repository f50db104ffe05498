"""``fix``: audit → plan → narrow → verify → write, for every MODEL form (docs/cli.md "What fix writes")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.audit import AuditReport
from trtready.bounds import DimBound
from trtready.intervals import Interval
from trtready.plan import Action, Decision, PlanOptions
from trtready.targets import ResolvedTarget
from trtready.limits import DEFAULT_LIMITS, Limits
from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison

if TYPE_CHECKING:
    from trtready.export.paths import ExportRecord
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


@dataclass
class FixResult:
    """What ``fix`` decided, verified and wrote; truthy when verification passed (or was skipped)."""

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
    # Writes the result at a path (a file, or for a folder output an existing empty folder) and
    # returns what it wrote; None when there is nothing to write (dry run, failed verification).
    writer: Callable[[Path], list[Path]] | None = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return all(bool(c) for c in self.verification)

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
    from trtready.audit.findings import Layer, op_finding_id

    prefix = op_finding_id(Layer.ONNX, "")
    return [f"not buildable on {target}: {d.reason}" for d in decisions
            if d.action is Action.KEEP and d.finding.startswith(prefix)]
