"""build picks the TensorRT the target describes: trt10 needs a 10.x, trt11 an 11.x, trt8 an 8.x."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import trtready.engine
from trtready.engine.engine import library_for
from trtready.errors import MissingLibraryError
from trtready.targets import resolve_target


@pytest.mark.parametrize("installed, target, ok", [
    ("11.0.1", "trt11", True), ("10.13.0", "trt11", False), ("11.0.1", "trt10", False),
    ("10.13.0", "trt10", True), ("8.6.1", "trt8", True), ("10.13.0", "trt8", False),
])
def test_build_refuses_a_tensorrt_of_another_major(monkeypatch, installed, target, ok) -> None:
    fake = SimpleNamespace(__version__=installed, __name__="tensorrt")
    monkeypatch.setattr(trtready.engine, "load_library", lambda name: fake)
    if ok:
        assert library_for(resolve_target(target)) is fake
    else:
        with pytest.raises(MissingLibraryError, match=rf"target {target} needs TensorRT .*tensorrt {installed} is installed"):
            library_for(resolve_target(target))
