"""Model kinds are recognised by content, and unreadable inputs fail with BadInputError."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from trtready.errors import BadInputError
from trtready.load.detect import ModelKind, detect, looks_like_spec


def test_spec_string_is_a_spec_only_when_no_such_file(tmp_path: Path) -> None:
    assert looks_like_spec("trtready.demo:bn_cnn")
    assert not looks_like_spec("not a spec")
    clash = tmp_path / "pkg.mod:fn"
    clash.write_bytes(b"\x08\x07")
    assert not looks_like_spec(str(clash))


def test_torch_formats_by_content_not_suffix(tmp_path: Path) -> None:
    import torch

    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)).eval()
    x = torch.randn(3, 2)
    ts, pt2, sd, st = (tmp_path / n for n in ("a.bin", "b.bin", "c.onnx", "d.pt"))
    torch.jit.trace(m, x).save(str(ts))
    torch.export.save(torch.export.export(m, (x,)), str(pt2))
    torch.save(m.state_dict(), str(sd))
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(st))
    assert detect(str(ts)) is ModelKind.TORCHSCRIPT
    assert detect(str(pt2)) is ModelKind.PT2
    assert detect(str(sd)) is ModelKind.CHECKPOINT
    assert detect(str(st)) is ModelKind.SAFETENSORS


def test_legacy_pickle_checkpoint_is_a_checkpoint(tmp_path: Path) -> None:
    import torch

    p = tmp_path / "legacy.pth"
    torch.save({"w": torch.zeros(2)}, str(p), _use_new_zipfile_serialization=False)
    assert detect(str(p)) is ModelKind.CHECKPOINT


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b"PK\x03\x04garbage"), "damaged zip"),
    ],
    ids=["missing", "empty", "directory", "bad-zip"],
)
def test_unreadable_inputs(tmp_path: Path, make, message: str) -> None:
    p = tmp_path / "model.onnx"
    make(p)
    with pytest.raises(BadInputError, match=message):
        detect(str(p))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_not_a_model(tmp_path: Path) -> None:
    p = tmp_path / "pipe"
    os.mkfifo(p)
    with pytest.raises(BadInputError, match="not a regular file"):
        detect(str(p))


def test_safetensors_header_beyond_file_end_is_refused(tmp_path: Path) -> None:
    import json

    from trtready.load.detect import validate_safetensors_header

    header = json.dumps({"w": {"dtype": "I64", "shape": [4], "data_offsets": [0, 32]}}).encode()
    p = tmp_path / "t.safetensors"
    p.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)  # 8 of 32 bytes: truncated
    assert detect(str(p)) is ModelKind.SAFETENSORS
    with pytest.raises(BadInputError, match="beyond the end"):
        validate_safetensors_header(p)
