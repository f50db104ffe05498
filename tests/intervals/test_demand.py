"""Demanded ranges: what valid inputs must respect so that every index stays inside its table.

Each rule is a necessary condition: an input element outside the demand makes some index invalid,
so ONNX Runtime (or PyTorch) refuses the run. The tests check both halves against the runtime: the
bounds of the demand are valid where the rule is tight, and every input the runtime accepts lies
inside the demand (a property test over random inputs).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.onnx_models import runs
from trtready.analysis import FxAnalysis, OnnxAnalysis
from trtready.intervals import Interval
from trtready.intervals.demand import onnx_demands
from trtready.intervals.onnx import propagate
from trtready.load.onnx_file import infer_shapes


def _model(body: str, inits: str, rows: int = 66, inp: str = "int64[N, S] m") -> ir.Model:
    text = f"""
    <ir_version: 10, opset_import: ["" : 20]>
    g ({inp}) => (float[N, S, 2] y)
    <float[{rows}, 2] table = {{{", ".join(["0.5"] * rows * 2)}}}{inits}> {{
      {body}
      y = Gather<axis=0>(table, idx)
    }}
    """
    model = ir.from_onnx_text(text)
    infer_shapes(model)
    return model


def _demand(model: ir.Model, dims: dict[str, Interval] | None = None) -> Interval | None:
    env = propagate(model.graph, {}, dims or {})
    d = onnx_demands(model.graph, env, dims or {}).get("m")
    return d.interval if d is not None else None


def _runs(model: ir.Model, m: np.ndarray) -> bool:
    """ONNX Runtime accepts the input (every index inside the table)."""
    return runs(model, {"m": m})


OPT = """
      cs = CumSum(m, ax)
      p = Mul(cs, m)
      q = Sub(p, one)
      idx = Add(q, two)
"""
OPT_INITS = ", int64 ax = {1}, int64 one = {1}, int64 two = {2}"


def test_opt_positions_demand_the_mask_within_twice_the_table() -> None:
    model = _model(OPT, OPT_INITS)
    # cumsum(m) * m must lie in [-66 - 1, 65 - 1] (Gather allows [-66, 66)): |m| <= 2 * 67
    assert _demand(model) == Interval(-134, 134)
    assert _runs(model, np.array([[1, 1, 1, 0]], dtype=np.int64))  # a real mask
    assert not _runs(model, np.array([[12, 0, 0, 0]], dtype=np.int64))  # 12 * 12 + 1 = 145: past the table


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-300, 300), min_size=1, max_size=6))
def test_every_mask_onnx_runtime_accepts_lies_inside_the_demand(values: list[int]) -> None:
    model = _model(OPT, OPT_INITS)
    m = np.array([values], dtype=np.int64)
    if _runs(model, m):
        assert all(-134 <= v <= 134 for v in values)


@pytest.mark.parametrize("body, inits, expect, inside, outside", [
    ("idx = Sub(m, five)", ", int64 five = {5}", Interval(-61, 70), 70, 71),  # m - 5 in [-66, 65]
    ("idx = Add(m, five)", ", int64 five = {5}", Interval(-71, 60), 60, 61),
    ("idx = Sub(five, m)", ", int64 five = {5}", Interval(-60, 71), 71, 72),
    ("idx = Neg(m)", "", Interval(-65, 66), 66, 67),
    ("idx = Mul(m, m)", "", Interval(-8, 8), 8, 9),  # m * m <= 65
    ("idx = Mul(m, three)", ", int64 three = {3}", Interval(-66, 65), 21, 22),  # |3m| >= |m|: necessary only
    ("c = Cast<to=7>(m)\n      idx = Reshape(c, shape)", ", int64[1] shape = {-1}", Interval(-66, 65), 65, 66),
], ids=["sub", "add", "rsub", "neg", "self-product", "scaled", "cast-reshape"])
def test_each_rule_is_necessary(body: str, inits: str, expect: Interval, inside: int, outside: int) -> None:
    inp = "int32[N, S] m" if "Cast" in body else "int64[N, S] m"
    model = _model(body, inits, inp=inp)
    assert _demand(model) == expect
    dtype = np.int32 if "Cast" in body else np.int64
    assert _runs(model, np.array([[inside]], dtype=dtype))
    assert not _runs(model, np.array([[outside]], dtype=dtype))


@pytest.mark.parametrize("body, inits", [
    ("idx = Min(m, big)", ", int64 big = {3}"),  # clamping loses the bound
    ("z = Mul(m, zero)\n      idx = Add(z, one)", ", int64 zero = {0}, int64 one = {1}"),  # a factor that may be 0
    ("idx = Slice(m, st, en, ax)", ", int64[1] st = {1}, int64[1] en = {3}, int64[1] ax = {1}"),  # drops elements
    ("cs = CumSum<exclusive=1>(m, ax)\n      idx = Mul(cs, m)", ", int64 ax = {1}"),  # the last element is free
])
def test_uses_that_demand_nothing(body: str, inits: str) -> None:
    assert _demand(_model(body, inits)) is None


def test_a_slice_that_keeps_every_element_passes_the_demand() -> None:
    body = "idx = Slice(m, st, en, ax)"
    inits = ", int64[1] st = {0}, int64[1] en = {9223372036854775807}, int64[1] ax = {1}"
    assert _demand(_model(body, inits)) == Interval(-66, 65)


def test_demands_from_two_tables_intersect_and_only_moves_are_exact() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[N] m) => (float[N, 2] a, float[N, 2] b)
    <float[10, 2] t1 = {0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}, float[40, 2] t2 = {""" + ", ".join(["0"] * 80) + """},
     int64 k = {3}> {
      a = Gather<axis=0>(t1, m)
      s = Add(m, k)
      b = Gather<axis=0>(t2, s)
    }
    """
    model = ir.from_onnx_text(text)
    infer_shapes(model)
    a = OnnxAnalysis.of(model)
    d = a.demands["m"]
    assert d.interval == Interval(-10, 9) and d.table == "t1" and d.exact  # t2 allows [-43, 36]
    assert a.inputs["m"] == Interval(-10, 9)
    strict = OnnxAnalysis.of(model, assume_valid=False)
    assert strict.demands == {} and "m" not in strict.inputs


def test_the_analysis_assumes_the_demand_and_bounds_what_follows() -> None:
    model = _model(OPT, OPT_INITS)
    a = OnnxAnalysis.of(model, input_ranges=None)
    d = a.demands["m"]
    assert not d.exact and d.rows == 66 and d.path[0].startswith("Mul")
    assert "valid inputs index inside the tables" in d.statement("m")
    cs = next(v for n in model.graph for v in n.outputs if v.name == "cs")
    assert a.interval(cs) is None  # the cumsum's length is not bounded here: still unknown
    given = OnnxAnalysis.of(_model(OPT, OPT_INITS), input_ranges={"m": Interval(0, 1)})
    assert given.demands == {}  # the user's range wins


class OptPositions(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pos = torch.nn.Embedding(66, 4)
        self.tok = torch.nn.Embedding(50, 4)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        positions = (torch.cumsum(mask, dim=1) * mask - 1)[:, 0:]
        pooled = ids.to(torch.int32).argmax(-1)  # another use of ids: it is no index role any more
        return self.tok(ids) + self.pos(positions + 2) + pooled[:, None, None]


def test_pytorch_programs_get_the_same_demands() -> None:
    seq = torch.export.Dim("seq", min=2, max=32)
    ids, mask = torch.randint(0, 50, (2, 8)), torch.ones(2, 8, dtype=torch.int64)
    ep = torch.export.export(OptPositions(), (ids, mask), dynamic_shapes=({1: seq}, {1: seq}))
    a = FxAnalysis.of(ep)
    assert a.roles["ids"].kind == "unknown"
    assert a.demands["ids"].interval == Interval(0, 49) and a.demands["ids"].exact  # embedding: no negatives
    assert a.demands["mask"].interval == Interval(-2 * 64, 2 * 64)  # cumsum(m) * m + 1 in [0, 65]
    assert FxAnalysis.of(ep, assume_valid=False).demands == {}
    with pytest.raises(IndexError):  # such an input is invalid in PyTorch itself
        OptPositions()(ids, torch.full((2, 8), 9))
