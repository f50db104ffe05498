"""Predictions read the operator tables' per-op facts and trt11's strong typing (docs/targets.md)."""

from __future__ import annotations

import onnx
import onnx_ir as ir
import pytest

import trtready
from trtready.audit.findings import Outcome
from tests.targets.test_targets import _fake_env


def _save(tmp_path, text: str, name: str = "m.onnx") -> str:
    path = tmp_path / name
    onnx.save(ir.to_proto(ir.from_onnx_text(text)), path)
    return str(path)


def _by_tensor(report) -> dict:
    """The 64-bit tensor findings by tensor (an index finding may name the same tensor)."""
    return {f.tensor: f for f in report.findings if not f.is_op and not f.is_index and not f.is_plugin}


@pytest.mark.parametrize("dtype, noted", [("bool", True), ("float", False)])
def test_nonzero_is_unsupported_on_rtx_and_listed_float_only_by_the_table(tmp_path, dtype, noted) -> None:
    model = _save(tmp_path, f"""
    <ir_version: 10, opset_import: ["" : 20]>
    g ({dtype}[4] m) => (int64[1, N] idx) {{
        idx = NonZero (m)
    }}
    """)
    (f,) = [f for f in trtready.audit(model, target="trt11").findings if f.is_op]
    assert f.op.input_dtype == dtype.upper()
    assert f.predictions["trt-rtx"].outcome is Outcome.ERROR and "plugin" in f.predictions["trt-rtx"].message
    for target in ("trt11", "trt10", "trt8"):
        p = f.predictions[target]
        assert p.outcome is Outcome.FINE  # the importer takes BOOL too: the types column is not a parse check
        assert ("lists NonZero for FP32, FP16 only" in p.message) is noted
    if noted:
        assert "[onnx-tensorrt docs/operators.md, TensorRT 10.15 table" in f.predictions["trt11"].message
        assert "TensorRT 8.6 table (commit 6872a9473391)" in f.predictions["trt8"].message


def test_trt11_predicts_double_as_float_in_a_strongly_typed_network(tmp_path, monkeypatch) -> None:
    _fake_env(monkeypatch, {})  # no TensorRT installed: the stated default release is assumed
    model = _save(tmp_path, """
    <ir_version: 10, opset_import: ["" : 20]>
    g (double[3] x) => (float[3] y) {
        y = Cast <to = 1> (x)
    }
    """)
    x = _by_tensor(trtready.audit(model, target="trt11"))["x"]
    p11, p10 = x.predictions["trt11"], x.predictions["trt10"]
    assert p11.outcome is p10.outcome is Outcome.PRECISION_LOSS  # an input's values are not known exact
    assert p11.message == ("converted to FLOAT without a message (strongly typed: no builder flag changes it; "
                           "narrow it in the graph); values round to float32 [tensorrt 11.5.0 (not installed); "
                           "not measured: TensorRT 11.0–11.5 documentation and onnx-tensorrt's 10.15 operator table]")
    assert p10.message == "converted to FLOAT without a message; values round to float32"


_GATHER = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[{rows},4] table, int64[3] ids) => (float[3,4] out) {{
    out = Gather <axis = 0> (table, ids)
}}
"""


def test_gather_index_cast_to_int32_is_predicted_where_not_proved(tmp_path) -> None:
    model = _save(tmp_path, _GATHER.format(rows="N"))  # rows unknown: a valid index may exceed int32
    ids = _by_tensor(trtready.audit(model, target="trt11"))["ids"]
    assert ids.index_of_narrow_data == ["Gather:?"]
    for target in ("trt11", "trt10"):
        p = ids.predictions[target]
        # exact for every index below 2**31: reported, not blocking (docs/targets.md)
        assert p.outcome is Outcome.UNCHECKED and "cast to INT32 inside TensorRT" in p.message
        assert "not proved to fit int32" in p.message and "onnxOpImporters.cpp at 10.1-GA" in p.message
    assert ids.predictions["trt-rtx"].outcome is Outcome.FINE  # not carried for TensorRT-RTX (not measured)
    proved = _by_tensor(trtready.audit(model, target="trt11", input_range=["ids:0..1000"]))["ids"]
    assert proved.predictions["trt11"].outcome is Outcome.CAST and "exact" in proved.predictions["trt11"].message
    beyond = _by_tensor(trtready.audit(model, target="trt11", input_range=["ids:4294967296..4294967300"]))["ids"]
    assert beyond.predictions["trt11"].outcome is Outcome.CLAMP
    assert "value 4294967300 does not fit, the rows read are wrong" in beyond.predictions["trt11"].message


def test_gather_on_a_short_axis_needs_no_proof(tmp_path) -> None:
    """10 rows: every valid index fits int32 (an invalid one is an index finding of its own)."""
    ids = _by_tensor(trtready.audit(_save(tmp_path, _GATHER.format(rows=10)), target="trt11"))["ids"]
    assert ids.index_of_narrow_data == []
    assert ids.predictions["trt11"].outcome is Outcome.FINE


def test_gather_of_int64_data_keeps_int64_indices(tmp_path) -> None:
    model = _save(tmp_path, _GATHER.format(rows="N").replace("float[", "int64[").replace("float[3,4]", "int64[3,4]"))
    ids = _by_tensor(trtready.audit(model, target="trt11"))["ids"]
    assert ids.index_of_narrow_data == [] and ids.predictions["trt11"].outcome is Outcome.FINE
