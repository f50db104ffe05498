"""A decision — narrow, keep, refuse, remove or rewrite, with its reason — as a plain value on the ground
floor: plan/ takes every decision, and the rewrite matchers below the audit describe theirs with it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from trtready.finding_ids import FindingId


class Action(str, enum.Enum):
    NARROW = "narrow"
    KEEP = "keep"
    REFUSE = "refuse"
    REMOVE = "remove"  # a rewrite computes the same result without the tensor (rewrite_matchers.py)
    REWRITE = "rewrite"  # an op the target cannot build is rewritten, proved exact (rewrite_matchers.py)


@dataclass(frozen=True)
class Decision:
    finding: FindingId  # Finding.id
    action: Action
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"finding": self.finding, "action": self.action.value, "reason": self.reason}
