"""Default float tolerances scale with the output and the depth; masked-only differences are excused."""

from __future__ import annotations

import numpy as np

from trtready.verify.compare import DEFAULT_ATOL, Comparison, compare_runs, scaled_atol


def test_scaled_atol_grows_with_magnitude_and_depth() -> None:
    small, _ = scaled_atol(np.array([1e-3, -2e-3]), depth=1)
    assert small == DEFAULT_ATOL  # never below the stated floor
    big, basis = scaled_atol(np.array([100.0, -50.0]), depth=16)
    assert big == 4 * 2.0**-23 * 100.0 * 4 and "√depth (16)" in basis


def test_a_given_atol_is_used_as_given() -> None:
    ref = np.zeros((2, 3), np.float32)
    ref[0, 0] = 100.0  # the output's magnitude; the zeros carry the difference (rtol cannot cover it)
    cand = ref + np.float32(1e-4)
    scaled = compare_runs([ref], [cand], ["y"], depth=16)[0]
    given = compare_runs([ref], [cand], ["y"], atol=(1e-6, {}), depth=16)[0]
    assert scaled.passed and scaled.atol_basis.startswith("scaled")
    # 1e-6 is the default value: a per-output override is how a user pins it
    pinned = compare_runs([ref], [cand], ["y"], atol=(DEFAULT_ATOL, {"y": 1e-6}), depth=16)[0]
    assert not pinned.passed and pinned.atol_basis == "given"
    assert given.passed == scaled.passed


def test_difference_only_at_padded_positions_is_excused_and_said() -> None:
    mask = np.array([[1, 1, 1], [1, 0, 0]])
    ref = np.zeros((2, 3, 4), np.float32)
    cand = ref.copy()
    cand[1, 2, :] = 1.0  # a padded query row
    out = compare_runs([ref], [cand], ["h"], feeds={"attention_mask": mask}, masks=["attention_mask"])[0]
    assert not out.passed and out.padded_only
    cmp = Comparison("a", "b", [out])
    cmp.excuse_padded()
    assert bool(cmp) and not cmp.passed and "pads" in cmp.excused
    cand[0, 1, 0] = 1.0  # now also at a real token: a real mismatch
    out = compare_runs([ref], [cand], ["h"], feeds={"attention_mask": mask}, masks=["attention_mask"])[0]
    cmp = Comparison("a", "b", [out])
    cmp.excuse_padded()
    assert not out.padded_only and not bool(cmp)
