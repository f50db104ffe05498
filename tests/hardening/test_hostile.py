"""Hostile files are data, never code.

Each case carries a payload that creates a marker file when the unguarded library loads it; the
first test proves every payload is live, the others that trtready never runs it (exit 2 with one
line naming what was refused, or — for TorchScript, read as data — a normal audit), leaves the input
byte-identical and writes nothing.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.hardening import craft

LIVE = {
    "pt2-pickled-weight": (craft.pt2_pickled_weight, "torch.export.load(p)"),
    "pt2-opaque-constant": (craft.pt2_opaque_constant, "torch.export.load(p)"),
    "pt2-example-inputs": (craft.pt2_sample_inputs, "torch.export.load(p)"),
    "pt2-sympy-expression": (craft.pt2_sympy_expression, "torch.export.load(p)"),
    "pt2-guard-code": (craft.pt2_guard_code, "torch.export.load(p).module()(torch.randn(2, 4))"),
    "torchscript-setstate": (craft.torchscript_setstate, "torch.jit.load(p)"),
}


# What each payload meets in trtready's reader: refused with this text, or (absent here) never read.
REFUSED = {
    "pt2-pickled-weight": "is a pickle",
    "pt2-opaque-constant": "pickled object",
    "pt2-sympy-expression": "shape expression",
}


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _make(tmp_path: Path, case: str) -> tuple[Path, Path]:
    marker = tmp_path / "PWNED"
    maker, _ = LIVE[case]
    path = maker(tmp_path, marker)
    for p in tmp_path.iterdir():
        if p.name == "clean.pt2":
            p.unlink()
    return path, marker


@pytest.mark.parametrize("case", sorted(LIVE))
def test_payload_is_live(tmp_path: Path, case: str) -> None:
    """Without trtready the payload runs: the case is a real attack, not a broken file."""
    path, marker = _make(tmp_path, case)
    _, trigger = LIVE[case]
    code = f"import torch, warnings\nwarnings.simplefilter('ignore')\np = {str(path)!r}\ntry:\n    {trigger}\nexcept Exception:\n    pass\n"
    subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300, cwd=tmp_path)
    assert marker.exists()


@pytest.mark.parametrize("case", sorted(c for c in LIVE if c.startswith("pt2")))
@pytest.mark.parametrize("verb", ["audit", "fix", "export", "verify"])
def test_pt2_payload_never_runs(tmp_path: Path, case: str, verb: str) -> None:
    """Read as data, the archive's payload is either never read (example inputs, guards: the verb
    works without it) or refused with one line (pickled weights, shape strings outside the grammar)."""
    path, marker = _make(tmp_path, case)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    args = {
        "audit": ["audit", str(path)],
        "fix": ["fix", str(path), "-o", str(tmp_path / "out")],
        "export": ["export", str(path), "-o", str(tmp_path / "out.onnx")],
        "verify": ["verify", str(path), str(path)],
    }[verb]
    r = run_cli(*args, cwd=tmp_path)
    assert not marker.exists()
    assert "Traceback" not in r.stderr + r.stdout
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    if case in REFUSED:
        assert r.code == 2 and r.stderr.count("\n") == 1 and REFUSED[case] in r.stderr, r.stderr
        assert not (tmp_path / "out").exists() and not (tmp_path / "out.onnx").exists()
    else:
        assert r.code in (0, 1), r.stderr


def test_torchscript_is_audited_as_data(tmp_path: Path) -> None:
    path, marker = _make(tmp_path, "torchscript-setstate")
    before = _digest(tmp_path)
    r = run_cli("audit", str(path), "--json", "-", cwd=tmp_path)
    assert r.code == 0 and not marker.exists()
    assert "read as data, its code not run" in r.stderr  # the report goes to stdout, the table to stderr
    fix = run_cli("fix", str(path), "-o", str(tmp_path / "out.pt"), cwd=tmp_path)
    assert fix.code == 2 and "--trust-code" in fix.stderr and fix.stderr.count("\n") == 1
    assert not marker.exists() and _digest(tmp_path) == before


def test_torchscript_state_read_without_loading_matches_jit_load(tmp_path: Path) -> None:
    """The data-only reader sees the same tensors, owners and roles that torch.jit.load gives."""
    import warnings

    import torch

    from trtready.load.state import entries_from_archive, entries_from_torchscript
    from trtready.load.torchscript import read_torchscript

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bn = torch.nn.BatchNorm1d(3)
            self.register_buffer("ids", torch.tensor([5, 2**40, -7]))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.bn(x) + self.ids.float().sum()

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = torch.nn.ModuleList([Block(), Block()])
            self.head = torch.nn.Linear(3, 2).double()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for b in self.blocks:
                x = b(x)
            return self.head(x.double())

    path = tmp_path / "net.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(Net()), str(path))
        loaded = torch.jit.load(str(path))
    data_only = {e.name: e for e in entries_from_archive(read_torchscript(path).entries)}
    by_jit = {e.name: e for e in entries_from_torchscript(loaded)}
    assert set(data_only) == set(by_jit)
    for name, e in by_jit.items():
        d = data_only[name]
        assert (d.dtype, d.shape, d.role, d.module_type) == (e.dtype, e.shape, e.role, e.module_type), name
        assert (d.read() == e.read()).all(), name
    assert data_only["blocks.0.ids"].read().tolist() == [5, 2**40, -7]


@pytest.mark.parametrize("maker, what", [
    (craft.pt2_file_op, "not a tensor operation"),
    (craft.pt2_aoti, "AOTInductor"),
])
def test_pt2_code_paths_refused(tmp_path: Path, maker, what: str) -> None:
    path = maker(tmp_path)
    r = run_cli("audit", str(path), cwd=tmp_path)
    assert r.code == 2 and what in r.stderr and r.stderr.count("\n") == 1


def test_legacy_pt2_layout_refused(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "old.pt2"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("version", "5.1")
        zf.writestr("serialized_exported_program.json", "{}")
        zf.writestr("serialized_example_inputs.pt", craft.payload_pickle(tmp_path / "PWNED"))
    r = run_cli("audit", str(path), cwd=tmp_path)
    assert r.code == 2 and "pre-2.7 layout" in r.stderr and not (tmp_path / "PWNED").exists()


def test_trust_code_is_the_only_way_in(tmp_path: Path) -> None:
    """--trust-code loads what the user vouches for (and the payload then runs, as documented)."""
    path, marker = _make(tmp_path, "pt2-opaque-constant")
    r = run_cli("audit", str(path), "--trust-code", cwd=tmp_path)
    assert marker.exists()
    assert "refused" not in r.stderr


def test_npz_with_pickles_refused(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    npz = craft.npz_pickle(tmp_path, marker)
    r = run_cli("fix", "trtready.demo:token_model", "-o", str(tmp_path / "out"), "--inputs", str(npz), cwd=tmp_path)
    assert r.code == 2 and "pickles" in r.stderr and not marker.exists() and not (tmp_path / "out").exists()
