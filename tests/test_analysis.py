"""Each analysis is computed once per run: one FX analysis and one ONNX analysis for a PyTorch model,
one ONNX analysis for an ONNX file, and torch.onnx translates the program once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import trtready
from trtready import analysis


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Fresh analysis counts, and a count of torch.onnx.export calls."""
    import torch.onnx

    analysis.COUNTS.clear()
    calls = {"torch.onnx.export": 0}
    real = torch.onnx.export

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls["torch.onnx.export"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", counted)
    return calls


def test_convert_of_a_pytorch_model_analyses_each_graph_once(tmp_path: Path, counts: dict[str, int]) -> None:
    result = trtready.convert("trtready.demo:token_model", tmp_path / "out", target="trt-rtx", build=False)
    assert result
    assert dict(analysis.COUNTS) == {"fx": 1, "onnx": 1}
    assert counts["torch.onnx.export"] == 1


def test_convert_of_an_onnx_file_analyses_it_once(tmp_path: Path, counts: dict[str, int]) -> None:
    onnx_path = tmp_path / "m.onnx"
    trtready.export("trtready.demo:token_model", onnx_path, dynamic=["input_ids:0=batch[1:8],1=seq[1:64]"])
    analysis.COUNTS.clear()
    counts["torch.onnx.export"] = 0
    result = trtready.convert(str(onnx_path), tmp_path / "out", target="trt-rtx", build=False)
    assert result
    assert dict(analysis.COUNTS) == {"onnx": 1}
    assert counts["torch.onnx.export"] == 0


def test_audit_of_an_onnx_file_analyses_it_once(tmp_path: Path) -> None:
    onnx_path = tmp_path / "m.onnx"
    trtready.export("trtready.demo:token_model", onnx_path)
    analysis.COUNTS.clear()
    trtready.audit(str(onnx_path), target="trt8")
    assert dict(analysis.COUNTS) == {"onnx": 1}
