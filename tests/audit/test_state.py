"""State audit: qualified names, owners, value ranges, meta tensors never read."""

from __future__ import annotations

import numpy as np
import torch

from trtready.audit.findings import Role
from trtready.audit.state import audit_state
from trtready.demo.models import BnCnn
from trtready.load.state import StateEntry, entries_from_module


def test_nested_bn_buffers_have_full_paths_and_owner_types() -> None:
    fs = {f.tensor: f for f in audit_state(entries_from_module(BnCnn()))}
    f = fs["layer1.0.bn1.num_batches_tracked"]
    assert f.role is Role.BUFFER and f.module_type == "BatchNorm2d"
    assert f.where == "layer1.0.bn1 (BatchNorm2d)"
    assert f.fits["int32"] is True and (f.interval.lo, f.interval.hi) == (0, 0)
    assert len(fs) == 5  # one per BatchNorm, nothing else is 64-bit


def test_int64_values_beyond_int32_do_not_fit() -> None:
    m = torch.nn.Module()
    m.register_buffer("ids", torch.tensor([0, 2**31], dtype=torch.int64))
    (f,) = audit_state(entries_from_module(m))
    assert f.interval.hi == 2**31 and f.fits["int32"] is False


def test_float64_exactness_nan_and_underflow_are_reported() -> None:
    m = torch.nn.Module()
    m.register_buffer("exact", torch.tensor([0.5, 2.0], dtype=torch.float64))
    m.register_buffer("tiny", torch.tensor([1e-50, float("nan")], dtype=torch.float64))
    fs = {f.tensor: f for f in audit_state(entries_from_module(m))}
    assert fs["exact"].fits["float32"] is True
    assert fs["tiny"].fits["float32"] is False
    assert any("underflow" in n for n in fs["tiny"].notes) and any("NaN" in n for n in fs["tiny"].notes)


def test_used_flag_comes_from_the_graph() -> None:
    m = BnCnn()
    used = {"layer1.0.bn1.running_mean"}
    fs = {f.tensor: f for f in audit_state(entries_from_module(m), used=used)}
    assert fs["layer1.0.bn1.num_batches_tracked"].used is False
    assert all(f.used is None for f in audit_state(entries_from_module(m)))


def test_meta_device_values_are_never_read() -> None:
    with torch.device("meta"):
        m = BnCnn()
    reads: list[str] = []
    entries = entries_from_module(m)
    for e in entries:
        orig = e.read

        def spy(orig=orig, name=e.name):
            out = orig()
            reads.append(name) if out is not None else None
            return out

        e.read = spy
    fs = audit_state(entries)
    assert len(fs) == 5 and reads == []
    assert all(f.interval is None and "meta tensor" in f.notes[0] for f in fs)


def test_only_64bit_tensors_are_read() -> None:
    calls: list[str] = []
    entries = [
        StateEntry("w", "float32", [2], "parameter", "Linear", lambda: calls.append("w")),
        StateEntry("n", "int64", [], "buffer", "BatchNorm2d", lambda: (calls.append("n"), np.array(3))[1]),
    ]
    (f,) = audit_state(entries)
    assert calls == ["n"] and f.tensor == "n"
