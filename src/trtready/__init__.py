"""trtready: make PyTorch and ONNX models TensorRT-ready.

Public verbs mirror the CLI (CLI.md): same names, same options as keyword arguments. Heavy
libraries (torch, TensorRT) are imported only by the verbs that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trtready.errors import (
    BadInputError,
    MissingLibraryError,
    TrtReadyError,
    UnsafeInputError,
    UnsafeNarrowingError,
    UsageError,
)
from trtready.load.spec import ModelSpec

# Subpackages share their names with the verbs below. Importing them first (they are light: no
# torch, no TensorRT) means the verb functions defined afterwards are what ``trtready.audit`` names;
# a later ``from trtready.audit import …`` finds the package in sys.modules and leaves them alone.
import trtready.audit as _audit_pkg  # noqa: E402,F401  isort: skip

if TYPE_CHECKING:
    from trtready.audit import AuditReport

__version__ = "0.1.0"

__all__ = [
    "BadInputError",
    "MissingLibraryError",
    "ModelSpec",
    "TrtReadyError",
    "UnsafeInputError",
    "UnsafeNarrowingError",
    "UsageError",
    "__version__",
    "audit",
]


def audit(
    model: "str | ModelSpec",
    *,
    target: str | None = None,
    dynamic: list[str] | None = None,
    input_range: list[str] | None = None,
    trust_code: bool = False,
) -> "AuditReport":
    """Find every int64/float64 tensor in ``model`` and predict what ``target`` does with it.

    Args:
        model: a path (.onnx, .pt2, TorchScript, checkpoint, .safetensors), a
            ``package.module:factory`` spec, or a :class:`ModelSpec`.
        target: ``trt8``, ``trt10``, ``trt-rtx``, ``torch-trt-ts`` or ``torch-trt-dynamo``; default:
            the TensorRT that is installed (see :func:`trtready.targets.resolve_target`).
        dynamic: ``'NAME:AXIS=DIM[MIN:MAX],…'`` bounds (also taken from a ModelSpec).
        input_range: ``'NAME:LO..HI'`` bounds on integer inputs' values.
        trust_code: unpickle arbitrary objects from checkpoints (runs code: only for trusted files).

    Returns:
        An :class:`~trtready.audit.AuditReport`, truthy when the model is ready for the target.
    """
    from trtready.audit import AuditReport, audit_loaded
    from trtready.bounds import parse_dynamic, parse_input_ranges
    from trtready.load import load_model
    from trtready.targets import resolve_target

    resolved = resolve_target(target)
    loaded = load_model(model, trust_code=trust_code)
    bounds = parse_dynamic(list(dynamic or []) + loaded.dynamic)
    ranges = parse_input_ranges(list(input_range or []) + loaded.input_ranges)
    return AuditReport(audit_loaded(loaded, bounds, ranges), resolved)
