"""``fix``: audit → plan → narrow → verify → write, for every MODEL form (CLI.md "What fix writes")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtready.audit import AuditReport
from trtready.plan import Action, Decision
from trtready.verify.compare import Comparison


@dataclass
class FixResult:
    """What ``fix`` decided, verified and wrote; truthy when verification passed (or was skipped)."""

    report: AuditReport
    decisions: list[Decision]
    written: list[Path] = field(default_factory=list)
    verification: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    def __bool__(self) -> bool:
        return all(bool(c) for c in self.verification)

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in Action}
        for d in self.decisions:
            out[d.action.value] += 1
        return out
