"""The heavy third-party libraries, declared once and imported on first use.

The CLI's front process (``trtready --help``, and the front half of every verb, which hands the work to a
jailed child) must not pay for numpy or the ONNX libraries, and importing a module of the package
should not either. A module that needs them writes ``from trtready.lazy import np, ir`` at its top, and the
library is imported the first time one of its attributes is read. The proxies are the standard
library's :class:`importlib.util.LazyLoader` modules: a library already imported is returned as it is,
and once loaded a proxy *is* the library's module (the loader swaps its class back), so reads cost
nothing afterwards. mypy sees the real imports below ``TYPE_CHECKING``.

Only top-level, always-installed libraries are declared: ``find_spec`` of a dotted name imports the
parent, and an optional library (TensorRT, transformers, onnxruntime) keeps its in-function import,
where its absence becomes :class:`~trtready.errors.MissingLibraryError`. torch is not declared: the
functions that need it import it (often with submodules such as ``torch.fx``) where they run.

Declared exceptions. Imports of the package's own modules sit at the top of the importing module,
except where they cannot (each is imported inside the function that needs it):

- modules that import a heavy library when they are defined: the graph passes in ``trtready.passes``
  (subclasses of onnx_ir's and torch.fx's pass bases; ``passes/__init__`` registers them), with
  ``passes.onnx_model`` and ``plan.onnx_plan`` that run them, and ``demo.models`` (``torch.nn.Module``
  subclasses);
- an import back into a package whose ``__init__`` is still running: ``load/__init__`` and its readers
  (``torch_side``, ``state``, ``hf_config``, ``torchscript``), ``audit/__init__`` and its per-format
  audits, ``deploy/__init__`` and ``triton``, ``export.paths`` and ``export.exporter``, ``audit.ops``
  and ``audit.flow`` with ``fx``/``onnx_graph``, ``load.capture`` with ``pt2``;
- call-time seams: the verbs the CLI commands call (``trtready.api``'s ``prepare_*``/``run_*``, which
  tests replace on the module), and the functions tests replace to count or break calls
(``engine.load_library``, ``load.onnx_file.load_onnx``, ``report.json_report.fix_report_json``,
``passes.narrow_program.narrow_program``, ``export.onnx_export.translate``), and the jailed child's entry
  (``cli/jailed.py`` imports the CLI only once confined);
- optional libraries behind ``try``, which turn a missing one into
  :class:`~trtready.errors.MissingLibraryError`.
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
