"""Runners: ONNX Runtime for ONNX files, PyTorch eager for modules and ExportedPrograms.

Both follow :class:`trtready.verify.run.Runner`: ``run(feeds) -> outputs`` and ``cancel()``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from trtready.errors import BadInputError, VerificationRunError

_BYTES_LIMIT = 1 << 30  # in-memory models above this are handed to ONNX Runtime as files


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


class OrtRunner:
    """One CPU session per model; feeds are cast to the dtype each input declares.

    A model given as a path is loaded from it, so ONNX Runtime finds external data beside the file
    whatever the working folder. An in-memory onnx-ir model whose weights live in external files (or
    are large) is saved to a private temporary folder first: ONNX Runtime cannot resolve external
    data of a model handed over as bytes.
    """

    def __init__(self, model: Any, input_map: dict[str, str] | None = None) -> None:
        """``input_map`` renames feeds (forward's names → ONNX names after ``--input-names``)."""
        import onnxruntime as ort

        self._tmp: Path | None = None
        opts = ort.SessionOptions()
        opts.log_severity_level = 4  # failures are reported by trtready, in one line
        source = self._source(model)
        try:
            self.session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
        except MemoryError as e:
            raise VerificationRunError("ONNX Runtime ran out of memory loading the model") from e
        except Exception as e:
            raise BadInputError(f"ONNX Runtime cannot load the model: {_first(e)}") from e
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)  # the session holds what it needs
        self.inputs = {i.name: i.type for i in self.session.get_inputs()}
        self.input_map = input_map or {}
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.run_options = ort.RunOptions()
        self.run_options.log_severity_level = 4

    def _source(self, model: Any) -> str | bytes:
        import onnx_ir as ir

        if isinstance(model, (str, Path)):
            return str(model)
        if isinstance(model, bytes):
            return model
        external = any(
            isinstance(v.const_value, ir.ExternalTensor) for g in model.graphs() for v in g.initializers.values()
        )
        size = sum(v.const_value.nbytes for g in model.graphs() for v in g.initializers.values() if v.const_value is not None)
        if not external and size < _BYTES_LIMIT:
            data: bytes = ir.serde.serialize_model(model).SerializeToString()
            return data
        self._tmp = Path(tempfile.mkdtemp(prefix="trtready-ort-"))
        path = self._tmp / "model.onnx"
        ir.save(model, path, external_data="model.onnx.data")
        return str(path)

    _ORT_TYPES = {
        "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32,
        "tensor(double)": np.float64, "tensor(bool)": np.bool_, "tensor(float16)": np.float16,
    }

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        cast = {}
        for name, arr in feeds.items():
            name = self.input_map.get(name, name)
            if name not in self.inputs:
                continue
            want = self._ORT_TYPES.get(self.inputs[name])
            cast[name] = arr.astype(want) if want is not None and arr.dtype != want else arr
        self.run_options.terminate = False
        try:
            return list(self.session.run(None, cast, self.run_options))
        except MemoryError as e:
            raise VerificationRunError("ONNX Runtime ran out of memory running the model") from e
        except Exception as e:
            raise VerificationRunError(f"ONNX Runtime failed to run the model: {_first(e)}") from e

    def cancel(self) -> None:
        self.run_options.terminate = True


class TorchRunner:
    """Calls a module (or ``ExportedProgram.module()``) with named feeds placed by a
    :class:`~trtready.load.capture.CallLayout` (positional and keyword inputs alike)."""

    def __init__(self, module: Any, layout: Any) -> None:
        self.module = module
        self.layout = layout

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        import torch
        import torch.utils._pytree as pytree

        try:
            args, kwargs = self.layout.arguments(feeds)
        except BadInputError as e:
            raise VerificationRunError(str(e)) from e
        try:
            with torch.no_grad():
                out = self.module(*args, **kwargs)
        except MemoryError as e:
            raise VerificationRunError("PyTorch ran out of memory running the model") from e
        except Exception as e:
            raise VerificationRunError(f"PyTorch failed to run the model: {_first(e)}") from e
        leaves = pytree.tree_leaves(out)
        return [t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t) for t in leaves]

    def cancel(self) -> None:
        """A PyTorch call cannot be interrupted from outside; the watcher stops waiting for it."""
