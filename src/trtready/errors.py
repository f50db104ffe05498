"""The project's error types.

Every verb maps these to exit codes (docs/cli.md): :class:`TrtReadyError` and its subclasses are
"could not do what was asked" (exit 2) and print one line without a traceback. Anything else
escaping a verb is a bug: one "internal error" line (exit 2), the traceback with ``--debug``.
"""

from __future__ import annotations


class TrtReadyError(Exception):
    """Base class: a clear, one-line reason the request could not be done (exit 2)."""

    exit_code: int = 2


class BadInputError(TrtReadyError):
    """The model file or spec is missing, unreadable, corrupt or of an unknown format."""


class UnsafeInputError(BadInputError):
    """The input would execute code or read outside its folder; refused without an explicit flag."""


class UsageError(TrtReadyError):
    """An option is malformed or inconsistent (e.g. a bad ``--dynamic`` string)."""


class UnsafeNarrowingError(TrtReadyError):
    """Narrowing would change values (a value not proved to fit) and the target cannot keep 64-bit."""


class VerificationRunError(TrtReadyError):
    """A runtime (ONNX Runtime, PyTorch) could not run a model on the verification inputs."""


class ExecutorGapError(VerificationRunError):
    """ONNX Runtime, the reference executor of verification, has no kernel for an op of the model.

    That says nothing about the model: TensorRT may build it (TensorRT-RTX parses a bfloat16 ``Mul``
    that ONNX Runtime's CPU provider cannot run). ``fix`` verifies what it can without ONNX Runtime
    and says exactly what was not run; it never refuses a model for it.
    """

    def __init__(self, what: str) -> None:
        self.what = what  # "Mul(14) on bfloat16 at node 'node_mul'"
        super().__init__(f"ONNX Runtime has no kernel for {what}")


class NarrowingError(TrtReadyError):
    """Narrowing produced a model the ONNX checker rejects (a bug to report; nothing is written)."""


class MissingLibraryError(TrtReadyError):
    """A library the request needs (tensorrt, tensorrt_rtx, torch_tensorrt) is not installed."""


def root_cause(exc: BaseException) -> BaseException:
    """Walk ``__cause__`` to the project's own error.

    onnx-ir's PassManager wraps a failing pass twice in ``PassError``; the message users need is
    the innermost :class:`TrtReadyError`.
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, TrtReadyError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return exc


class UpstreamError(TrtReadyError):
    """A library trtready drives failed on its own: torch.export, torch.onnx, ONNX Runtime or TensorRT.

    The message names the library and its first line, says that the unmodified model fails the same way
    where that was checked, and gives a hint; it is never reported as trtready's internal error.
    """

    def __init__(self, library: str, detail: str, hint: str = "") -> None:
        self.library = library
        super().__init__(f"{library} failed: {detail}" + (f" — {hint}" if hint else ""))


def first_line(e: BaseException, limit: int = 300) -> str:
    """The first line of an exception's text (its type when it has none), terminal escapes removed."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(e)).strip()
    return text.splitlines()[0][:limit] if text else type(e).__name__


def upstream_reason(e: BaseException, limit: int = 400) -> str:
    """A library's failure in one line: its outer message and, when it wraps another, the innermost
    one (torch.onnx says "Failed to decompose the FX graph"; the reason is in the exception it wraps)."""
    outer = first_line(e)
    seen: set[int] = set()
    cur: BaseException | None = e
    inner = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        inner = cur
        cur = cur.__cause__ or cur.__context__
    text = first_line(inner)
    return (outer if inner is e or text == outer else f"{outer} ({text})")[:limit]


def chain_text(e: BaseException) -> str:
    """The text of an exception and of everything it wraps (torch.onnx puts the reason in a cause)."""
    parts: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        parts.append(str(cur))
        cur = cur.__cause__ or cur.__context__
    return "\n".join(parts)


def innermost_reason(e: BaseException, limit: int = 300) -> str:
    """The first line of the innermost exception ``e`` wraps (torch.onnx's "Failed to decompose the FX
    graph …" says which step failed; the exception it wraps says why)."""
    seen: set[int] = set()
    cur: BaseException | None = e
    inner = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if str(cur).strip():
            inner = cur
        cur = cur.__cause__ or cur.__context__
    return first_line(inner, limit)
