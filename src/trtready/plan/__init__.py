"""Plan: a decision — narrow, keep (why) or refuse (why) — for every finding, before any edit.

``audit`` and ``fix --dry-run`` show the same decisions because both come from here (docs/design.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from trtready.decision import Action as Action  # re-exported: the plan's decisions, a ground-floor value
from trtready.decision import Decision as Decision
from trtready.errors import UnsafeNarrowingError


@dataclass(frozen=True)
class PlanOptions:
    """What the user asked for (docs/cli.md "Keep, narrow or refuse").

    Attributes:
        strict: refuse instead of keeping any 64-bit value not proved to fit.
        io_int32: narrow integer graph inputs/outputs too (forces proof for them).
        allow_underflow: accept float64 values that underflow to 0 in float32.
    """

    strict: bool = False
    io_int32: bool = False
    allow_underflow: bool = False


def refuse_any(decisions: list[Decision]) -> None:
    """Raise for the first ``refuse`` decision (one line: tensor, producer, value), counting the rest."""
    refused = [d for d in decisions if d.action is Action.REFUSE]
    if refused:
        more = f" (+{len(refused) - 1} more)" if len(refused) > 1 else ""
        raise UnsafeNarrowingError(refused[0].reason + more)
