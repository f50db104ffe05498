"""``--limit`` values are validated: a limit that is not a positive, finite, representable number is a
usage error (exit 2, one line) — never a deadline that never comes or a bound that bounds nothing."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from trtready.errors import UsageError
from trtready.limits import Limits, parse_limits


@pytest.mark.parametrize("spec", [
    "verify-seconds=nan", "verify-seconds=inf", "verify-seconds=-inf", "verify-seconds=-1", "verify-seconds=0",
    "verify-seconds=1e300", "tensor-elements=0", "tensor-elements=-3", f"tensor-elements={2**63}",
    f"archive-bytes={10**30}", "compression-ratio=nan", "archive-members=1.5",
])
def test_bad_limit_values_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError, match="--limit"):
        parse_limits([spec])


def test_limits_built_in_python_are_validated() -> None:
    for bad in ({"verify_seconds": float("nan")}, {"verify_seconds": float("inf")}, {"tensor_elements": 0},
                {"tensor_elements": 2**64}, {"archive_members": 2.5}):
        with pytest.raises(UsageError):
            Limits(**bad)  # type: ignore[arg-type]
    assert parse_limits([f"tensor-elements={2**63 - 1}", "verify-seconds=2.5"]) == \
        Limits(tensor_elements=2**63 - 1, verify_seconds=2.5)


@pytest.mark.parametrize("spec", ["verify-seconds=nan", "verify-seconds=inf", f"tensor-elements={2**64}"])
def test_bad_limit_on_the_command_line_is_one_line(spec: str) -> None:
    r = run_cli("verify", "trtready.demo:token_model", "trtready.demo:token_model", "--limit", spec)
    assert r.code == 2, (r.code, r.stdout[-300:], r.stderr)
    assert r.stderr.startswith("trtready: error: --limit") and r.stderr.count("\n") == 1, r.stderr
