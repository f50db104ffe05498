"""Index bounds: every lookup's index proved inside its axis, or an ``index_unproved`` finding.

The planted models below read a table one row further than it has for some allowed size: ONNX
Runtime and PyTorch raise on them, TensorRT would read zero rows. The finding must name the op, the
index range and the table size; the proved and relational cases must not produce one.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import onnx_ir as ir
import pytest
import torch

from tests.conftest import run_cli
from tests.onnx_models import runs
from trtready.analysis import FxAnalysis, OnnxAnalysis
from trtready.audit.indices import fx_index_findings, onnx_index_findings
from trtready.audit.predict import predict_all
from trtready.bounds import DimBound
from trtready.intervals import Interval
from trtready.report.json_report import schema

PLANTED = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[N, S] x) => (float[S, 2] y)
<float[10, 2] table = {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19}, int64 zero = {0}, int64 one = {1},
 int64 five = {5}> {
  shape = Shape(x)
  s = Gather<axis=0>(shape, one)
  pos = Range(zero, s, one)
  idx = Add(pos, five)
  y = Gather<axis=0>(table, idx)
}
"""


def _analysis(text: str, bounds: list[DimBound]) -> OnnxAnalysis:
    return OnnxAnalysis.of(ir.from_onnx_text(text), bounds)


def test_a_planted_out_of_range_index_is_a_finding_with_op_range_and_table_size() -> None:
    a = _analysis(PLANTED, [DimBound("x", 1, "S", 1, 8)])
    found, counts = onnx_index_findings(a)
    assert counts == {"proved": 1, "assumed": 0, "unproved": 1}  # the shape read is a lookup too: proved
    (f,) = found
    assert f.kind == "index_unproved" and f.interval == Interval(5, 12) and f.tensor == "idx"
    assert f.index is not None and f.index["table"] == "table" and f.index["rows"] == {"lo": 10, "hi": 10}
    assert "Gather" in f.where and "[5, 12]" in f.notes[0] and "10 rows" in f.notes[0]
    predict_all([f])
    assert f.predictions["trt-rtx"].outcome.value == "unchecked" and "zero rows" in f.predictions["trt8"].message
    assert not f.predictions["trt-rtx"].outcome.blocks_ready
    planted = ir.from_onnx_text(PLANTED)
    assert runs(planted, {"x": np.zeros((1, 5), np.float32)}) and not runs(planted, {"x": np.zeros((1, 8), np.float32)})


def test_an_index_proved_inside_for_every_allowed_size_is_no_finding() -> None:
    a = _analysis(PLANTED, [DimBound("x", 1, "S", 1, 5)])  # 5 + 4 = 9: the last row
    assert onnx_index_findings(a) == ([], {"proved": 2, "assumed": 0, "unproved": 0})


def test_positions_of_the_same_axis_are_inside_whatever_its_size() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[N, S, 4] h, int64[N, S] ids) => (float[N, S, 4] y, float[N, 4] z)
    <int64 zero = {0}, int64 one = {1}> {
      shape = Shape(h)
      s = Gather<axis=0>(shape, one)
      pos = Range(zero, s, one)
      y = Gather<axis=1>(h, pos)
      last = ArgMax<axis=1, keepdims=0>(ids)
      n = Gather<axis=0>(shape, zero)
      rows = Range(zero, n, one)
      r = Unsqueeze(rows, one)
      c = Unsqueeze(last, one)
      grid = Concat<axis=-1>(r, c)
      z = GatherND(h, grid)
    }
    """
    found, counts = onnx_index_findings(_analysis(text, []))  # S and N unbounded: only the relation proves
    assert found == [] and counts["proved"] == 4  # two shape reads, the Gather and the GatherND


class Planted(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(10, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum() + self.table(torch.arange(x.shape[1]) + 5)


def test_a_planted_pytorch_lookup_is_a_finding_and_pytorch_raises_on_it() -> None:
    s = torch.export.Dim("s", min=2, max=8)
    ep = torch.export.export(Planted(), (torch.randn(1, 4),), dynamic_shapes=({1: s},))
    found, counts = fx_index_findings(FxAnalysis.of(ep))
    assert counts["unproved"] == 1
    (f,) = found
    assert f.layer.value == "fx" and f.interval == Interval(5, 12) and f.index is not None
    assert f.index["table"] == "table.weight" and not f.index["negative_allowed"]
    with pytest.raises(IndexError):
        Planted()(torch.randn(1, 8))


class Positions(torch.nn.Module):
    """OPT's positions: their lookup is valid for valid masks by assumption, unproved without it."""

    def __init__(self) -> None:
        super().__init__()
        self.pos = torch.nn.Embedding(34, 2)

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        return self.pos(torch.cumsum(mask, 1) * mask + 1)


def test_a_lookup_valid_by_assumption_is_counted_and_strict_makes_it_a_finding() -> None:
    s = torch.export.Dim("s", min=2, max=32)
    ep = torch.export.export(Positions(), (torch.ones(2, 6, dtype=torch.int64),), dynamic_shapes=({1: s},))
    assert fx_index_findings(FxAnalysis.of(ep)) == ([], {"proved": 0, "assumed": 1, "unproved": 0})
    found, counts = fx_index_findings(FxAnalysis.of(ep, assume_valid=False))
    assert counts["unproved"] == 1 and found[0].interval is None


def _planted_file(tmp_path: Path) -> Path:
    path = tmp_path / "planted.onnx"
    ir.save(ir.from_onnx_text(PLANTED), str(path))
    return path


def test_audit_shows_index_findings_in_the_terminal_and_the_json_report(tmp_path: Path) -> None:
    r = run_cli("audit", str(_planted_file(tmp_path)), "--target", "trt-rtx", "--dynamic", "x:1=S[1:8]",
                "--json", str(tmp_path / "r.json"))
    data = json.loads((tmp_path / "r.json").read_text())
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert r.code == 0, r.stderr  # a hazard of invalid inputs: it does not block readiness
    assert "UNCHECKED" in r.stdout and "1 table index(es) not proved inside" in r.stdout
    (f,) = [f for f in data["findings"] if f["kind"] == "index_unproved"]
    assert f["interval"] == {"lo": 5, "hi": 12} and f["index"]["rows"] == {"lo": 10, "hi": 10}
    assert f["predictions"]["trt-rtx"]["outcome"] == "unchecked"


TOKENS = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[N, S] ids) => (float[N, S, 2] y)
<float[6, 2] table = {0,1,2,3,4,5,6,7,8,9,10,11}> {
  y = Gather<axis=0>(table, ids)
}
"""


def test_verification_probes_one_row_past_the_table_and_says_what_each_runtime_does(tmp_path: Path) -> None:
    src = tmp_path / "tokens.onnx"
    ir.save(ir.from_onnx_text(TOKENS), str(src))
    r = run_cli("fix", str(src), "-o", str(tmp_path / "out.onnx"), "--target", "trt-rtx", "--json",
                str(tmp_path / "r.json"))
    assert r.code == 0, r.stderr
    (cmp,) = json.loads((tmp_path / "r.json").read_text())["verification"]["comparisons"]
    (probe,) = cmp["probes"]
    assert probe["input"] == "ids" and probe["value"] == 6 == probe["rows"]
    assert all(what.startswith("raises") for what in probe["results"].values())
    assert "zero rows" in probe["tensorrt"] and "out-of-range probe ids = 6" in " ".join(r.stdout.split())


SINE_INDEX = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[N, S] f) => (float[N, S, 2] y)
<float[10, 2] table = {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19}, float nine = {9.0}> {
  s = Sin(f)
  a = Abs(s)
  m = Mul(a, nine)
  fl = Floor(m)
  idx = Cast<to=7>(fl)
  y = Gather<axis=0>(table, idx)
}
"""


def test_convert_says_on_the_terminal_which_indices_are_not_proved(tmp_path: Path) -> None:
    """Ready, but not silent: convert's short output names the unproved lookup count like report.json does.
    The index, floor(9·|sin f|), is always inside the table of 10 rows, but no interval rule knows Sin."""
    path = tmp_path / "sine.onnx"
    ir.save(ir.from_onnx_text(SINE_INDEX), str(path))
    r = run_cli("convert", str(path), "-o", str(tmp_path / "out"), "--target", "trt-rtx",
                "--dynamic", "f:0=N[1:4],1=S[1:8]", "--no-build", "--json", str(tmp_path / "r.json"))
    assert r.code == 0, r.stderr
    line = "1 table index(es) not proved inside"
    assert line in json.loads((tmp_path / "r.json").read_text())["verdict"]["line"]
    assert line in " ".join(r.stdout.split())
