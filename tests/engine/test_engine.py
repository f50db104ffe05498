"""Real TensorRT-RTX engine builds on the CPU, profiles, manifests and check-env."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import trtready
from tests.conftest import run_cli
from trtready.engine.engine import build_engine
from trtready.engine.profiles import parse_profiles
from trtready.errors import UsageError
from trtready.targets import resolve_target

RTX = resolve_target("trt-rtx")


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo BN CNN and token model after fix (ONNX carries the dynamic bounds + example shapes)."""
    root = tmp_path_factory.mktemp("fixed")
    out = {}
    for name in ("bn_cnn", "token_model"):
        trtready.fix(f"trtready.demo:{name}", root / name, target="trt-rtx")
        out[name] = root / name / "model.onnx"
    return out


@pytest.mark.parametrize("name", ["bn_cnn", "token_model"])
def test_engines_are_built_with_profiles_from_recorded_bounds(fixed, tmp_path: Path, name: str) -> None:
    engine = tmp_path / f"{name}.engine"
    result = build_engine(fixed[name], engine, RTX, {})
    assert engine.stat().st_size > 0 and result.manifest == tmp_path / f"{name}.engine.json"
    manifest = json.loads(result.manifest.read_text())
    assert manifest["library"]["name"] == "tensorrt_rtx" and manifest["engine"]["bytes"] == engine.stat().st_size
    assert manifest["model"]["sha256"] == hashlib.sha256(fixed[name].read_bytes()).hexdigest()
    net = manifest["network"]
    assert net["int64_execution_tensors"] == len(net["int64_execution_names"])
    if name == "bn_cnn":  # num_batches_tracked never reaches the network; nothing else is int64
        assert net["int64_execution_tensors"] == 0
    else:  # the int64 I/O kept by default (--io keep) and arange(seq), kept wide: narrowed, it would add a
        # host-side Cast of the size (docs/narrowing.md)
        assert {"input_ids", "argmax", "arange"} <= set(net["int64_execution_names"])
    (p,) = result.profiles
    if name == "token_model":  # 'input_ids:0=batch[1:8],1=seq[1:64]', example (2, 16)
        assert (p.min, p.opt, p.max) == ((1, 1), (2, 16), (8, 64))
        assert any("Int64 binding" in next(iter(f.predictions.values())).message for f in result.findings)
    else:  # 'x:0=batch[1:16]', example (2, 3, 32, 32)
        assert (p.min, p.opt, p.max) == ((1, 3, 32, 32), (2, 3, 32, 32), (16, 3, 32, 32))


def test_profile_outside_exported_bounds_is_refused_before_building(fixed, tmp_path: Path) -> None:
    with pytest.raises(trtready.UsageError, match=r"axis 1 range \[1, 128\] is outside the exported bounds \[1, 64\]"):
        build_engine(fixed["token_model"], tmp_path / "e", RTX, parse_profiles(["input_ids:1x1,2x16,8x128"]))
    assert not (tmp_path / "e").exists()


def test_double_output_that_becomes_float_is_reported(tmp_path: Path) -> None:
    import onnx_ir as ir

    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[4] x) => (double[4] y) { y = Cast<to=11>(x) }
    """)
    path = tmp_path / "d.onnx"
    ir.save(model, str(path))
    result = build_engine(path, tmp_path / "d.engine", RTX, {})
    (f,) = [f for f in result.findings if f.dtype == "float64"]
    assert f.tensor == "y" and "DOUBLE became FLOAT" in f.predictions["trt-rtx"].message


def test_build_inspect_check_env_cli(fixed, tmp_path: Path) -> None:
    engine = tmp_path / "tok.engine"
    r = run_cli("build", str(fixed["token_model"]), "-o", str(engine))
    assert r.code == 0 and "BUILT" in r.stdout
    again = run_cli("build", str(fixed["token_model"]), "-o", str(engine))
    assert again.code == 2 and "--force" in again.stderr
    i = run_cli("inspect", str(engine), "--diff", str(fixed["token_model"]))
    assert i.code == 0 and "network view from tok.engine.json" in i.stdout and "INT64 execution tensors" in i.stdout
    ok = run_cli("check-env", str(engine) + ".json")
    assert ok.code == 0 and "COMPATIBLE" in ok.stdout
    manifest = json.loads((tmp_path / "tok.engine.json").read_text())
    manifest["library"]["version"] = "1.0.0"
    doctored = tmp_path / "doctored.json"
    doctored.write_text(json.dumps(manifest))
    bad = run_cli("check-env", str(doctored))
    assert bad.code == 1 and "MISMATCH tensorrt_rtx: built with 1.0.0" in bad.stdout


def test_build_refuses_non_onnx_and_missing_manifest(tmp_path: Path) -> None:
    junk = tmp_path / "x.engine"
    junk.write_bytes(b"\x00\x01engine")
    r = run_cli("inspect", str(junk))
    assert r.code == 2 and ("supported GPU" in r.stderr or "not a valid ONNX" in r.stderr)
    r = run_cli("check-env", str(tmp_path / "none.json"))
    assert r.code == 2 and "no such manifest" in r.stderr


def test_a_profile_for_one_input_completes_the_inputs_sharing_its_dims() -> None:
    from trtready.bounds import parse_dynamic
    from trtready.engine.profiles import resolve_profiles

    bounds = parse_dynamic(["ids:0=b[1:8],1=s[2:64]", "mask:0=b[1:8],1=s[2:64]"])
    net = [("ids", (-1, -1)), ("mask", (-1, -1))]
    got = {p.name: p for p in resolve_profiles(net, parse_profiles(["ids:1x4,2x16,4x32"]), bounds, {})}
    assert (got["mask"].min, got["mask"].opt, got["mask"].max) == ((1, 4), (2, 16), (4, 32))
    with pytest.raises(UsageError, match="different sizes"):
        resolve_profiles(net, parse_profiles(["ids:1x4,2x16,4x32", "mask:1x4,2x8,4x32"]), bounds, {})
    with pytest.raises(UsageError, match="give --profile for mask too"):
        resolve_profiles(net, parse_profiles(["ids:1x4,2x16,4x32"]), parse_dynamic(["ids:0=b[1:8],1=s[2:64]"]), {})
