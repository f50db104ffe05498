"""TensorRT side: the library for a target, one capturing logger, network inspection."""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from trtready.errors import MissingLibraryError

_INSTALL_HINT = {
    "tensorrt_rtx": "pip install tensorrt-rtx",
    "tensorrt": "pip install tensorrt (TensorRT 11 for trt11), tensorrt==10.* for trt10 or tensorrt==8.6.* for trt8",
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

        class _Capture(trt.ILogger):  # type: ignore[misc]  # TensorRT ships no type stubs
            def __init__(self) -> None:
                trt.ILogger.__init__(self)
                self.messages: list[tuple[str, str]] = []

            def log(self, severity: Any, msg: str) -> None:
                self.messages.append((str(severity).rsplit(".", 1)[-1], msg))

        _LOGGERS[key] = _Capture()
    return _LOGGERS[key]


_DEFERRING: threading.Event | None = None


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[threading.Event]:
    """Ctrl-C and SIGTERM while TensorRT runs are recorded in the yielded event, then raised as
    ``KeyboardInterrupt`` when the block ends.

    Python runs signal handlers between bytecodes, and while TensorRT parses or builds the only
    Python code running is the logger (and progress monitor) callbacks: a ``KeyboardInterrupt``
    raised there is caught by the bindings and dropped, and the build carries on to the end. Here
    the handlers only set the event; :func:`cancelling_monitor` turns it into a cancelled build.
    Only the main thread can install handlers; elsewhere (and when nested) the block runs as is.
    """
    global _DEFERRING
    if _DEFERRING is not None or threading.current_thread() is not threading.main_thread():
        yield _DEFERRING if _DEFERRING is not None else threading.Event()
        return
    event = threading.Event()

    def record(signum: int, frame: Any) -> None:
        event.set()

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if handler is signal.SIG_IGN:
            continue
        previous[sig] = handler
        signal.signal(sig, record)
    _DEFERRING = event
    try:
        yield event
    finally:
        _DEFERRING = None
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if event.is_set():
        raise KeyboardInterrupt


def cancelling_monitor(trt: Any, event: threading.Event) -> Any:
    """An ``IProgressMonitor`` that cancels the build at TensorRT's next step once ``event`` is set
    (``step_complete`` returning False); None where the library has no progress monitors."""
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None

    class _Cancel(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            pass

        def step_complete(self, phase_name: str, step: int) -> bool:
            return not event.is_set()

        def phase_finish(self, phase_name: str) -> None:
            pass

    return _Cancel()
