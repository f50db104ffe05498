"""Hostile files are data, never code.

Each case carries a payload that creates a marker file when the unguarded library loads it; the
first test proves every payload is live, the others that trtready never runs it under any verb
(audit, fix, export, verify, convert): the marker never appears, the input stays byte-identical, an
error is one ``trtready: error:`` line (no traceback) and a refused run writes nothing. A ``.pt2``
may be refused or read as data (its code never run), so the exit code may be 0, 1 or 2; pickled
weights and opaque constants cannot be read without unpickling, so those are refused. TorchScript
is audited as data.
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
    "pt2-sympy-string": (craft.pt2_sympy_string, "torch.export.load(p)"),
    "pt2-models-suffix": (craft.pt2_models_suffix, "torch.export.load(p)"),
    "pt2-guard-string": (craft.pt2_guard_string, "torch.export.load(p).module()"),
    "pt2-str-input": (craft.pt2_str_input, "torch.export.load(p).module()"),
    "pt2-cond-branch-name": (craft.pt2_cond_branch_name, "torch.export.load(p)"),
    "pt2-param-fqn": (craft.pt2_param_fqn, "torch.export.load(p).module()"),
    "torchscript-setstate": (craft.torchscript_setstate, "torch.jit.load(p)"),
}
# What each payload meets in trtready's reader: refused with this text, or (absent here) never read —
# guards are dropped and example inputs are not unpickled, so the verb works without them.
REFUSED = {
    "pt2-pickled-weight": "is a pickle",
    "pt2-opaque-constant": "pickled object",
    "pt2-sympy-expression": "shape expression",
    "pt2-sympy-string": "shape expression",
    "pt2-models-suffix": "unexpected member",
    "pt2-str-input": "string value",
    "pt2-cond-branch-name": "is not a name",
    "pt2-param-fqn": "not a dotted name",
}


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _tree(folder: Path) -> dict[str, str]:
    """Every file (sha256) and folder under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(folder.rglob("*"))}


def _make(tmp_path: Path, case: str) -> tuple[Path, Path]:
    marker = tmp_path / "PWNED"
    maker, _ = LIVE[case]
    path = maker(tmp_path, marker)
    for p in tmp_path.iterdir():
        if p.name == "clean.pt2":
            p.unlink()
    return path, marker


@pytest.mark.full_tier("checks the fixtures themselves: each payload runs under plain torch")
@pytest.mark.parametrize("case", sorted(LIVE))
def test_payload_is_live(tmp_path: Path, case: str) -> None:
    """Without trtready the payload runs: the case is a real attack, not a broken file."""
    path, marker = _make(tmp_path, case)
    _, trigger = LIVE[case]
    code = f"import torch, warnings\nwarnings.simplefilter('ignore')\np = {str(path)!r}\ntry:\n    {trigger}\nexcept Exception:\n    pass\n"
    subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300, cwd=tmp_path)
    assert marker.exists()


# What each verb may write when it succeeds (top-level names in the test folder).
_OUTPUTS = {"audit": set(), "fix": {"out"}, "export": {"out.onnx", "out.onnx.data"}, "verify": set(),
            "convert": {"conv"}}


def assert_one_error_line(r) -> None:
    """No traceback anywhere; an error is exactly one ``trtready: error:`` line on stderr."""
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    if r.code == 2 or "trtready: error:" in r.stderr:
        assert r.stderr.startswith("trtready: error:") and r.stderr.count("\n") == 1, r.stderr


VERBS = ["audit", "fix", "export", "verify", "convert"]
PT2 = sorted(c for c in LIVE if c.startswith("pt2"))
# ``make test`` runs each payload through one verb, the verbs rotated over the payloads (every verb meets
# two or three); the full tier runs the whole payload x verb matrix. The rotation starts one verb in so
# that the three payloads read as data (example inputs, guard code, guard string: the verb gets past
# them) meet export, verify and convert, the verbs that run the program and need inputs for it.
DEFAULT_VERB = {case: VERBS[(i + 1) % len(VERBS)] for i, case in enumerate(PT2)}


def _matrix() -> list[object]:
    """(verb, case) for every pair, ids as ``verb-case``; pairs off the rotation are full tier."""
    rest = pytest.mark.full_tier("the rest of the payload x verb matrix; make test sends each payload "
                                 "through one verb, rotated so that every verb meets hostile payloads")
    return [pytest.param(verb, case, id=f"{verb}-{case}", marks=() if DEFAULT_VERB[case] == verb else rest)
            for verb in VERBS for case in PT2]


def test_rotation_covers_every_verb_and_payload() -> None:
    """The default tier's sample is a real sample: every payload once, every verb with a refused payload
    and the three verbs that run the program with a payload they must read past."""
    assert set(DEFAULT_VERB) == set(PT2)
    met = {verb: {c for c, v in DEFAULT_VERB.items() if v == verb} for verb in VERBS}
    assert all(met[verb] & set(REFUSED) for verb in VERBS), met
    assert all(met[verb] - set(REFUSED) for verb in ("export", "verify", "convert")), met


@pytest.mark.parametrize("verb, case", _matrix())
def test_pt2_payload_never_runs(tmp_path: Path, case: str, verb: str) -> None:
    """Read as data, the archive's payload is either never read (example inputs, guards: the verb
    works without it) or refused with one line (pickled weights, shape strings outside the grammar)."""
    path, marker = _make(tmp_path, case)
    before = _tree(tmp_path)
    args = {
        "audit": ["audit", str(path)],
        "fix": ["fix", str(path), "-o", str(tmp_path / "out")],
        "export": ["export", str(path), "-o", str(tmp_path / "out.onnx")],
        "verify": ["verify", str(path), str(path)],
        "convert": ["convert", str(path), "-o", str(tmp_path / "conv")],
    }[verb]
    r = run_cli(*args, cwd=tmp_path)
    assert not marker.exists(), f"the payload ran under `trtready {verb}`"
    assert r.code in (0, 1, 2), r.stderr
    assert_one_error_line(r)
    if case in REFUSED:
        assert r.code == 2 and REFUSED[case] in r.stderr, r.stderr
    else:
        assert r.code in (0, 1), r.stderr
    after = _tree(tmp_path)
    assert after[path.name] == before[path.name]  # the input is byte-identical
    if r.code == 2:
        assert after == before  # a refused run writes nothing
    else:
        assert {k: v for k, v in after.items() if k in before} == before
        assert {k.split("/")[0] for k in after if k not in before} <= _OUTPUTS[verb]


def test_legitimate_dtype_conversion_is_audited(tmp_path: Path) -> None:
    """``x.to(dtype)`` exports ``aten._assert_tensor_metadata`` (a check on the tensor, no file or
    process): a legitimate program using it is audited, not refused."""
    import torch

    class Cast(torch.nn.Module):
        def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
            return x.to(torch.float16) + ids.to(torch.int32).to(torch.float16)

    ep = torch.export.export(Cast(), (torch.randn(2, 4), torch.arange(4)))
    assert any("_assert_tensor_metadata" in str(n.target) for n in ep.graph.nodes)
    path = tmp_path / "cast.pt2"
    torch.export.save(ep, str(path))
    r = run_cli("audit", str(path), cwd=tmp_path)
    assert r.code in (0, 1), r.stderr
    assert "refused" not in r.stderr and "not a tensor operation" not in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_torchscript_is_audited_as_data(tmp_path: Path) -> None:
    path, marker = _make(tmp_path, "torchscript-setstate")
    before = _digest(tmp_path)
    r = run_cli("audit", str(path), "--json", "-", cwd=tmp_path)
    assert r.code == 0 and not marker.exists()
    assert "read as data, its code not run" in r.stderr  # the report goes to stdout, the table to stderr
    fix = run_cli("fix", str(path), "-o", str(tmp_path / "out.pt"), cwd=tmp_path)
    assert fix.code == 2 and "--trust-code" in fix.stderr and fix.stderr.count("\n") == 1
    assert not marker.exists() and _digest(tmp_path) == before


def test_torchscript_strides_that_do_not_match_the_sizes_are_refused(tmp_path: Path) -> None:
    """A stride tuple one shorter than its size tuple in data.pkl: refused by name, torch never sees it."""
    import warnings
    import zipfile

    import torch

    from trtready.errors import BadInputError
    from trtready.load.torchscript import read_torchscript

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(torch.nn.Linear(4, 2)), str(tmp_path / "m.pt"))
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(tmp_path / "m.pt") as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/data.pkl"):
                assert data.count(b"(K\x04K\x01t") == 1  # the weight's stride tuple (4, 1), protocol 2
                data = data.replace(b"(K\x04K\x01t", b"(K\x01t")
            dst.writestr(info, data)
    with pytest.raises(BadInputError, match="2 sizes and 1 strides"):
        read_torchscript(bad)


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
