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
    """Same file through the CLI in a fresh interpreter: torch must stay unimported."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from trtready.cli.main import main\n"
        "try:\n"
        f"    main(['audit', {str(bert_onnx)!r}, '--quiet'])\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "bad = [m for m in ('torch', 'tensorrt', 'tensorrt_rtx') if m in sys.modules]\n"
        "print('IMPORTED', bad)\n"
        "sys.exit(code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "IMPORTED []" in out.stdout, out.stdout + out.stderr
    assert out.returncode == 0
