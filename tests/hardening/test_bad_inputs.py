"""Bad inputs end in one ``trtready: error:`` line (exit 2) — or are audited — never in an internal error."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from tests.conftest import run_cli
from tests.hardening.craft import rewrite_zip


def _one_error_line(r) -> None:
    assert r.code == 2, (r.code, r.stdout[-500:], r.stderr[-1500:])
    assert r.stderr.startswith("trtready: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stdout + r.stderr


def _checkpoint_with_pickle(tmp: Path, name: str, data_pkl: bytes) -> Path:
    torch.save({"w": torch.arange(3)}, str(tmp / "base.pt"))
    out = rewrite_zip(tmp / "base.pt", tmp / name, lambda t, d: data_pkl if t == "data.pkl" else d)
    (tmp / "base.pt").unlink()
    return out


def test_deeply_nested_checkpoint(tmp_path: Path) -> None:
    depth = 100_000  # far past Python's recursion limit
    key = b"X\x01\x00\x00\x00a"
    pkl = b"\x80\x02" + (b"}" + key) * depth + b"}" + b"s" * depth + b"."
    r = run_cli("audit", str(_checkpoint_with_pickle(tmp_path, "deep.pt", pkl)))
    _one_error_line(r)
    assert "holds no tensors" in r.stderr


def test_cyclic_checkpoint(tmp_path: Path) -> None:
    pkl = b"\x80\x02]q\x00h\x00a."  # a list that contains itself
    r = run_cli("audit", str(_checkpoint_with_pickle(tmp_path, "cycle.pt", pkl)))
    _one_error_line(r)
    assert "holds no tensors" in r.stderr


def test_sparse_checkpoint_is_audited_by_its_values(tmp_path: Path) -> None:
    s = torch.sparse_coo_tensor(torch.tensor([[0, 7]]), torch.tensor([3, 2**40]), (2**36,), check_invariants=True)
    path = tmp_path / "sparse.pt"
    torch.save({"s": s, "d": torch.ones(2)}, str(path))
    r = run_cli("audit", str(path), "--target", "trt8", "--json", "-")
    assert r.code == 1, r.stderr
    (finding,) = [f for f in json.loads(r.stdout)["findings"] if f["tensor"] == "s"]
    assert finding["interval"] == {"lo": 0, "hi": 2**40} and finding["shape"] == [2**36]  # the zeros count too


def test_sparse_checkpoint_with_indices_out_of_range(tmp_path: Path) -> None:
    s = torch.sparse_coo_tensor(torch.tensor([[0, 2**40]]), torch.tensor([3, 5]), (8,), check_invariants=False)
    path = tmp_path / "bad_sparse.pt"
    torch.save({"s": s}, str(path))
    r = run_cli("audit", str(path))
    _one_error_line(r)
    assert "inconsistent with indices" in r.stderr


def test_meta_checkpoint_is_audited_without_values(tmp_path: Path) -> None:
    path = tmp_path / "meta.pt"
    torch.save({"n": torch.empty(3, dtype=torch.int64, device="meta")}, str(path))
    r = run_cli("audit", str(path), "--target", "trt-rtx", "--json", "-")
    assert r.code in (0, 1), r.stderr
    (finding,) = json.loads(r.stdout)["findings"]
    assert finding["interval"] is None and "meta tensor" in " ".join(finding["notes"])


def _safetensors(path: Path, header: object, data: bytes = b"") -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


@pytest.mark.parametrize("entry, what", [
    ({"dtype": "I64", "shape": [2], "data_offsets": [8, 0]}, "beyond the end"),
    ({"dtype": "I64", "shape": [2], "data_offsets": [-8, 8]}, "beyond the end"),
    ({"dtype": "I64", "shape": [2], "data_offsets": ["0", 16]}, "beyond the end"),
    ({"dtype": "I64", "shape": [3], "data_offsets": [0, 16]}, "spans 16 bytes"),
    ({"dtype": "Q99", "shape": [2], "data_offsets": [0, 16]}, "unknown dtype"),
    ({"dtype": "I64", "shape": ["2"], "data_offsets": [0, 16]}, "malformed shape"),
    ({"dtype": "I64", "shape": [-2, -1], "data_offsets": [0, 16]}, "negative dimension"),
    ({"dtype": "I64"}, "lacks dtype, shape or data_offsets"),
    ("not an object", "lacks dtype, shape or data_offsets"),
])
def test_malformed_safetensors_entries(tmp_path: Path, entry: object, what: str) -> None:
    r = run_cli("audit", str(_safetensors(tmp_path / "bad.safetensors", {"w": entry}, bytes(16))))
    _one_error_line(r)
    assert what in r.stderr


def test_safetensors_header_longer_than_the_file(tmp_path: Path) -> None:
    path = tmp_path / "short.safetensors"
    path.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    _one_error_line(run_cli("audit", str(path)))


@pytest.mark.parametrize("manifest", [
    "[]", "not json", json.dumps({"manifest_version": "1.0", "library": "tensorrt_rtx"}),
    json.dumps({"manifest_version": "1.0", "library": {"name": "tensorrt_rtx", "version": 1}}),
    json.dumps({"manifest_version": "1.0", "library": {"name": "tensorrt_rtx", "version": "1.7"}, "gpu": {"compute_capability": 8.9}}),
    json.dumps({"manifest_version": "1.0", "library": {"name": "tensorrt_rtx", "version": "1.7"}, "environment": {"packages": ["torch"]}}),
    json.dumps({"manifest_version": "1.0", "library": {"name": "tensorrt_rtx", "version": "1.7"}, "gpu": []}),
])
def test_malformed_manifests(tmp_path: Path, manifest: str) -> None:
    path = tmp_path / "m.engine.json"
    path.write_text(manifest)
    _one_error_line(run_cli("check-env", str(path)))


def test_check_env_says_what_it_could_not_compare(tmp_path: Path) -> None:
    import importlib.metadata

    path = tmp_path / "m.engine.json"
    version = importlib.metadata.version("tensorrt-rtx")
    path.write_text(json.dumps({"manifest_version": "1.0", "library": {"name": "tensorrt_rtx", "version": version},
                                "gpu": {"compute_capability": None}}))
    r = run_cli("check-env", str(path))
    assert r.code == 0 and "not compared" in r.stdout and "GPU compute capability" in r.stdout


def test_damaged_pt2_is_one_line_without_torch_tracebacks(tmp_path: Path) -> None:
    from tests.hardening.craft import clean_pt2

    clean = clean_pt2(tmp_path / "clean.pt2")
    bad = rewrite_zip(clean, tmp_path / "bad.pt2", lambda t, d: b"{" if t == "models/model.json" else d)
    r = run_cli("audit", str(bad))
    _one_error_line(r)
    assert "models/model.json is not valid JSON" in r.stderr


def _onnx(path: Path, nodes, inputs, outputs, inits=(), sparse=()) -> Path:
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits), sparse_initializer=list(sparse))
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_names_with_escape_codes_and_markup_are_printed_escaped(tmp_path: Path) -> None:
    evil = "\x1b[2J\x1b]0;owned\x07[/bold][red]x\u202e"
    path = _onnx(tmp_path / "names.onnx", [helper.make_node("Add", ["a", "k"], [evil])],
                 [helper.make_tensor_value_info("a", TensorProto.INT64, [2])],
                 [helper.make_tensor_value_info(evil, TensorProto.INT64, [2])],
                 [helper.make_tensor("k", TensorProto.INT64, [1], [2**40])])
    for extra in ([], ["--quiet"]):
        r = run_cli("audit", str(path), "--target", "trt8", *extra)
        assert r.code == 1, r.stderr
        out = r.stdout + r.stderr
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        if not extra:  # shown, not obeyed (the table may fold the name across lines)
            assert "\\x1b[2J\\x1b]0;owned\\x07[/bo" in out
    r = run_cli("fix", str(path), "-o", str(tmp_path / "o.onnx"), "--target", "trt8", "--input-range", "a:0..3")
    _one_error_line(r)
    assert "\\x1b[2J" in r.stderr and "\x1b" not in r.stderr


def test_sparse_initializers_are_audited_and_densified(tmp_path: Path) -> None:
    values = helper.make_tensor("sp", TensorProto.INT64, [2], [5, 2**40])
    indices = helper.make_tensor("sp_idx", TensorProto.INT64, [2], [0, 3])
    path = _onnx(tmp_path / "sparse.onnx", [helper.make_node("Add", ["x", "sp"], ["y"])],
                 [helper.make_tensor_value_info("x", TensorProto.INT64, [4])],
                 [helper.make_tensor_value_info("y", TensorProto.INT64, [4])],
                 sparse=[helper.make_sparse_tensor(values, indices, [4])])
    r = run_cli("audit", str(path), "--target", "trt8", "--json", "-")
    assert r.code == 1
    data = json.loads(r.stdout)
    sp = next(f for f in data["findings"] if f["tensor"] == "sp")
    assert sp["interval"] == {"lo": 0, "hi": 2**40} and sp["predictions"]["trt8"]["outcome"] == "clamp"
    assert any("densified" in n for n in data["notes"])
    out = tmp_path / "o.onnx"
    assert run_cli("fix", str(path), "-o", str(out), "--target", "trt-rtx").code == 0

    dense = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    assert dense["sp"].tolist() == [5, 0, 0, 2**40]


def test_uint64_is_audited_and_never_silently_kept(tmp_path: Path) -> None:
    path = _onnx(tmp_path / "u64.onnx", [helper.make_node("Cast", ["u"], ["y"], to=TensorProto.INT32)], [],
                 [helper.make_tensor_value_info("y", TensorProto.INT32, [2])],
                 [helper.make_tensor("u", TensorProto.UINT64, [2], [1, 2**63 + 5])])
    r = run_cli("audit", str(path), "--target", "trt-rtx", "--json", "-")
    assert r.code == 1
    (u,) = [f for f in json.loads(r.stdout)["findings"] if f["tensor"] == "u"]
    assert u["dtype"] == "uint64" and u["interval"] == {"lo": 1, "hi": 2**63 + 5}
    assert u["predictions"]["trt-rtx"]["outcome"] == "error" and "UINT64" in u["predictions"]["trt-rtx"]["message"]
    fix = run_cli("fix", str(path), "-o", str(tmp_path / "o.onnx"), "--target", "trt-rtx")
    _one_error_line(fix)
    assert "uint64" in fix.stderr and not (tmp_path / "o.onnx").exists()


@pytest.mark.parametrize("option", [["--dynamic", "idz:0=b[1:4]"], ["--input-range", "idz:0..3"]])
def test_unknown_input_names_in_bounds_are_errors_for_onnx(tmp_path: Path, option: list[str]) -> None:
    path = _onnx(tmp_path / "m.onnx", [helper.make_node("Identity", ["ids"], ["y"])],
                 [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
                 [helper.make_tensor_value_info("y", TensorProto.INT64, ["n"])])
    for verb in (["audit", str(path)], ["fix", str(path), "-o", str(tmp_path / "o.onnx")]):
        r = run_cli(*verb, *option)
        _one_error_line(r)
        assert "idz" in r.stderr and "not an input" in r.stderr


def test_unknown_profile_name_is_an_error(tmp_path: Path) -> None:
    path = _onnx(tmp_path / "m.onnx", [helper.make_node("Identity", ["ids"], ["y"])],
                 [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
                 [helper.make_tensor_value_info("y", TensorProto.INT64, ["n"])])
    r = run_cli("build", str(path), "-o", str(tmp_path / "e.engine"), "--profile", "ids:1,2,4", "--profile", "idz:1,2,4")
    _one_error_line(r)
    assert "idz" in r.stderr and not (tmp_path / "e.engine").exists()
