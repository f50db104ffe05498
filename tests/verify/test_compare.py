"""Comparison objects: exact integers, stated float tolerances, cross-dtype floats."""

from __future__ import annotations

import numpy as np
import pytest

from trtready.errors import UsageError
from trtready.verify.compare import (
    Comparison,
    compare_arrays,
    compare_runs,
    parse_tolerances,
)


def test_integer_mismatch_names_the_index_and_both_values() -> None:
    ref = np.array([[1, 2], [3, 2**40]], dtype=np.int64)
    cand = ref.copy()
    cand[1, 1] = 2**31 - 1
    r = compare_arrays("ids", ref, cand, 1e-5, 1e-6)
    assert not r and r.exact and r.worst_index == (1, 1)
    assert (r.ref_value, r.cand_value) == (2**40, 2**31 - 1)
    assert "1 element(s) differ" in r.message
    assert compare_arrays("ids", ref, ref.astype(np.int64), 0, 0)


def test_int32_candidate_equal_to_int64_reference_passes_exactly() -> None:
    assert compare_arrays("k", np.arange(5, dtype=np.int64), np.arange(5, dtype=np.int32), 0, 0)


def test_float_tolerance_and_the_atol_that_would_pass() -> None:
    ref = np.array([1.0, 2.0, 3.0], dtype=np.float64)
    cand = (ref + np.array([0, 0, 1e-3])).astype(np.float32)
    r = compare_arrays("y", ref, cand, rtol=1e-5, atol=1e-6)
    assert not r and r.worst_index == (2,) and r.dtype_ref == "float64" and r.dtype_cand == "float32"
    assert r.required_atol == pytest.approx(1e-3 - 3e-5, rel=1e-3)
    assert compare_arrays("y", ref, cand, rtol=1e-5, atol=r.required_atol * 1.01)


def test_per_output_tolerances_and_comparison_truthiness() -> None:
    assert parse_tolerances(["1e-3", "logits:0.5"], 1e-5) == (1e-3, {"logits": 0.5})
    with pytest.raises(UsageError):
        parse_tolerances(["logits:abc"], 1e-5)
    outs = compare_runs([np.ones(2), np.zeros(2, np.int64)], [np.ones(2) * 1.1, np.zeros(2, np.int64)],
                        ["logits", "pred"], atol=(1e-6, {"logits": 0.2}))
    cmp = Comparison("a", "b", outs, 1)
    assert cmp and [o.name for o in cmp.worst_per_output()] == ["logits", "pred"]
    assert not Comparison("a", "b", compare_runs([np.ones(2)], [np.ones(3)], ["x"]), 1)
