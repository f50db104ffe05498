"""The command line as users meet it: exit codes, one-line errors, JSON, width, lazy imports."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import run_cli


def _onnx_bytes() -> bytes:
    w = numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "w")
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [2])], [w],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]).SerializeToString()


class _Payload:
    def __reduce__(self):
        return (exec, ("open('/tmp/trtready-pwned', 'w').write('x')",))


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    import torch

    out = {k: tmp / n for k, n in [("missing", "nope.onnx"), ("empty", "empty.onnx"), ("truncated", "trunc.onnx"),
                                   ("text", "readme.onnx"), ("directory", "dir.onnx"), ("pickle_code", "evil.pth"),
                                   ("raw_pickle", "raw.pkl")]}
    out["empty"].write_bytes(b"")
    out["truncated"].write_bytes(_onnx_bytes()[:-9])
    out["text"].write_text("this is not a model\n" * 5)
    out["directory"].mkdir()
    torch.save({"w": torch.zeros(1), "p": _Payload()}, str(out["pickle_code"]))
    out["raw_pickle"].write_bytes(pickle.dumps(_Payload(), protocol=4))
    return out


# ``make test`` takes one input of each family here — a damaged ONNX file, a path that is not a file, a
# pickle with code — as a process of its own; test_corpus.py refuses every one of them in-process.
_SAME_FAMILY = pytest.mark.full_tier("another input of a family make test already runs here as a process "
                                     "(truncated ONNX, directory, pickle with code); test_corpus.py refuses "
                                     "every one of these inputs in-process in make test")


@pytest.mark.parametrize("kind", [
    pytest.param("missing", marks=_SAME_FAMILY), pytest.param("empty", marks=_SAME_FAMILY), "truncated",
    pytest.param("text", marks=_SAME_FAMILY), "directory", "pickle_code",
    pytest.param("raw_pickle", marks=_SAME_FAMILY),
])
def test_bad_input_is_one_line_exit_2_no_traceback(tmp_path: Path, kind: str) -> None:
    path = _bad_inputs(tmp_path)[kind]
    before = sorted(p.name for p in tmp_path.iterdir())
    r = run_cli("audit", str(path), "--json", str(tmp_path / "report.json"))
    assert r.code == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trtready: error: "), r.stderr
    assert "Traceback" not in r.stderr and str(path.name) in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert not Path("/tmp/trtready-pwned").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    p = tmp_path / "empty.onnx"
    p.write_bytes(b"")
    r = run_cli("audit", str(p), "--debug")
    assert r.code != 0 and "Traceback" in r.stderr and "BadInputError" in r.stderr


def test_usage_errors_exit_2() -> None:
    r = run_cli("audit", "trtready.demo:token_model", "--dynamic", "input_ids:zero=batch[1:8]")
    assert r.code == 2 and "expected 'AXIS=DIM[MIN:MAX]'" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("audit", "trtready.demo:token_model", "--dynamic", "nosuch:0=b[1:4]")
    assert r.code == 2 and "not an input of forward" in r.stderr
    assert run_cli("audit", "x.onnx", "--target", "trt9").code == 2


def test_seed_case_from_the_command_line() -> None:
    """Without Torch-TensorRT installed the measured release is assumed: BatchNorm's counter is frozen away."""
    r = run_cli("audit", "trtready.demo:bn_cnn", "--target", "torch-trt-ts")
    assert r.code == 0, r.stdout
    flat = " ".join(r.stdout.split())
    assert "layer1.0.bn1.num_batches_tracked" in r.stdout and "lowering freezes the module" in flat
    assert "assumes torch-tensorrt-rtx 2.13.0 (not installed)" in flat
    assert "READY for torch-trt-ts" in r.stdout
    assert all(len(line) <= 100 for line in r.stdout.splitlines())
    ok = run_cli("audit", "trtready.demo:bn_cnn", "--target", "trt-rtx")
    assert ok.code == 0 and "READY for trt-rtx" in ok.stdout


def test_target_and_reason_printed_once() -> None:
    r = run_cli("audit", "trtready.demo:hash_model", "--target", "trt8")
    assert r.stdout.count("given with --target") == 1
    assert r.code == 1 and "1099511627775" in r.stdout


def test_json_to_stdout_keeps_human_output_on_stderr(tmp_path: Path) -> None:
    r = run_cli("audit", "trtready.demo:hash_model", "--target", "trt-rtx", "--json", "-")
    data = json.loads(r.stdout)
    assert r.code == 0 and data["verdict"]["ready"] is True and data["target"]["name"] == "trt-rtx"
    assert "READY for trt-rtx" in r.stderr


def test_onnx_audit_writes_json_file(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(_onnx_bytes())
    out = tmp_path / "r.json"
    r = run_cli("audit", str(model), "--target", "trt8", "--json", str(out), "--quiet")
    data = json.loads(out.read_text())
    assert r.code == 1  # x is an int64 input of unknown range: trt8 may clamp it
    assert {f["tensor"] for f in data["findings"]} == {"x", "w", "y"}
    assert len(r.stdout.strip().splitlines()) <= 2


# What the front process must not import: the libraries the jailed child (or a verb's body) needs.
_HEAVY = ("numpy", "onnx", "onnx_ir", "onnxruntime", "onnxscript", "sympy", "tensorrt", "tensorrt_rtx", "torch",
          "transformers")
_TORCH_TRT = ("torch", "tensorrt", "tensorrt_rtx", "onnxruntime")


def _imported_after(argv: list[str], heavy: tuple[str, ...] = _HEAVY) -> list[str]:
    code = (
        "import sys\nfrom trtready.cli.main import main\nfrom trtready.lazy import loaded\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', sorted(m for m in {heavy!r} if loaded(m)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    line = next(line for line in out.stdout.splitlines() if line.startswith("HEAVY"))
    return eval(line.split(" ", 1)[1])


def test_help_imports_nothing_heavy() -> None:
    assert _imported_after(["--help"]) == []
    assert _imported_after(["audit", "--help"]) == []
    assert _imported_after(["batch", "--help"]) == []
    assert _imported_after(["convert", "--help"]) == []


def test_importing_the_package_imports_nothing_heavy() -> None:
    code = f"import trtready\nfrom trtready.lazy import loaded\nprint(sorted(m for m in {_HEAVY!r} if loaded(m)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_onnx_audit_imports_no_torch_or_tensorrt(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(_onnx_bytes())
    assert _imported_after(["audit", str(model), "--quiet"], _TORCH_TRT) == []


def test_export_torchscript_traces_the_state_narrowed_module(tmp_path: Path) -> None:
    """``export --format torchscript`` runs fix's state stage first: no int64 buffer reaches the trace."""
    import torch

    r = run_cli("export", "trtready.demo:bn_cnn", "-o", str(tmp_path / "b.ts"), "--format", "torchscript",
                "--json", "-", "--quiet", cwd=tmp_path)
    assert r.code == 0, r.stderr
    data = json.loads(r.stdout[r.stdout.index("{"):])
    assert data["verb"] == "export" and data["format"] == "torchscript"
    assert data["notes"][-1].endswith("(state narrowed first)")
    buffers = {n: b.dtype for n, b in torch.jit.load(str(tmp_path / "b.ts")).named_buffers()}
    assert buffers["layer1.0.bn1.num_batches_tracked"] == torch.int32
    assert not [n for n, dtype in buffers.items() if dtype == torch.int64]
