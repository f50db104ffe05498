"""Runners: ONNX Runtime for ONNX files, PyTorch eager for modules and ExportedPrograms."""

from __future__ import annotations

from typing import Any

import numpy as np


class OrtRunner:
    """One CPU session per model; feeds are cast to the dtype each input declares."""

    def __init__(self, model: Any, input_map: dict[str, str] | None = None) -> None:
        """``input_map`` renames feeds (forward's names → ONNX names after ``--input-names``)."""
        import onnx_ir as ir
        import onnxruntime as ort

        from trtready.errors import BadInputError

        data = model if isinstance(model, (bytes, str)) else ir.serde.serialize_model(model).SerializeToString()
        opts = ort.SessionOptions()
        opts.log_severity_level = 4  # failures are reported by trtready, in one line
        try:
            self.session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise BadInputError(f"ONNX Runtime cannot load the model: {str(e).splitlines()[0]}") from e
        self.inputs = {i.name: i.type for i in self.session.get_inputs()}
        self.input_map = input_map or {}
        self.output_names = [o.name for o in self.session.get_outputs()]

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
        try:
            return list(self.session.run(None, cast))
        except Exception as e:
            from trtready.errors import VerificationRunError

            raise VerificationRunError(f"ONNX Runtime failed to run the model: {_first(e)}") from e


class TorchRunner:
    """Calls a module (or ``ExportedProgram.module()``) with numpy feeds in forward's order."""

    def __init__(self, module: Any, input_names: list[str]) -> None:
        self.module = module
        self.input_names = input_names

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        import torch
        import torch.utils._pytree as pytree

        from trtready.errors import VerificationRunError

        try:
            args = [torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in self.input_names]
        except KeyError as e:
            raise VerificationRunError(f"no value for input {e.args[0]!r} in the given inputs") from e
        try:
            with torch.no_grad():
                out = self.module(*args)
        except Exception as e:
            raise VerificationRunError(f"PyTorch failed to run the model: {_first(e)}") from e
        leaves = pytree.tree_leaves(out)
        return [t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t) for t in leaves]


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
