"""An independent check of a written model: plain ONNX Runtime against the original PyTorch module.

Nothing of trtready runs here — not its input generator, its runners, its tolerances nor its
comparison — so a verifier bug cannot hide a wrong model. Integer outputs must be equal; float
outputs are compared with ``numpy.testing.assert_allclose`` at the tolerance the caller states.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch


def _leaves(out: object) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, Mapping):
        return [v for v in out.values() if isinstance(v, torch.Tensor)]
    if hasattr(out, "to_tuple"):  # transformers' ModelOutput
        return [v for v in out.to_tuple() if isinstance(v, torch.Tensor)]
    return [v for v in out if isinstance(v, torch.Tensor)]  # type: ignore[attr-defined]


def check_onnx_against_module(onnx_path: Path, module: torch.nn.Module, feeds: dict[str, torch.Tensor],
                              *, atol: float, rtol: float = 0.0) -> int:
    """Run both on ``feeds`` (ONNX input name → tensor, given to the module as keywords in order);
    returns how many outputs were compared."""
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    onnx_in = {i.name: i.type for i in sess.get_inputs()}
    assert set(onnx_in) == set(feeds), (sorted(onnx_in), sorted(feeds))
    # the ONNX binding's own dtype (int32 where --io int32 narrowed it), the values unchanged
    np_feeds = {}
    for name, t in feeds.items():
        arr = t.numpy()
        np_feeds[name] = arr.astype(np.int32) if onnx_in[name] == "tensor(int32)" else arr
    got = sess.run(None, np_feeds)
    with torch.no_grad():
        want = _leaves(module(**feeds))
    assert len(got) == len(want), (len(got), len(want))
    for g, w in zip(got, want):
        w_np = w.numpy()
        assert g.shape == w_np.shape
        if np.issubdtype(w_np.dtype, np.integer) or w_np.dtype == np.bool_:
            np.testing.assert_array_equal(g.astype(w_np.dtype), w_np)
        else:
            np.testing.assert_allclose(g.astype(np.float64), w_np.astype(np.float64), atol=atol, rtol=rtol)
    return len(got)
