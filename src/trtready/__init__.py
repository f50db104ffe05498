"""trtready: make PyTorch and ONNX models TensorRT-ready.

Public verbs mirror the CLI (docs/cli.md): same names, same options as keyword arguments. This module
only names them; they live in :mod:`trtready.api` (``batch`` in :mod:`trtready.batch`). Heavy
libraries (torch, TensorRT) are imported only by the verbs that need them.
"""

from __future__ import annotations

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
# torch, no TensorRT) means the verb functions imported afterwards are what ``trtready.audit`` names;
# a later ``from trtready.audit import …`` finds the package in sys.modules and leaves them alone.
import trtready.audit as _audit_pkg  # noqa: E402,F401  isort: skip
import trtready.fix as _fix_pkg  # noqa: E402,F401  isort: skip
import trtready.verify as _verify_pkg  # noqa: E402,F401  isort: skip
import trtready.export as _export_pkg  # noqa: E402,F401  isort: skip
import trtready.deploy as _deploy_pkg  # noqa: E402,F401  isort: skip
import trtready.batch as _batch_module  # noqa: E402,F401  isort: skip

# The verbs themselves: their bodies and the one request builder each shares with the CLI (api.py);
# ``batch`` runs the others over many models and lives with its pool (batch.py).
from trtready.api import (  # noqa: E402  isort: skip
    audit,
    build,
    check_config,
    check_env,
    convert,
    deploy,
    export,
    fix,
    inspect,
    verify,
)
from trtready.batch import batch  # noqa: E402  isort: skip
from trtready.version import __version__

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
    "batch",
    "build",
    "check_config",
    "check_env",
    "convert",
    "deploy",
    "export",
    "fix",
    "inspect",
    "verify",
]
