"""Target resolution (CLI.md): --target, else the installed TensorRT, else trt10."""

from __future__ import annotations

import importlib.metadata
import importlib.util

import pytest

from trtready.errors import UsageError
from trtready.targets import PROFILES, resolve_target


def _fake_env(monkeypatch: pytest.MonkeyPatch, installed: dict[str, str]) -> None:
    modules = {"tensorrt": "tensorrt", "tensorrt_rtx": "tensorrt-rtx"}
    real_find = importlib.util.find_spec

    def find_spec(name: str, *a, **k):
        if name in modules:
            return object() if modules[name] in installed else None
        return real_find(name, *a, **k)

    def version(dist: str) -> str:
        if dist in installed:
            return installed[dist]
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(importlib.metadata, "version", version)


@pytest.mark.parametrize(
    "installed, expected",
    [
        ({"tensorrt": "8.6.1"}, "trt8"),
        ({"tensorrt": "10.13.0"}, "trt10"),
        ({"tensorrt": "11.0.0", "tensorrt-rtx": "1.7.1"}, "trt10"),
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
    assert "NonZero" in PROFILES["trt-rtx"].build_error_ops and "NonZero" not in PROFILES["trt10"].build_error_ops
