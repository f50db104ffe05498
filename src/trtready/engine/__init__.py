"""TensorRT side: the library for a target, one capturing logger, network inspection."""

from __future__ import annotations

import importlib
from typing import Any

from trtready.errors import MissingLibraryError

_INSTALL_HINT = {
    "tensorrt_rtx": "pip install tensorrt-rtx",
    "tensorrt": "pip install tensorrt (TensorRT 10+) or tensorrt==8.6.* for trt8",
}


def load_library(name: str | None = None) -> Any:
    """Import ``tensorrt_rtx`` or ``tensorrt`` (the same API surface); the first available by default."""
    names = [name] if name else ["tensorrt_rtx", "tensorrt"]
    for n in names:
        try:
            return importlib.import_module(n)
        except ImportError:
            continue
    hint = "; ".join(_INSTALL_HINT[n] for n in names if n in _INSTALL_HINT)
    raise MissingLibraryError(f"{' or '.join(names)} is not installed ({hint})")


_LOGGERS: dict[str, Any] = {}


def capturing_logger(trt: Any) -> Any:
    """The one logger of this process for ``trt`` (TensorRT ignores a second one, docs/targets.md)."""
    key = trt.__name__
    if key not in _LOGGERS:

        class _Capture(trt.ILogger):
            def __init__(self) -> None:
                trt.ILogger.__init__(self)
                self.messages: list[tuple[str, str]] = []

            def log(self, severity: Any, msg: str) -> None:
                self.messages.append((str(severity).rsplit(".", 1)[-1], msg))

        _LOGGERS[key] = _Capture()
    return _LOGGERS[key]
