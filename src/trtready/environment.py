"""The software environment, read from package metadata (nothing heavy is imported)."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import sys

from trtready import jail

PACKAGES = (
    "trtready", "torch", "onnx", "onnx-ir", "onnxscript", "onnxruntime", "numpy",
    "tensorrt", "tensorrt-rtx", "torch-tensorrt", "transformers",
)


def package_versions() -> dict[str, str | None]:
    """The installed versions (a copy: callers may change theirs)."""
    return dict(_package_versions())


@functools.cache
def _package_versions() -> dict[str, str | None]:
    """Read once per process: each metadata lookup scans every installed distribution, and a
    process does not change its own torch or TensorRT while it runs."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
        "packages": package_versions(),
        "isolation": _isolation(),
    }


def _isolation() -> str:
    if jail.ACTIVE:
        return jail.isolation().describe()
    why = jail.isolation().why_not or "a spec, --trust-code, or no model file"
    return f"in-process: {why}"
