"""JSON reports validate against the shipped schema; the schema rejects malformed reports."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

import trtready
from trtready.report.json_report import SCHEMA_VERSION, audit_report_json, schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    return jsonschema.Draft202012Validator(s)


@pytest.mark.parametrize("demo", ["bn_cnn", "token_model", "float64_buffer", "hash_model"])
def test_demo_reports_validate(validator, demo: str) -> None:
    data = audit_report_json(trtready.audit(f"trtready.demo:{demo}"))
    validator.validate(data)
    assert data["findings"] and all(set(f["predictions"]) == {"trt8", "trt10", "trt11", "trt-rtx", "torch-trt-ts",
                                                               "torch-trt-dynamo"} for f in data["findings"])
    json.dumps(data, allow_nan=False)


def test_onnx_report_validates_with_float_and_huge_int_intervals(validator, tmp_path: Path) -> None:
    import onnx_ir as ir

    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[2] a) => (int64[2] y, double[2] z)
    <int64[2] k = {9223372036854775807, -9223372036854775808}, double[2] d = {1e300, -0.25}> {
      y = Add(a, k)
      z = Cast<to=11>(a)
    }
    """)
    path = tmp_path / "m.onnx"
    ir.save(model, str(path))
    data = audit_report_json(trtready.audit(str(path), target="trt10"))
    validator.validate(data)
    assert data["model"]["sha256"] and data["model"]["kind"] == "onnx"
    k = next(f for f in data["findings"] if f["tensor"] == "k")
    assert k["interval"] == {"lo": -(2**63), "hi": 2**63 - 1}


def test_schema_rejects_a_bad_outcome_and_a_missing_field(validator) -> None:
    good = audit_report_json(trtready.audit("trtready.demo:hash_model"))
    bad = copy.deepcopy(good)
    bad["findings"][0]["predictions"]["trt8"]["outcome"] = "probably fine"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(bad)
    bad = copy.deepcopy(good)
    del bad["findings"][0]["where"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(bad)


def test_fix_report_validates_and_carries_decisions_and_verification(validator, tmp_path: Path) -> None:
    from trtready.report.json_report import fix_report_json

    result = trtready.fix("trtready.demo:token_model", tmp_path / "tok", target="trt-rtx")
    data = fix_report_json(result)
    validator.validate(data)
    # every decision keeps: the demo's index math would only add Casts (docs/narrowing.md, "Effect")
    assert {d["action"] for d in data["decisions"]} == {"keep"}
    assert {d["finding"] for d in data["decisions"]} <= {f["id"] for f in data["findings"]}
    assert data["verification"]["passed"] and len(data["verification"]["comparisons"]) == 2
    exact = [o for c in data["verification"]["comparisons"] for o in c["outputs"] if o["exact"]]
    assert exact and all(o["max_abs"] == 0 for o in exact)
    on_disk = json.loads((tmp_path / "tok" / "report.json").read_text())
    validator.validate(on_disk)


def test_op_findings_validate_and_keep_their_shape(validator, tmp_path: Path) -> None:
    """Schema 1.1: an op finding carries ``kind`` and ``op``; its dtype is its output's, any type."""
    import onnx_ir as ir

    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[1, 3, 400, 400] x, bool[4] m) => (float[1, 3, 1, 1] y, int64[1, N] nz) {
      y = AveragePool<kernel_shape=[400, 400]>(x)
      nz = NonZero(m)
    }
    """)
    path = tmp_path / "m.onnx"
    ir.save(model, str(path))
    data = audit_report_json(trtready.audit(str(path), target="trt-rtx"))
    validator.validate(data)
    assert data["schema_version"] == SCHEMA_VERSION and not data["verdict"]["ready"]
    ops = {f["producer"]: f for f in data["findings"] if f["kind"] == "op_unsupported"}
    assert set(ops) == {"AveragePool", "NonZero"}
    pool = ops["AveragePool"]
    assert pool["dtype"] == "float" and pool["op"]["window"] == 160000 and pool["op"]["spatial_dims"] == 2
    assert pool["op"]["rewrite"].startswith("GlobalAveragePool")
    assert ops["NonZero"]["op"]["rewrite"] is None and "torch.where" in ops["NonZero"]["op"]["remedy"]
    bad = copy.deepcopy(data)
    del bad["findings"][data["findings"].index(pool)]["op"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(bad)
    bad = copy.deepcopy(data)
    tensor = next(i for i, f in enumerate(data["findings"]) if f["kind"] == "wide_dtype")
    bad["findings"][tensor]["dtype"] = "float32"  # a tensor finding is 64-bit by definition
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(bad)
