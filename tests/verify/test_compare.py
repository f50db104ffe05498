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


def test_a_float_output_that_is_zero_in_every_trial_is_named_as_proving_little() -> None:
    """Equal zeros pass, but the comparison says so: a model whose activations vanish is not shown right."""
    zeros, small = np.zeros((2, 3), np.float32), np.full((2, 3), 1e-30, np.float32)
    ids = np.arange(6, dtype=np.int64).reshape(2, 3)
    cmp = Comparison("ref", "cand")
    for ref_out in (zeros, zeros):  # two trials, y zero in both
        cmp.outputs += compare_runs({"y": ref_out, "z": small, "i": np.zeros_like(ids)},
                                    {"y": ref_out.copy(), "z": small.copy(), "i": np.zeros_like(ids)}, ["y", "z", "i"])
    assert cmp.passed and cmp.vanished() == ["y"]  # z is tiny but not zero; integers are exact, never "vanished"
    cmp.outputs += compare_runs({"y": np.ones((2, 3), np.float32), "z": small, "i": ids},
                                {"y": np.ones((2, 3), np.float32), "z": small, "i": ids}, ["y", "z", "i"])
    assert cmp.vanished() == []  # one trial where y is not zero: the comparison showed something


def test_verify_says_when_the_reference_is_zero_everywhere(tmp_path) -> None:
    import onnx
    from onnx import TensorProto, helper

    from tests.conftest import run_cli

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "zero"], ["y"])], "g", [x], [y], [zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "a.onnx")
    onnx.save(model, tmp_path / "b.onnx")
    res = run_cli("verify", str(tmp_path / "a.onnx"), str(tmp_path / "b.onnx"), "--dynamic", "x:0=n[1:4]")
    assert res.code == 0, res.stderr
    assert "output y is 0 everywhere in the reference on every trial" in " ".join(res.stdout.split())
