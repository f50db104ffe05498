"""Bad and hostile inputs: one line on stderr, the documented exit code, no traceback, no file changed.

Each case builds its input in a fresh folder, hashes every file there, runs the CLI in-process, and
checks the streams, the exit code and that nothing was modified or left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from trtready.cli.main import cli


class _Payload:
    def __reduce__(self):
        return (exec, ("open('/tmp/trtready-corpus-pwned', 'w').write('x')",))


def _model(nodes=None, inits=None, opset: int = 20, outputs=None) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.arange(4, dtype=np.int64), "w")
    g = helper.make_graph(
        nodes or [helper.make_node("Add", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.INT64, [4])],
        outputs or [helper.make_tensor_value_info("y", TensorProto.INT64, [4])],
        [w] if inits is None else inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] if opset else [])


def _external(d: Path, location: str, data: bytes | None = None) -> Path:
    path = d / "m.onnx"
    onnx.save_model(_model(), str(path), save_as_external_data=True, location="w.data", size_threshold=0)
    if data is not None:
        (d / "w.data").write_bytes(data)
    proto = onnx.load(str(path), load_external_data=False)
    for e in proto.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = location
    onnx.save_model(proto, str(path))
    return path


def _save(d: Path, name: str, m: onnx.ModelProto) -> Path:
    onnx.save(m, str(d / name))
    return d / name


def _write(d: Path, name: str, data: bytes) -> Path:
    (d / name).write_bytes(data)
    return d / name


def _torch_save(d: Path, name: str, obj) -> Path:
    torch.save(obj, str(d / name))
    return d / name


def _buffer_ckpt(d: Path, value, dtype) -> Path:
    return _torch_save(d, "ckpt.pt", {"b": torch.tensor(value, dtype=dtype)})


def _ts_as_pth(d: Path) -> Path:
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)).eval()
    torch.jit.trace(m, torch.randn(3, 2)).save(str(d / "model.pth"))
    return d / "model.pth"


def _symlink_out(d: Path) -> Path:
    inner = d / "inner"
    inner.mkdir()
    path = _external(inner, "w.data")
    secret = d / "secret.bin"
    secret.write_bytes((inner / "w.data").read_bytes())
    (inner / "w.data").unlink()
    os.symlink(secret, inner / "w.data")
    return path


def _fifo(d: Path) -> Path:
    os.mkfifo(d / "pipe.onnx")
    return d / "pipe.onnx"


def _flip(d: Path) -> Path:
    data = bytearray(_model().SerializeToString())
    data[1] ^= 0xFF
    data[len(data) // 2] ^= 0xFF
    return _write(d, "flipped.onnx", bytes(data))


ZOO = textwrap.dedent("""
    import torch
    def boom():
        raise RuntimeError("weights missing")
    def wrong():
        return torch.nn.Linear(2, 2), (torch.randn(1, 2),), {}, "extra"
    def mismatch():
        return torch.nn.Linear(2, 2), (torch.randn(1, 2), torch.randn(1, 2))
    def nan_buffer():
        m = torch.nn.Module()
        m.register_buffer("b", torch.tensor([float("nan"), float("inf"), 1e300], dtype=torch.float64))
        return m, ()
""")

# (id, builder -> MODEL argument, extra CLI args, expected exit code, text expected on stderr)
Case = tuple[str, Callable[[Path], object], list[str], int, str]
CASES: list[Case] = [
    ("empty", lambda d: _write(d, "e.onnx", b""), [], 2, "empty file"),
    ("truncated", lambda d: _write(d, "t.onnx", _model().SerializeToString()[:-11]), [], 2, "ONNX"),
    ("bit-flipped", _flip, [], 2, "ONNX"),
    ("text-as-onnx", lambda d: _write(d, "r.onnx", b"just notes\n" * 20), [], 2, "ONNX"),
    ("random-bytes", lambda d: _write(d, "x.onnx", bytes(np.random.default_rng(0).integers(0, 256, 999, dtype=np.uint8))), [], 2, "not a valid ONNX model"),
    ("broken-zip", lambda d: _write(d, "z.pt", b"PK\x03\x04" + b"\0" * 40), [], 2, "zip"),
    ("ext-absolute", lambda d: _external(d, "/etc/passwd"), [], 2, "outside the model's folder"),
    ("ext-dotdot", lambda d: _external(d, "../w.data"), [], 2, "outside the model's folder"),
    ("ext-symlink", _symlink_out, [], 2, "symlink"),
    ("ext-missing", lambda d: (_external(d, "gone.data")), [], 2, "missing"),
    ("ext-truncated", lambda d: _external(d, "w.data", b"\0" * 5), [], 2, "truncated"),
    ("opset-too-new", lambda d: _save(d, "n.onnx", _model(opset=onnx.defs.onnx_opset_version() + 3)), [], 2, "newer"),
    ("no-opset", lambda d: _save(d, "o.onnx", _model(opset=0)), [], 2, "ONNX"),
    ("missing-initializer", lambda d: _save(d, "mi.onnx", _model(inits=[])), [], 2, "invalid ONNX model"),
    ("cycle", lambda d: _save(d, "c.onnx", _model(nodes=[helper.make_node("Add", ["x", "z"], ["y"]),
                                                        helper.make_node("Add", ["y", "w"], ["z"])])), [], 2, "invalid"),
    ("duplicate-names", lambda d: _save(d, "du.onnx", _model(nodes=[helper.make_node("Add", ["x", "w"], ["y"]),
                                                                   helper.make_node("Add", ["x", "w"], ["y"])])), [], 2, "SSA"),
    ("unknown-op", lambda d: _save(d, "u.onnx", _model(nodes=[helper.make_node("Nope", ["x", "w"], ["y"])])), [], 2, "Nope"),
    ("pickle-with-code", lambda d: _torch_save(d, "evil.pth", {"w": torch.zeros(1), "p": _Payload()}), [], 2, "--trust-code"),
    ("raw-pickle-code", lambda d: _write(d, "raw.pkl", pickle.dumps(_Payload(), protocol=4)), [], 2, "--trust-code"),
    ("whole-module", lambda d: _torch_save(d, "whole.pt", torch.nn.Sequential(torch.nn.BatchNorm1d(2))), [], 2, "--trust-code"),
    ("torchscript-as-pth", _ts_as_pth, [], 0, "READY for trt-rtx: 1 64-bit tensors (1 fine)"),
    ("float64-nan-inf", lambda d: _buffer_ckpt(d, [float("nan"), float("inf"), 0.5], torch.float64), [], 1, "value inf exceeds"),
    ("int32-max-fits", lambda d: _buffer_ckpt(d, [2**31 - 1], torch.int64), ["--target", "trt8"], 0, "READY for trt8: 1 64-bit tensors (1 cast)"),
    ("int32-max-plus-1", lambda d: _buffer_ckpt(d, [2**31], torch.int64), ["--target", "trt8"], 1, "value 2147483648 is clamped"),
    ("int32-min-minus-1", lambda d: _buffer_ckpt(d, [-(2**31) - 1], torch.int64), ["--target", "trt8"], 1, "value -2147483649 is clamped"),
    ("factory-raises", lambda d: "corpus_zoo:boom", [], 2, "RuntimeError: weights missing"),
    ("factory-wrong-shape", lambda d: "corpus_zoo:wrong", [], 2, "must return"),
    ("inputs-mismatch", lambda d: "corpus_zoo:mismatch", [], 2, "do not match"),
    ("no-such-spec", lambda d: "corpus_zoo_nothere:make", [], 2, "cannot import"),
    ("directory", lambda d: d, [], 2, "is a directory"),
    ("fifo", _fifo, [], 2, "not a regular file"),
    ("missing-file", lambda d: d / "nope.onnx", [], 2, "no such file"),
    ("bad-safetensors", lambda d: _write(d, "s.safetensors", (40).to_bytes(8, "little") + b"{" + b"\xff" * 39), [], 2, "safetensors"),
    ("truncated-safetensors", lambda d: _write(d, "t.safetensors", (60).to_bytes(8, "little") + b'{"w": {"dtype": "I64", "shape": [8], "data_offsets": [0, 64]}}'[:60]), [], 2, "safetensors"),
    ("bad-dynamic", lambda d: "trtready.demo:token_model", ["--dynamic", "input_ids:1=seq[9:2]"], 2, "minimum 9 exceeds maximum 2"),
]


def _hashes(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink() and not p.is_fifo():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_symlink() or p.is_dir() or p.is_fifo():
            out[str(p.relative_to(folder))] = "special"
    return out


@pytest.fixture(autouse=True)
def _zoo(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    zoo = tmp_path_factory.mktemp("zoo")
    (zoo / "corpus_zoo.py").write_text(ZOO)
    monkeypatch.syspath_prepend(str(zoo))
    yield
    sys.modules.pop("corpus_zoo", None)


def _run_case(tmp_path: Path, case: Case, verb: str) -> tuple[object, Path, dict[str, str], Path]:
    """Build the case's input in a fresh folder and run ``trtready VERB MODEL …`` on it in-process."""
    _, build, extra, _, _ = case
    work = tmp_path / "in"
    work.mkdir()
    model = str(build(work))
    out = tmp_path / "out"
    out.mkdir()
    before = _hashes(work)
    args = ["audit", model, *extra, "--quiet"] if verb == "audit" else ["fix", model, "-o", str(out / "result"), *extra]
    return CliRunner().invoke(cli, args), work, before, out


def _nothing_changed(work: Path, before: dict[str, str], out: Path) -> None:
    assert _hashes(work) == before
    assert list(out.iterdir()) == []
    assert not Path("/tmp/trtready-corpus-pwned").exists()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(tmp_path: Path, case: Case) -> None:
    _, _, _, code, text = case
    audit, work, before, out = _run_case(tmp_path, case, "audit")
    assert audit.exit_code == code, (audit.stdout, audit.stderr)
    if code == 2:
        lines = audit.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("trtready: error:") and text in lines[0], audit.stderr
        assert "Traceback" not in audit.stderr + audit.stdout
    else:  # the verdict line names what was found (rich wraps it at the terminal's width)
        assert text in " ".join(audit.stdout.split()), audit.stdout
    _nothing_changed(work, before, out)


# The refused inputs through ``fix`` as well: the same refusal on the way to a written output. ``make test``
# takes every third (the list runs format by format, so each reader meets ``fix``); the full tier, all.
REFUSED_CASES = [c for c in CASES if c[3] == 2]


def _fix_params() -> list[object]:
    rest = pytest.mark.full_tier("every refused input through fix; make test sends every third (each reader "
                                 "meets fix) and every input through audit (test_bad_input)")
    return [pytest.param(c, id=c[0], marks=() if n % 3 == 0 else rest) for n, c in enumerate(REFUSED_CASES)]


@pytest.mark.parametrize("case", _fix_params())
def test_bad_input_refused_by_fix_too(tmp_path: Path, case: Case) -> None:
    fix, work, before, out = _run_case(tmp_path, case, "fix")
    assert fix.exit_code == 2 and len(fix.stderr.strip().splitlines()) == 1, fix.stderr
    assert fix.stderr.startswith("trtready: error:") and "Traceback" not in fix.stderr + fix.stdout, fix.stderr
    _nothing_changed(work, before, out)


@pytest.mark.parametrize("value, code", [(2**31 - 1, 0), (2**31, 2), (-(2**31) - 1, 2)])
def test_int32_edges_through_fix_for_trt8(tmp_path: Path, value: int, code: int) -> None:
    ckpt = _buffer_ckpt(tmp_path, [value], torch.int64)
    r = CliRunner().invoke(cli, ["fix", str(ckpt), "-o", str(tmp_path / "n.pt"), "--target", "trt8"])
    assert r.exit_code == code, r.stderr
    if code == 0:
        assert torch.load(str(tmp_path / "n.pt"))["b"].dtype == torch.int32
    else:
        assert str(value) in r.stderr and not (tmp_path / "n.pt").exists()


def test_output_folder_problems(tmp_path: Path) -> None:
    model = _save(tmp_path, "m.onnx", _model())
    runner = CliRunner()
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    r = runner.invoke(cli, ["fix", str(model), "-o", str(blocker / "out.onnx"), "--input-range", "x:0..3"])
    assert r.exit_code == 2 and "is not a folder" in r.stderr
    r = runner.invoke(cli, ["fix", str(model), "-o", str(model), "--force", "--input-range", "x:0..3"])
    assert r.exit_code == 2 and "is an input" in r.stderr


@contextlib.contextmanager
def _tmpfs(path: Path, options: str):
    """A small tmpfs at ``path`` (root ignores file modes: a mount is the way to make a folder unwritable)."""
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root and mount permission)")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)


def test_read_only_output_folder(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        src = _save(tmp_path, "m.onnx", _model())
        r = CliRunner().invoke(cli, ["fix", str(src), "-o", str(ro / "out.onnx"), "--input-range", "x:0..3"])
        assert r.exit_code == 2 and "not writable" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_full_disk_leaves_nothing_behind(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "small", "size=24k") as mnt:
        big = np.arange(100_000, dtype=np.float32).reshape(25_000, 4)  # 400 KB of weights, 24 KB of disk
        m = _model(nodes=[helper.make_node("Add", ["x", "w"], ["i"]), helper.make_node("Gather", ["big", "i"], ["y"])],
                   inits=[numpy_helper.from_array(np.arange(4, dtype=np.int64), "w"), numpy_helper.from_array(big, "big")],
                   outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 4])])
        src = _save(tmp_path, "m.onnx", m)
        r = CliRunner().invoke(cli, ["fix", str(src), "-o", str(mnt / "out.onnx"), "--input-range", "x:0..3"])
        assert r.exit_code == 2 and "cannot write" in r.stderr, r.stderr
        assert list(mnt.iterdir()) == []


SLOW_ZOO = textwrap.dedent("""
    import time, torch
    def slow():
        time.sleep(30)
        return torch.nn.Linear(2, 2), (torch.randn(1, 2),)
""")


def test_sigterm_unwinds_with_exit_130(tmp_path: Path) -> None:
    import signal
    import time

    (tmp_path / "slow_zoo.py").write_text(SLOW_ZOO)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "trtready", "convert", "slow_zoo:slow", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(4.0)  # the factory sleeps for 30 s: the signal lands mid-run
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow_zoo.py"]


@pytest.mark.parametrize("where", ["onnx-pair", "folder"])
def test_interrupt_while_writing_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    import trtready
    import trtready.outputs as outputs

    real_rename = os.rename
    calls = []

    def interrupted_rename(src, dst):  # Ctrl-C at the swap (a pair: after its first file is in place)
        calls.append(dst)
        if len(calls) == (2 if where == "onnx-pair" else 1):
            raise KeyboardInterrupt
        return real_rename(src, dst)

    monkeypatch.setattr(outputs, "EXTERNAL_DATA_THRESHOLD", 16)  # model + .data: a two-file artifact
    monkeypatch.setattr(os, "rename", interrupted_rename)
    if where == "onnx-pair":
        src = _save(tmp_path, "m.onnx", _model())
        with pytest.raises(KeyboardInterrupt):
            trtready.fix(str(src), tmp_path / "out.onnx", input_range=["x:0..3"])
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # neither half of the pair stays
    else:
        with pytest.raises(KeyboardInterrupt):
            trtready.fix("trtready.demo:bn_cnn", tmp_path / "out", target="trt-rtx")
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
