"""Issue #18: ``audit`` is never READY on a model whose TensorRT-RTX build then fails.

An audio-encoder-like spec zeroes its padded frames with ``hidden[~mask] = 0``. Its ONNX translation
holds NonZero, which TensorRT-RTX cannot build: ``audit`` (which stops at the torch.export graph) said
READY before, now NOT READY naming NonZero and the rewrite; ``convert`` rewrites it to a Where,
verifies and builds. The same masking written as ``masked_fill`` is READY; a boolean-indexing read has
no exact rewrite, so audit says what to change and convert fails with that prediction.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx_ir as ir
import pytest

from tests.conftest import ROOT, CliResult, run_cli

SPEC = "tests.readiness.models:"


def _cli(*args: str) -> CliResult:
    return run_cli(*args, cwd=ROOT)


def _why(res: CliResult) -> str:
    return res.stderr[-2000:] + "\n" + res.stdout[-2000:]


def _ops(report: dict[str, object]) -> list[dict[str, object]]:
    return [f for f in report["findings"] if f["kind"] == "op_unsupported"]  # type: ignore[index, union-attr]


def test_audit_of_the_spec_names_nonzero_and_the_rewrite(tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    res = _cli("audit", SPEC + "masked_assign", "--target", "trt-rtx", "--json", str(out))
    assert res.code == 1, _why(res)
    report = json.loads(out.read_text())
    assert not report["verdict"]["ready"]
    (op,) = _ops(report)
    assert op["layer"] == "fx" and op["producer"] == "aten.index_put_" and op["source"] == "tests/readiness/models.py:28"  # hidden[~mask] = 0
    assert op["op"]["onnx_ops"] == ["NonZero"] and op["op"]["rewrite"].startswith("Where(mask, value, x)")
    msg = op["predictions"]["trt-rtx"]["message"]
    assert op["predictions"]["trt-rtx"]["outcome"] == "error"
    assert "NonZero" in msg and "fix/convert rewrite it exactly" in msg
    # without the op finding the verdict was READY: every 64-bit tensor is fine on trt-rtx
    assert all(f["predictions"]["trt-rtx"]["outcome"] == "fine" for f in report["findings"] if f is not op)
    # trt10 builds NonZero (onnx-tensorrt's table): the same model is ready there
    assert _cli("audit", SPEC + "masked_assign", "--target", "trt10", "--quiet").code == 0


def test_masked_fill_is_ready() -> None:
    res = _cli("audit", SPEC + "masked_fill", "--target", "trt-rtx", "--quiet")
    assert res.code == 0 and res.stdout.startswith("READY for trt-rtx"), _why(res)


def test_convert_rewrites_the_assignment_to_where_and_builds(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    out = tmp_path / "out"
    res = _cli("convert", SPEC + "masked_assign", "-o", str(out), "--target", "trt-rtx", "--json", str(report_path))
    assert res.code == 0, _why(res)
    assert "op(s) rewritten for the target" in " ".join(res.stdout.split())
    report = json.loads(report_path.read_text())
    assert report["verification"]["passed"] and (out / "model.engine").is_file()
    actions = {d["finding"]: d for d in report["decisions"]}
    (onnx_op,) = [f for f in _ops(report) if f["layer"] == "onnx"]
    assert actions[onnx_op["id"]]["action"] == "rewrite" and "Where" in actions[onnx_op["id"]]["reason"]
    assert actions["op:fx:index_put_"]["action"] == "rewrite"
    model = ir.load(str(out / "model.onnx"))
    ops = {n.op_type for n in model.graph}
    assert "NonZero" not in ops and "ScatterND" not in ops and "Where" in ops


def test_a_boolean_indexing_read_is_not_ready_and_says_what_to_change(tmp_path: Path) -> None:
    res = _cli("audit", SPEC + "masked_select", "--target", "trt-rtx", "--quiet")
    assert res.code == 1, _why(res)
    line = " ".join(res.stdout.split())
    assert "NonZero" in line and "no exact rewrite" in line and "torch.where" in line
    res = _cli("convert", SPEC + "masked_select", "-o", str(tmp_path / "out"), "--target", "trt-rtx")
    assert res.code == 2, _why(res)
    assert "parser rejected the model: node node_NonZero" in res.stderr
    assert "predicted before the build" in res.stderr and "torch.where" in res.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("verb", ["audit", "fix"])
def test_an_onnx_file_is_judged_from_its_own_nodes(verb: str, tmp_path: Path) -> None:
    onnx_path = tmp_path / "encoder.onnx"
    res = _cli("export", SPEC + "masked_assign", "-o", str(onnx_path))
    assert res.code == 0, _why(res)
    report_path = tmp_path / f"{verb}.json"
    args = [verb, str(onnx_path), "--target", "trt-rtx", "--json", str(report_path)]
    if verb == "fix":
        args += ["-o", str(tmp_path / "fixed.onnx")]
    res = _cli(*args)
    report = json.loads(report_path.read_text())
    (op,) = _ops(report)
    assert op["layer"] == "onnx" and op["producer"] == "NonZero" and op["op"]["rewrite"].startswith("Where(")
    if verb == "audit":
        assert res.code == 1 and not report["verdict"]["ready"], _why(res)
        return
    assert res.code == 0 and report["verification"]["passed"], _why(res)
    assert {d["finding"]: d["action"] for d in report["decisions"]}[op["id"]] == "rewrite"
    fixed = ir.load(str(tmp_path / "fixed.onnx"))
    assert "NonZero" not in {n.op_type for n in fixed.graph}
    res = _cli("audit", str(tmp_path / "fixed.onnx"), "--target", "trt-rtx", "--quiet")
    assert res.code == 0, _why(res)
