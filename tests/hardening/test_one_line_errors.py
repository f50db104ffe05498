"""Every failure is one ``trtready: error: …`` line with exit 2 — click's usage errors too — and
``--debug`` adds a traceback without changing the exit code. Inputs that used to end as an
"internal error" are each handled where they arise."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import CliResult, run_cli


def _one_line(r: CliResult, *words: str) -> None:
    assert r.code == 2, (r.code, r.stdout[-500:], r.stderr[-1500:])
    assert r.stderr.startswith("trtready: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stdout + r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def _in_process(argv: list[str], cwd: Path, prelude: str = "") -> CliResult:
    """``trtready`` called from Python with ``argv`` as given (exec cannot pass a NUL byte; Python callers can)."""
    code = f"{prelude}\nfrom trtready.cli.main import main\nmain({argv!r})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "COLUMNS": "100"})
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _onnx(path: Path, elem: int = TensorProto.INT64, op: str = "Identity", opset: int = 17, extra: list | None = None,
          inits: list | None = None) -> Path:
    g = helper.make_graph([helper.make_node(op, ["x", *(extra or [])], ["y"])], "g",
                          [helper.make_tensor_value_info("x", elem, ["n"])], [helper.make_tensor_value_info("y", elem, ["n"])],
                          inits or [])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


@pytest.mark.parametrize("argv", [
    ["audit", "m.onnx\x00x"], ["fix", "m.onnx", "-o", "o\x00.onnx"], ["audit", "m.onnx", "--json", "r\x00.json"],
    ["verify", "m.onnx", "m.onnx", "--inputs", "in\x00.npz"], ["check-env", "m\x00.engine.json"],
    ["build", "m.onnx", "-o", "e\x00.engine"],
])
def test_nul_byte_in_a_path(tmp_path: Path, argv: list[str]) -> None:
    _onnx(tmp_path / "m.onnx")
    r = _in_process(argv, tmp_path)
    _one_line(r, "NUL byte")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_nul_byte_in_a_path_through_the_python_api(tmp_path: Path) -> None:
    import trtready

    src = _onnx(tmp_path / "m.onnx")
    with pytest.raises(trtready.TrtReadyError, match="NUL byte"):
        trtready.audit(str(src) + "\x00x")
    with pytest.raises(trtready.TrtReadyError, match="NUL byte"):
        trtready.fix(str(src), tmp_path / "o\x00.onnx")


def test_string_tensors_are_verified_exactly(tmp_path: Path) -> None:
    """``y = x + 'a'`` on ONNX STRING tensors: generated string inputs, outputs compared for equality."""
    a = _onnx(tmp_path / "a.onnx", TensorProto.STRING, "StringConcat", 20, ["k"], [helper.make_tensor("k", TensorProto.STRING, [1], [b"a"])])
    b = _onnx(tmp_path / "b.onnx", TensorProto.STRING, "StringConcat", 20, ["k"], [helper.make_tensor("k", TensorProto.STRING, [1], [b"b"])])
    r = run_cli("verify", str(a), str(a))
    assert r.code == 0 and "MATCH" in r.stdout, r.stderr
    r = run_cli("verify", str(a), str(b), "--json", "-")
    assert r.code == 1, r.stderr
    (out,) = json.loads(r.stdout)["verification"]["outputs"]
    assert out["exact"] is True and not out["passed"] and "2 element(s) differ" in out["message"]
    assert re.search(r"first at \(0,\): '(\d+)a' -> '\1b'", out["message"]), out["message"]
    npz = tmp_path / "s.npz"
    np.savez(npz, x=np.array(["ab", "cd"]))
    assert run_cli("verify", str(a), str(a), "--inputs", str(npz)).code == 0


@pytest.mark.parametrize("elem, spec, words", [
    (TensorProto.INT64, "x:0..99999999999999999999", ["no integer input holds"]),
    (TensorProto.INT32, "x:0..9999999999", ["int32", "2147483647"]),
    (TensorProto.INT32, "x:-3000000000..0", ["int32", "-2147483648"]),
])
def test_input_range_the_dtype_cannot_hold(tmp_path: Path, elem: int, spec: str, words: list[str]) -> None:
    src = _onnx(tmp_path / "m.onnx", elem)
    _one_line(run_cli("verify", str(src), str(src), "--input-range", spec), *words)
    r = run_cli("fix", str(src), "-o", str(tmp_path / "o.onnx"), "--input-range", spec)
    _one_line(r, *words)
    assert not (tmp_path / "o.onnx").exists()


@pytest.mark.parametrize("array, words", [
    (np.array(["1", "2"]), ["<U1", "int64"]),
    (np.zeros(2, dtype="V4"), ["raw or structured"]),
    (np.array([1.5, 2.0]), ["not whole numbers"]),
    (np.array([2**40, 1]), ["int32", "2147483647"]),
])
def test_npz_inputs_the_model_cannot_take(tmp_path: Path, array: np.ndarray, words: list[str]) -> None:
    src = _onnx(tmp_path / "m.onnx", TensorProto.INT32 if "int32" in words else TensorProto.INT64)
    npz = tmp_path / "in.npz"
    np.savez(npz, x=array)
    _one_line(run_cli("verify", str(src), str(src), "--inputs", str(npz)), *words)


def test_deeply_nested_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "e.engine.json"
    manifest.write_text("[" * 100_000 + "]" * 100_000)
    _one_line(run_cli("check-env", str(manifest)), "nested too deeply")
    (tmp_path / "e.engine").write_bytes(b"engine")
    _one_line(run_cli("inspect", str(tmp_path / "e.engine")), "nested too deeply")


def test_manifest_with_a_malformed_network_view(tmp_path: Path) -> None:
    import hashlib

    (tmp_path / "e.engine").write_bytes(b"engine")
    (tmp_path / "e.engine.json").write_text(json.dumps({
        "manifest_version": "1.0", "tool_version": "0", "library": {"name": "tensorrt_rtx", "version": "1.7"},
        "engine": {"sha256": hashlib.sha256(b"engine").hexdigest()}, "network": {}, "io": {}}))
    _one_line(run_cli("inspect", str(tmp_path / "e.engine")), "malformed manifest")


@pytest.mark.parametrize("profile", ["x:1x8,4x64,8x99999999999", "x:1x8,4x64,8x99999999999999999999",
                                     "x:1x8,4x64,8x3000000000"])
def test_profile_dims_past_int32(tmp_path: Path, profile: str) -> None:
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.INT64, ["b", "s"])],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, ["b", "s"])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    _one_line(run_cli("build", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "e.engine"), "--profile", profile),
              "does not fit int32")
    assert not (tmp_path / "e.engine").exists()


@pytest.mark.parametrize("args, words", [
    (["fix", "m.onnx", "--forc"], ["No such option", "--force", "trtready fix --help"]),
    (["audit"], ["Missing argument 'MODEL'"]),
    (["audit", "m.onnx", "--target", "trt7"], ["Invalid value for '--target'", "trt-rtx"]),
    (["bogus"], ["No such command 'bogus'"]),
    (["verify", "m.onnx", "m.onnx", "--trials", "0"], ["--trials"]),
])
def test_click_usage_errors_are_one_line(tmp_path: Path, args: list[str], words: list[str]) -> None:
    _onnx(tmp_path / "m.onnx")
    _one_line(run_cli(*args, cwd=tmp_path), *words)


def test_help_and_version_are_unchanged() -> None:
    r = run_cli("fix", "--help")
    assert r.code == 0 and r.stdout.startswith("Usage: trtready fix [OPTIONS] MODEL") and "--force" in r.stdout
    r = run_cli("--help")
    assert r.code == 0 and "Commands:" in r.stdout
    r = run_cli("--version")
    assert r.code == 0 and r.stdout.startswith("trtready, version ")


_BUG = "import trtready.load as l\ndef boom(*a, **k):\n    raise ZeroDivisionError('a bug')\nl.load_model = boom"


def test_internal_error_is_one_line_with_the_common_prefix(tmp_path: Path) -> None:
    src = _onnx(tmp_path / "m.onnx")
    r = _in_process(["audit", str(src), "--trust-code"], tmp_path, _BUG)  # in this process: the patch applies
    assert r.code == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("trtready: error: internal error: ZeroDivisionError: a bug"), r.stderr


def test_debug_adds_the_traceback_but_keeps_the_exit_code(tmp_path: Path) -> None:
    src = _onnx(tmp_path / "m.onnx")
    r = _in_process(["audit", str(src), "--debug", "--trust-code"], tmp_path, _BUG)
    assert r.code == 2 and "Traceback" in r.stderr and "ZeroDivisionError" in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("trtready: error: internal error: ZeroDivisionError")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    r = run_cli("audit", str(empty), "--debug")
    assert r.code == 2 and "Traceback" in r.stderr and "BadInputError" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("trtready: error: ")
