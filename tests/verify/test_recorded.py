"""A side shared by several comparisons runs once per trial (verify.run.Recorded)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest

from trtready.bounds import parse_dynamic
from trtready.intervals.roles import onnx_input_roles
from trtready.verify.inputs import onnx_input_specs
from trtready.verify.run import Recorded, verify_runners


class Counting:
    """y = table[x] + shift: a runner whose calls are counted; an index past the table raises."""

    def __init__(self, shift: float = 0.0) -> None:
        self.calls = 0
        self.shift = shift
        self.table = np.arange(28, dtype=np.float32).reshape(7, 4)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.calls += 1
        x = feeds["x"]
        if x.max() >= 7:
            raise IndexError(f"index {x.max()} is out of bounds for a table of 7 rows")
        return [self.table[x] + self.shift]

    def cancel(self) -> None:
        pass


def _specs() -> list:
    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[B, S] x) => (float[B, S, 4] y) <float[7, 4] table = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
      0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}> {
      y = Gather(table, x)
    }
    """)
    return onnx_input_specs(model, onnx_input_roles(model.graph))


def test_each_distinct_feed_set_runs_once_and_an_error_is_raised_again_without_a_run() -> None:
    inner = Counting()
    rec = Recorded(inner)
    a = {"x": np.array([[0, 1]], dtype=np.int64)}
    first = rec.run(a)
    again = rec.run({"x": np.array([[0, 1]], dtype=np.int64)})  # equal values, another array
    assert inner.calls == 1 and rec.runs == 1 and again is first
    rec.run({"x": np.array([[1, 0]], dtype=np.int64)})  # other values
    rec.run({"x": np.array([[0, 1]], dtype=np.int32)})  # same values, other dtype: another input
    assert inner.calls == 3
    bad = {"x": np.array([[7]], dtype=np.int64)}
    for _ in range(2):
        with pytest.raises(IndexError, match="out of bounds"):
            rec.run(bad)
    assert inner.calls == 4


def test_outputs_past_the_budget_are_not_kept() -> None:
    inner = Counting()
    rec = Recorded(inner, budget=2 * 4 * 4)  # one [1, 2, 4] float32 output: 32 bytes
    a, b = {"x": np.array([[0, 1]], dtype=np.int64)}, {"x": np.array([[2, 3]], dtype=np.int64)}
    rec.run(a), rec.run(b), rec.run(a), rec.run(b)
    assert inner.calls == 3  # a kept, b over what was left: run again


def test_a_shared_reference_runs_once_per_trial_and_the_comparisons_are_unchanged() -> None:
    specs = _specs()
    bounds = parse_dynamic(["x:0=B[1:4],1=S[2:9]"])
    common = {"bounds": bounds, "trials": 4}
    plain_ref = Counting()
    def whole(c):  # every output of every trial, with its dims, tolerances and result
        return c.to_json(), [o.to_json() for o in c.outputs]

    expected = [whole(verify_runners(plain_ref, Counting(shift), specs, ["y"], **common)) for shift in (0.0, 1e-3)]
    assert plain_ref.calls == 2 * (4 + 1)  # per comparison: 4 trials and the out-of-range probe

    inner = Counting()
    ref = Recorded(inner)
    got = [whole(verify_runners(ref, Counting(shift), specs, ["y"], **common)) for shift in (0.0, 1e-3)]
    assert inner.calls == 4 + 1
    assert got == expected  # the same trials, outputs, tolerances, probe results and verdicts
    assert [g["passed"] for g, _ in got] == [True, False] and len(got[0][1]) == 4
    assert "raises (index 7 is out of bounds" in got[0][0]["probes"][0]["results"]["reference"]
