"""The two test tiers: ``make test`` and the full tier that CI runs."""

from __future__ import annotations

import os

import pytest

#: The full tier: ``TRTREADY_TIER=full`` (``make test-full``; CI) also runs the tests marked ``full_tier``
#: — the whole zoo, fuzz at scale, ONNX's backend conformance cases, a served Triton, a Ray cluster, the
#: checks that each hostile fixture is a live attack, the whole hostile payload x verb matrix, every bad
#: input through ``fix``. ``make test`` runs the rest: every layer and verb, a zoo subset, a fuzz sample,
#: each hostile payload through one verb (rotated), a third of the bad inputs through ``fix``. A full-tier test is skipped, never dropped, so the collected count (the
#: floor tests/conftest.py checks) is the same in both.
FULL_TIER = os.environ.get("TRTREADY_TIER", "").lower() == "full"


def full_tier_only(reason: str) -> pytest.MarkDecorator:
    """Skip outside the full tier, saying why the test lives there (what makes it slow)."""
    return pytest.mark.skipif(not FULL_TIER, reason=f"full tier only (TRTREADY_TIER=full): {reason}")
