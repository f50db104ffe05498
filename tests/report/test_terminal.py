"""The terminal says what report.json says: the export path, every excuse, what was not run."""

from __future__ import annotations

import io

import jsonschema
import pytest
from rich.console import Console

from trtready.audit import AuditReport, AuditResult
from trtready.export.paths import Attempt, ExportRecord
from trtready.fix import FixResult
from trtready.pipeline import ConvertResult
from trtready.report.json_report import fix_report_json, schema
from trtready.report.terminal import render_convert, render_fix
from trtready.targets import resolve_target
from trtready.verify.compare import Comparison, OutputComparison


def _result(*, padded: bool = False, unverified: str | None = None) -> FixResult:
    report = AuditReport(AuditResult("m:spec", "spec", None, [], {"state": "done"}), resolve_target("trt-rtx"))
    result = FixResult(report, [])
    ok = OutputComparison("y", "float32", "float32", False, True, atol_basis="scaled: 4·2^-23·max|ref| (3)·√depth (2)",
                          dims={"batch": 4})
    result.verification.append(Comparison("original module (PyTorch)", "narrowed ExportedProgram (PyTorch)", [ok], 4))
    if not unverified:
        bad = OutputComparison("y", "float32", "float32", False, not padded, max_abs=0.5, padded_only=padded,
                               message="worst at (1, 3)", dims={"batch": 4})
        onnx = Comparison("original module (PyTorch)", "written ONNX (ONNX Runtime)", [bad], 4)
        onnx.excuse_padded()
        result.verification.append(onnx)
    result.unverified = unverified
    result.export = ExportRecord("torchscript", "torch.onnx (dynamo=False)",
                                 [Attempt("dynamo", "Cannot view a tensor with shape …")])
    return result


def _said(render: object, result: object, quiet: bool) -> str:
    buf = io.StringIO()
    render(result, Console(file=buf, width=100, highlight=False), quiet=quiet)  # type: ignore[operator]
    return " ".join(buf.getvalue().split())


@pytest.mark.parametrize("quiet", [False, True])
def test_padded_positions_excused_are_said_by_fix_and_convert(quiet: bool) -> None:
    result = _result(padded=True)
    for render, shown in ((render_fix, result), (render_convert, ConvertResult(result))):
        text = _said(render, shown, quiet)
        assert "verified (differences at padded positions excused)" in text
        if not quiet:
            assert "positions the attention mask pads" in text
            assert "exported with torch.onnx (dynamo=False): dynamo failed: Cannot view a tensor" in text
            assert "float atol scaled" in text


def test_convert_names_the_trials_dims_and_scaled_tolerance() -> None:
    text = _said(render_convert, ConvertResult(_result(padded=True)), False)
    assert "written ONNX (ONNX Runtime) vs original module (PyTorch): 4 trial(s), dims batch=4" in text


def test_pytorch_only_is_the_verdict_when_onnx_runtime_has_no_kernel() -> None:
    gap = "ONNX Runtime has no kernel for Mul(14) on bfloat16 at node 'n': the written ONNX was not run"
    result = _result(unverified=gap)
    text = _said(render_fix, result, True)
    assert "verified in PyTorch only: ONNX Runtime has no kernel for Mul(14) on bfloat16" in text
    assert "not run: " + gap in _said(render_convert, ConvertResult(result), False)


def test_a_float32_island_is_in_the_verdict_and_the_report() -> None:
    island = "ONNX Runtime has no kernel for Mul(14) on bfloat16 at 2 nodes: run in float32 (inputs cast up, …)"
    result = _result()
    result.island = island
    assert "verified (ONNX Runtime ran Mul(14) on bfloat16 at 2 nodes in float32)" in _said(render_fix, result, True)
    assert "float32 island: " + island in _said(render_convert, ConvertResult(result), False)
    data = fix_report_json(result)
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert data["verification"]["scope"] == "float32-island" and data["verification"]["island"] == island


def test_the_report_validates_with_the_export_record_and_scope() -> None:
    data = fix_report_json(_result(unverified="ONNX Runtime has no kernel for X: not run"))
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert data["export"]["exporter"] == "torchscript" and data["export"]["failed"][0]["path"] == "dynamo"
    assert data["verification"]["scope"] == "pytorch-only" and data["verdict"]["confidence"] == "likely"
    assert fix_report_json(_result(padded=True))["verification"]["excused"]
