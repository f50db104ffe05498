"""Audit of a tiny BERT's ONNX export (torch.onnx dynamo): int64 tensors and their producers."""

from __future__ import annotations

from pathlib import Path

import trtready
from trtready.audit.findings import Layer, Outcome, Role

BOUNDS = ["input_ids:0=batch[1:8],1=seq[2:64]", "attention_mask:0=batch[1:8],1=seq[2:64]"]


def test_bert_onnx_int64_tensors_with_producing_nodes(bert_onnx: Path) -> None:
    report = trtready.audit(str(bert_onnx), target="trt-rtx", dynamic=BOUNDS)
    int64 = [f for f in report.findings if f.dtype == "int64"]
    assert all(f.layer is Layer.ONNX for f in int64)
    inputs = {f.tensor for f in int64 if f.role is Role.INPUT}
    assert inputs == {"input_ids", "attention_mask"}
    produced = {f.producer for f in int64 if f.producer}
    assert {"Shape", "Range"} <= produced
    for f in int64:
        if f.producer:
            assert f.where.startswith(f.producer)
    shapes = [f for f in int64 if f.producer == "Shape"]
    assert shapes and all(f.spec_int64 for f in shapes)
    assert any(f.source and "modeling_bert.py:" in f.source for f in int64)
    assert report.ready  # TensorRT-RTX holds int64 natively


def test_bert_onnx_dynamic_bounds_prove_position_ranges(bert_onnx: Path) -> None:
    report = trtready.audit(str(bert_onnx), target="trt8", dynamic=BOUNDS)
    ranges = [f for f in report.findings if f.producer == "Range"]
    assert ranges
    for f in ranges:
        assert f.interval is not None and f.interval.hi <= 63
        assert f.predictions["trt8"].outcome is Outcome.CAST
    pos = next(f for f in report.findings if f.tensor == "embeddings.position_ids")
    assert (pos.interval.lo, pos.interval.hi) == (0, 63)


def test_bert_onnx_audit_does_not_read_torch(bert_onnx: Path) -> None:
    """Same file through the CLI in a fresh interpreter: torch must stay unimported, and ONNX Runtime too
    (an audit reads the graph; only fix and verify run it, so no session is made)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from trtready.cli.main import main\n"
        "try:\n"
        f"    main(['audit', {str(bert_onnx)!r}, '--quiet'])\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "bad = [m for m in ('torch', 'tensorrt', 'tensorrt_rtx', 'onnxruntime') if m in sys.modules]\n"
        "print('IMPORTED', bad)\n"
        "sys.exit(code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "IMPORTED []" in out.stdout, out.stdout + out.stderr
    assert out.returncode == 0


def test_bert_onnx_findings_do_not_depend_on_the_flow_picture(bert_onnx: Path) -> None:
    """The dtype-flow picture is drawn only for a report file; the report without it is the same, finding
    for finding. Each side audits in a fresh interpreter, as a CLI run does."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from trtready.audit import AuditReport, audit_loaded\n"
        "from trtready.bounds import parse_dynamic\n"
        "from trtready.load import load_model\n"
        "from trtready.report.json_report import audit_report_json\n"
        "from trtready.targets import resolve_target\n"
        "flow = sys.argv[2] == 'flow'\n"
        f"result = audit_loaded(load_model(sys.argv[1]), parse_dynamic({BOUNDS!r}), flow=flow)\n"
        "assert (result.flow is not None) is flow\n"
        "data = audit_report_json(AuditReport(result, resolve_target('trt8')))\n"
        "data.pop('flow'); data.pop('environment')\n"
        "print(json.dumps(data, sort_keys=True))\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code, str(bert_onnx), mode], capture_output=True, text=True,
                           timeout=300) for mode in ("flow", "none")]
    for r in runs:
        assert r.returncode == 0, r.stderr
    with_flow, without = (json.loads(r.stdout.strip().splitlines()[-1]) for r in runs)
    assert len(with_flow["findings"]) > 10
    assert without == with_flow


def test_bert_onnx_cli_json_carries_the_flow(bert_onnx: Path, tmp_path: Path) -> None:
    import json

    from trtready.cli.main import main

    out = tmp_path / "r.json"
    try:
        main(["audit", str(bert_onnx), "--quiet", "--trust-code", "--target", "trt8", "--json", str(out)])
    except SystemExit as e:
        assert e.code in (0, 1)
    data = json.loads(out.read_text())
    assert data["flow"] and data["flow"]["nodes"]
