"""Target resolution (docs/cli.md): --target, else the installed TensorRT, else trt10."""

from __future__ import annotations

import importlib.metadata
import importlib.util

import pytest

from trtready.errors import UsageError
from trtready.targets import PROFILES, resolve_target


def _fake_env(monkeypatch: pytest.MonkeyPatch, installed: dict[str, str]) -> None:
    """Pretend exactly these distributions are installed (Torch-TensorRT ones included)."""
    modules = {"tensorrt": "tensorrt", "tensorrt_rtx": "tensorrt-rtx"}
    real_find = importlib.util.find_spec

    def find_spec(name: str, *a, **k):
        if name in modules:
            return object() if modules[name] in installed else None
        return real_find(name, *a, **k)

    real_version = importlib.metadata.version

    def version(dist: str) -> str:
        if dist in installed:
            return installed[dist]
        if dist.startswith(("tensorrt", "torch-tensorrt")):
            raise importlib.metadata.PackageNotFoundError(dist)
        return real_version(dist)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(importlib.metadata, "version", version)


@pytest.mark.parametrize(
    "installed, expected",
    [
        ({"tensorrt": "8.6.1"}, "trt8"),
        ({"tensorrt": "10.13.0"}, "trt10"),
        ({"tensorrt": "11.0.0", "tensorrt-rtx": "1.7.1"}, "trt11"),
        ({"tensorrt": "11.5.0"}, "trt11"),
        ({"tensorrt-rtx": "1.7.1"}, "trt-rtx"),
        ({}, "trt10"),
    ],
)
def test_default_target_follows_installed_library(monkeypatch, installed, expected) -> None:
    _fake_env(monkeypatch, installed)
    r = resolve_target(None)
    assert r.name == expected
    if installed:
        assert "installed" in r.why
    else:
        assert "no TensorRT library" in r.why


def test_explicit_target_wins_and_unknown_is_a_usage_error(monkeypatch) -> None:
    _fake_env(monkeypatch, {"tensorrt": "8.6.1"})
    assert resolve_target("trt-rtx").name == "trt-rtx"
    with pytest.raises(UsageError, match="unknown target"):
        resolve_target("trt9")


def test_profiles_differ_where_the_facts_differ() -> None:
    assert not PROFILES["trt8"].handles_int64 and PROFILES["trt10"].handles_int64
    assert not PROFILES["torch-trt-ts"].handles_int64 and PROFILES["torch-trt-dynamo"].handles_int64
    assert "NonZero" in PROFILES["trt-rtx"].unsupported_ops and "NonZero" not in PROFILES["trt10"].unsupported_ops


def test_release_versions_order_numerically() -> None:
    from trtready.targets import version_key

    assert version_key("2.13.0+cu130") == (2, 13, 0)
    assert version_key("2.9.1") < version_key("2.13.0") < version_key("2.14.0.dev20260101")
    assert version_key("nightly") == ()


@pytest.mark.parametrize(
    "installed, release, int64",
    [
        ({}, "torch-tensorrt-rtx 2.13.0 (not installed)", "first_use_estimate"),
        ({"torch-tensorrt": "2.14.0"}, "torch-tensorrt 2.14.0 (installed)", "first_use_estimate"),
        ({"torch-tensorrt": "2.12.1"}, "torch-tensorrt 2.12.1 (installed)", "reject_state_and_io"),
        ({"torch-tensorrt-rtx": "2.13.0", "torch-tensorrt": "2.5.0"}, "torch-tensorrt 2.5.0 (installed)",
         "reject_state_and_io"),
    ],
)
def test_torchscript_facts_follow_the_installed_release(monkeypatch, installed, release, int64) -> None:
    _fake_env(monkeypatch, installed)
    resolved = resolve_target("torch-trt-ts")
    assert str(resolved.release) == release and resolved.profile.int64.value == int64
    assert not resolved.profile.handles_int64  # either way fix narrows int64 state for this target


def test_version_facts_are_limited_to_their_distribution(monkeypatch) -> None:
    from trtready.targets import active_profile

    _fake_env(monkeypatch, {"torch-tensorrt-rtx": "2.13.0"})
    assert "aten.cumsum" in active_profile("torch-trt-dynamo").torch_fallback_ops
    _fake_env(monkeypatch, {"torch-tensorrt": "2.13.0"})
    assert active_profile("torch-trt-dynamo").torch_fallback_ops == {}
    assert active_profile("trt10").release is None  # facts without versions stay as they are


def test_report_cites_the_assumed_release(monkeypatch) -> None:
    import trtready
    from trtready.report.json_report import audit_report_json

    _fake_env(monkeypatch, {"torch-tensorrt": "2.14.0"})
    data = audit_report_json(trtready.audit("trtready.demo:token_model", target="torch-trt-ts"))
    assert data["target"]["release"] == {"dist": "torch-tensorrt", "version": "2.14.0", "installed": True}
    data = audit_report_json(trtready.audit("trtready.demo:token_model", target="trt-rtx"))
    assert data["target"]["release"] is None


@pytest.mark.parametrize(
    "installed, release",
    [
        ({"tensorrt": "11.2.1"}, "tensorrt 11.2.1 (installed)"),
        ({"tensorrt-cu13": "11.5.0.12"}, "tensorrt-cu13 11.5.0.12 (installed)"),
        # a 10.x is not trt11's release: the stated default is assumed, not the installed library
        ({"tensorrt": "10.13.0"}, "tensorrt 11.5.0 (not installed)"),
        ({}, "tensorrt 11.5.0 (not installed)"),
    ],
)
def test_trt11_names_the_release_it_assumes(monkeypatch, installed, release) -> None:
    _fake_env(monkeypatch, installed)
    resolved = resolve_target("trt11")
    assert str(resolved.release) == release
    assert resolved.profile.strongly_typed and not PROFILES["trt10"].strongly_typed


def test_detected_tensorrt_11_predicts_at_its_release(monkeypatch) -> None:
    _fake_env(monkeypatch, {"tensorrt": "11.1.0"})
    r = resolve_target(None)
    assert (r.name, r.why, str(r.release)) == ("trt11", "tensorrt 11.1.0 is installed", "tensorrt 11.1.0 (installed)")
