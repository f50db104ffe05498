"""ONNX audit on graphs written in the tests: producers, consumers, spec slots, intervals."""

from __future__ import annotations

import onnx_ir as ir
import pytest

from trtready.audit.findings import Outcome, Role
from trtready.audit.onnx_graph import audit_onnx
from trtready.audit.predict import predict_all
from trtready.bounds import parse_dynamic, parse_input_ranges

GRAPH = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[N, 4] x, int64[N, S] ids) => (float[N, 2, 2] y, int64[N] am, int64[S] pos, int64[N, S] big)
<int64[3] shp = {-1, 2, 2}, int64 zero = {0}, int64 one = {1}, int64[1] idx1 = {1},
 int64 huge = {1099511627776}> {
  y = Reshape(x, shp)
  am = ArgMax<axis=1, keepdims=0>(x)
  s = Shape(ids)
  seq = Gather<axis=0>(s, one)
  pos = Range(zero, seq, one)
  big = Mul(ids, huge)
}
"""


def _findings(text: str = GRAPH, input_ranges=None, bounds=None):
    from trtready.analysis import OnnxAnalysis

    findings = audit_onnx(OnnxAnalysis.of(ir.from_onnx_text(text), bounds, input_ranges))
    predict_all(findings)
    return {f.tensor: f for f in findings}


def test_initializer_feeding_int64_only_slot_is_marked_spec() -> None:
    f = _findings()["shp"]
    assert f.role is Role.INITIALIZER
    assert f.spec_int64
    assert f.consumers == ["Reshape:node_Reshape_0"] or f.consumers[0].startswith("Reshape:")
    assert (f.interval.lo, f.interval.hi) == (-1, 2)
    assert any("Reshape input 1" in n for n in f.notes)


def test_always_int64_outputs_and_producers() -> None:
    fs = _findings()
    am = fs["am"]
    assert am.role is Role.OUTPUT and am.producer == "ArgMax" and am.spec_int64
    assert (am.interval.lo, am.interval.hi) == (0, 3)  # axis 1 has 4 elements
    assert fs["s"].spec_int64 and fs["s"].producer == "Shape"
    assert "Gather:" in fs["s"].consumers[0]


def test_shape_gather_range_bounded_by_dynamic_dims() -> None:
    fs = _findings(bounds=parse_dynamic(["ids:0=batch[1:8],1=seq[1:128]"]))
    assert (fs["seq"].interval.lo, fs["seq"].interval.hi) == (1, 128)
    assert (fs["pos"].interval.lo, fs["pos"].interval.hi) == (0, 127)
    assert fs["pos"].predictions["trt8"].outcome is Outcome.CAST


def test_without_bounds_shape_values_are_unknown() -> None:
    fs = _findings()  # an unbounded dim is only known to be a size: [0, INT64_MAX]
    # a position below an unbounded size: [0, INT64_MAX - 1]
    assert (fs["pos"].interval.lo, fs["pos"].interval.hi) == (0, 2**63 - 2)
    assert fs["pos"].predictions["trt8"].outcome is Outcome.CLAMP
    assert "not bounded" in fs["pos"].predictions["trt8"].message


def test_mul_beyond_int32_is_clamped_on_trt8_and_native_on_trt_rtx() -> None:
    fs = _findings(input_ranges=parse_input_ranges(["ids:0..1000"]))
    big = fs["big"]
    assert big.interval.hi == 1000 * 1099511627776
    assert big.fits["int32"] is False
    assert big.predictions["trt8"].outcome is Outcome.CLAMP
    assert str(1000 * 1099511627776) in big.predictions["trt8"].message
    assert big.predictions["trt-rtx"].outcome is Outcome.FINE
    assert fs["huge"].predictions["trt8"].outcome is Outcome.CLAMP


def test_graph_inputs_unknown_unless_ranged() -> None:
    assert _findings()["ids"].interval is None
    fs = _findings(input_ranges=parse_input_ranges(["ids:0..99"]))
    assert (fs["ids"].interval.lo, fs["ids"].interval.hi) == (0, 99)
    assert fs["ids"].role is Role.INPUT


def test_int64_max_slice_end_clamps_exactly() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[N, 8] x) => (float[N, 6] y)
    <int64[1] st = {2}, int64[1] en = {9223372036854775807}, int64[1] ax = {1}> {
      y = Slice(x, st, en, ax)
    }
    """
    fs = _findings(text)
    assert fs["en"].clamp_exact
    assert fs["en"].predictions["trt8"].outcome is Outcome.CAST
    assert not fs["st"].spec_int64  # Slice starts accept int32 or int64


def test_double_values_and_subgraph_scopes() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (double[4] x, bool c) => (double[4] y)
    <double[4] w = {0.1, 0.5, 1.0, 2.0}> {
      y = If(c) <
        then_branch = t () => (double[4] a) { a = Add(x, w) },
        else_branch = e () => (double[4] b) { b = Mul(x, w) }
      >
    }
    """
    fs = _findings(text)
    assert fs["w"].dtype == "float64" and fs["w"].fits["float32"] is False  # 0.1 is not exact in float32
    assert fs["w"].predictions["trt-rtx"].outcome is Outcome.PRECISION_LOSS
    assert fs["x"].predictions["trt-rtx"].message.startswith("converted to FLOAT without a message")
    scoped = [t for t in fs if t.endswith("/a") or t.endswith("/b")]
    assert len(scoped) == 2


def test_nonzero_fails_to_build_on_trt_rtx_only() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[4] x) => (int64[1, K] nz) { nz = NonZero(x) }
    """
    nz = _findings(text)["nz"]
    assert nz.spec_int64
    assert nz.predictions["trt-rtx"].outcome is Outcome.ERROR
    assert nz.predictions["trt10"].outcome is Outcome.FINE


@pytest.mark.parametrize("op", ["MatMul", "Pow"])
def test_float_only_consumer_predicts_cast(op: str) -> None:
    text = f"""
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[2, 2] a, int64[2, 2] b) => (int64[2, 2] y) {{ y = {op}(a, b) }}
    """
    fs = _findings(text)
    assert fs["a"].predictions["trt10"].outcome is Outcome.CAST
    assert op in fs["a"].predictions["trt10"].message


def test_findings_follow_the_files_order_whatever_the_run() -> None:
    """Inputs, then initializers as the file lists them, then node outputs: the same list for the same file
    in every run (the order once depended on where the loaded values sat in memory)."""
    import random

    names = [f"c{i:02d}" for i in range(30)]
    random.Random(0).shuffle(names)
    inits = ", ".join(f"int64 {n} = {{{i}}}" for i, n in enumerate(names))
    body = "\n".join(f"  s{i} = Add({f's{i - 1}' if i else 'ids'}, {n})" for i, n in enumerate(names))
    text = f"""
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[N] ids) => (int64[N] s29) <{inits}> {{
    {body}
    }}
    """
    first, second = list(_findings(text).values()), list(_findings(text).values())
    expected = ["onnx:ids", *(f"onnx:{n}" for n in names), *(f"onnx:s{i}" for i in range(30))]
    assert [f.id for f in first] == expected
    assert [f.id for f in second] == expected
