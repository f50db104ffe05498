"""ONNX's own backend node tests that touch INT64, UINT64 or DOUBLE, through ``fix`` (target trt-rtx).

Each case's model is run by ONNX Runtime on its bundled inputs first; the ones ONNX Runtime cannot run
on the original are set aside (not ours to judge). Then ``trtready.fix`` narrows it and the narrowed
model must reproduce the bundled expected outputs: integers, strings and bools exactly, floats within
float32's precision (rtol 1e-4, atol 1e-6: a float64 model computed in float32 after narrowing).
Inputs are cast only where ``fix`` documents an I/O dtype change (float64 inputs become float32).
A refusal must be one of the project's errors (UINT64 has no TensorRT type: refused). 0 wrong, 0 crash.
"""

from __future__ import annotations

import collections
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import trtready
from trtready.errors import NarrowingError, TrtReadyError, root_cause

WIDE = {onnx.TensorProto.INT64, onnx.TensorProto.DOUBLE, onnx.TensorProto.UINT64}


def _touches_wide(model: onnx.ModelProto) -> bool:
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - fall back to what the file declares
        inferred = model
    g = inferred.graph
    if any(v.type.tensor_type.elem_type in WIDE for v in list(g.input) + list(g.output) + list(g.value_info)):
        return True
    if any(t.data_type in WIDE for t in g.initializer):
        return True
    return any((a.name in ("to", "dtype") and a.i in WIDE) or (a.HasField("t") and a.t.data_type in WIDE)
               for node in g.node for a in node.attribute)


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _same(out: object, expected: object) -> bool:
    if isinstance(expected, list):
        return isinstance(out, list) and len(out) == len(expected) and all(_same(a, b) for a, b in zip(out, expected))
    a, b = np.asarray(out), np.asarray(expected)
    if a.shape != b.shape:
        return False
    if b.dtype.kind in "OSUiub":
        return bool(np.array_equal(a.astype(b.dtype) if b.dtype.kind in "iub" else a, b))
    return bool(np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=1e-4, atol=1e-6, equal_nan=True))


@pytest.mark.full_tier("ONNX's whole backend node suite through fix")
def test_backend_node_tests_through_fix(tmp_path: Path) -> None:
    import onnx.backend.test.case.node as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [c for c in node_cases.collect_testcases(None) if c.data_sets and _touches_wide(c.model)]
    stats: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    for case in cases:
        folder = tmp_path / case.name
        folder.mkdir()
        src = folder / "model.onnx"
        onnx.save(case.model, str(src))
        inputs, expected = case.data_sets[0]
        try:
            original = _session(src)
            feeds = {i.name: np.asarray(x) for i, x in zip(original.get_inputs(), inputs)}
            if not _same(original.run(None, feeds), list(expected)):
                stats["ONNX Runtime disagrees with the expected outputs on the original"] += 1
                continue
        except Exception:  # noqa: BLE001 - ONNX Runtime cannot run this case at all
            stats["ONNX Runtime cannot run the original"] += 1
            continue
        try:
            trtready.fix(str(src), folder / "fixed.onnx", target="trt-rtx", verify=False)
        except Exception as e:  # noqa: BLE001 - sorted below
            cause = root_cause(e)
            if not isinstance(cause, TrtReadyError) or isinstance(cause, NarrowingError):
                failures.append(f"{case.name}: crash {type(cause).__name__}: {str(cause)[:200]}")
                stats["crash"] += 1
            else:
                stats[f"refused ({type(cause).__name__})"] += 1
            continue
        try:
            fixed = _session(folder / "fixed.onnx")
            types = {i.name: i.type for i in fixed.get_inputs()}
            cast = {k: v.astype(np.float32) if types.get(k) == "tensor(float)" and v.dtype == np.float64 else v
                    for k, v in feeds.items() if k in types}
            out = fixed.run(None, cast)
        except Exception as e:  # noqa: BLE001 - the narrowed model must run where the original did
            failures.append(f"{case.name}: the narrowed model does not run: {str(e)[:200]}")
            stats["crash"] += 1
            continue
        if _same(out, list(expected)):
            stats["passed"] += 1
        else:
            failures.append(f"{case.name}: wrong outputs")
            stats["wrong"] += 1
    print("\n" + ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())))
    assert len(cases) > 500 and stats["passed"] > 500, stats
    assert not failures, "\n".join(failures)
    assert stats["crash"] == 0 and stats["wrong"] == 0
