"""The heavy third-party libraries, declared once and imported on first use.

The CLI's front process (``trtready --help``, and the front half of every verb, which hands the work to a
jailed child) must not pay for numpy or the ONNX libraries: together they cost more than the whole
package. A module that needs them writes ``from trtready.lazy import np, ir`` at its top, and the
library is imported the first time one of its attributes is read. The proxies are the standard
library's :class:`importlib.util.LazyLoader` modules: a library already imported is returned as it is,
and once loaded a proxy *is* the library's module (the loader swaps its class back), so reads cost
nothing afterwards. mypy sees the real imports below ``TYPE_CHECKING``.

Only top-level, always-installed libraries are declared: ``find_spec`` of a dotted name imports the
parent, and an optional library (TensorRT, transformers, onnxruntime) keeps its in-function import,
where its absence becomes :class:`~trtready.errors.MissingLibraryError`. torch stays an in-function
import too: its import registers operators and C extensions that a half-loaded proxy must not race.

Declared exceptions. Some modules import a heavy library when they are defined, because a class in
them subclasses one of its types; their callers import them inside the function that uses them:

- ``trtready.passes.*`` graph passes: subclasses of ``onnx_ir.passes.InPlacePass`` (and, for
  ``passes/fx_*``, functions over ``torch.fx`` graphs); ``passes/__init__`` builds its pass registry
  from them;
- ``trtready.passes.onnx_model`` and ``trtready.plan.onnx_plan``: they call the passes above;
- ``trtready.demo.models``: ``torch.nn.Module`` subclasses;
- ``trtready.deploy.snippet``: it reads ``torch`` dtypes at import.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import TYPE_CHECKING

__all__ = ["ir", "lazy", "loaded", "np", "onnx"]


def lazy(name: str) -> types.ModuleType:
    """The top-level module ``name``, imported on first attribute access (returned as is if already imported)."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def loaded(name: str) -> bool:
    """Whether ``name`` has been imported: a declared library not read yet is in ``sys.modules`` but is not."""
    module = sys.modules.get(name)
    return module is not None and not isinstance(module, importlib.util._LazyModule)  # type: ignore[attr-defined]


if TYPE_CHECKING:
    import numpy as np
    import onnx
    import onnx_ir as ir
else:
    np = lazy("numpy")
    onnx = lazy("onnx")
    ir = lazy("onnx_ir")
