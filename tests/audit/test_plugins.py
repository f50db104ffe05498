"""The plugin boundary: a node of a custom ONNX domain, and every tensor crossing it with its dtype."""

from __future__ import annotations

import json
from pathlib import Path

import onnx_ir as ir
import pytest

import trtready
from tests.conftest import run_cli

GRAPH = """
<ir_version: 10, opset_import: ["" : 20, "trt.plugins" : 1, "com.microsoft" : 1, "local" : 1]>
g (int64[2, 8] ids, float[2, 8] x) => (float[2, 8] y, float[2, 8] z, float[2, 8] w) {
  y = trt.plugins.MyPlugin <alpha: float = 1.0> (ids, x)
  z = com.microsoft.Gelu(x)
  w = local.Twice(x)
}
<domain: "local", opset_import: ["" : 20]>
Twice (a) => (b) { b = Add(a, a) }
"""


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    path = tmp_path / "plugin.onnx"
    ir.save(ir.from_onnx_text(GRAPH), str(path))
    return path


def plugin_findings(report: trtready.AuditReport) -> list:
    return [f for f in report.findings if f.kind.value == "plugin_boundary"]


def test_only_the_custom_domain_node_is_a_plugin_and_every_crossing_is_listed(model: Path) -> None:
    (f,) = plugin_findings(trtready.audit(str(model), target="trt10"))  # not com.microsoft, not a local function
    assert f.id == "plugin:onnx:trt.plugins::MyPlugin" and f.dtype == "int64"
    assert [(c["slot"], c["name"], c["dtype"]) for c in f.plugin["inputs"]] == [(0, "ids", "int64"), (1, "x", "float")]
    assert [(c["name"], c["dtype"]) for c in f.plugin["outputs"]] == [("y", "float")]
    assert f.where == "trt.plugins::MyPlugin (in: ids int64, x float; out: y float)"


def test_int64_into_a_plugin_names_the_fix_only_where_the_range_is_proved(model: Path) -> None:
    (unproved,) = plugin_findings(trtready.audit(str(model), target="trt10"))
    p = unproved.predictions["trt10"]
    assert p.outcome.value == "unchecked" and "reach plugin trt.plugins::MyPlugin as INT64" in p.message
    assert "keep INT64, and the plugin must accept INT64" in p.message and "Cast" not in p.message
    (proved,) = plugin_findings(trtready.audit(str(model), target="trt10", input_range=["ids:0..1000"]))
    p = proved.predictions["trt10"]
    assert "values proved in [0, 1000]: if the plugin takes INT32 only, a Cast(to=INT32) before it is exact" \
        in p.message
    assert (proved.interval.lo, proved.interval.hi) == (0, 1000) and proved.fits["int32"] is True
    # TensorRT 8 casts INT64 to INT32 before the plugin: exact when proved, clamped otherwise
    assert proved.predictions["trt8"].outcome.value == "cast"
    assert unproved.predictions["trt8"].outcome.value == "clamp"
    beyond = plugin_findings(trtready.audit(str(model), target="trt10", input_range=["ids:0..4294967296"]))[0]
    assert "must accept INT64" in beyond.predictions["trt10"].message


def test_a_plugin_fed_without_int64_is_reported_fine(tmp_path: Path) -> None:
    path = tmp_path / "f.onnx"
    ir.save(ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20, "acme" : 1]>
    g (int32[4] ids, float[4] x) => (float[4] y) { y = acme.Lookup(ids, x) }
    """), str(path))
    report = trtready.audit(str(path), target="trt-rtx")
    (f,) = plugin_findings(report)
    assert f.dtype == "int32" and f.predictions["trt-rtx"].outcome.value == "fine"
    assert "no int64 reaches plugin acme::Lookup (ids int32, x float)" in f.predictions["trt-rtx"].message
    assert report.ready and report.verdict() == "READY for trt-rtx: no int64/float64 tensors; 1 plugin node(s)"


def test_audit_json_carries_the_boundary_and_validates(model: Path, tmp_path: Path) -> None:
    import jsonschema

    from trtready.report.json_report import schema

    out = tmp_path / "r.json"
    r = run_cli("audit", str(model), "--target", "trt10", "--json", str(out))
    assert r.code == 0 and "1 plugin node(s), 1 with INT64 inputs" in r.stdout, r.stdout + r.stderr
    report = json.loads(out.read_text())
    jsonschema.Draft202012Validator(schema()).validate(report)
    (f,) = [f for f in report["findings"] if f["kind"] == "plugin_boundary"]
    assert f["plugin"]["inputs"][0] == {"slot": 0, "name": "ids", "dtype": "int64", "interval": None,
                                        "fits_int32": None}


@pytest.mark.parametrize("typed", ["", "<int64[4] idx>"], ids=["untyped", "value_info"])
def test_a_plugins_int64_output_meeting_int64_in_an_add_is_a_mixed_pair(tmp_path: Path, typed: str) -> None:
    """A plugin that emits INT32 where ONNX says int64 makes the Add after it mix INT32 and INT64,
    which TensorRT does not build (mmdeploy#2758): named, with the fix, on targets with INT64. A
    custom op's output without value_info is int64 by the Add's type constraint."""
    path = tmp_path / "m.onnx"
    ir.save(ir.from_onnx_text(f"""
    <ir_version: 10, opset_import: ["" : 20, "acme" : 1]>
    g (float[4] x, int64[4] offset) => (int64[4] y, int64[4] z) {typed} {{
      idx = acme.TopIndex(x)
      y = Add(idx, offset)
      z = Neg(idx)
    }}
    """), str(path))
    (f,) = plugin_findings(trtready.audit(str(path), target="trt10"))
    assert f.plugin["mixed"] == [{"output": "idx", "node": "Add:?", "other": "offset"}]  # Neg has one operand
    p = f.predictions["trt10"]
    assert p.outcome.value == "unchecked"
    assert ("its INT64 output idx meets INT64 offset in Add:?: if the plugin emits INT32 there, that op mixes "
            "INT32 and INT64 and the build fails — the plugin must declare INT64, or a Cast(to=INT64) must "
            "follow it") in p.message
    assert f.predictions["trt8"].outcome.value == "fine"  # TensorRT 8 has no INT64: nothing to mix
