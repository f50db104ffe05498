"""ONNX models in tests: plan one written as text, and run one in ONNX Runtime.

Every test that plans a graph or compares numerics against ONNX Runtime goes through these, so a
change to how a run is set up (the analysis, the execution provider) is made once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx_ir as ir
import onnxruntime as ort

from trtready.analysis import OnnxAnalysis
from trtready.bounds import parse_dynamic
from trtready.intervals import Interval
from trtready.plan import PlanOptions
from trtready.plan.onnx_plan import OnnxPlan, plan_onnx
from trtready.targets import PROFILES


def planned(text_or_model: str | ir.Model, ranges: dict[str, Interval] | None = None,
            dynamic: list[str] | None = None, target: str = "trt-rtx", cast_credit: int = 0,
            **opts: bool) -> tuple[ir.Model, OnnxPlan]:
    """The model (parsed from ONNX text, or as given) and its plan for ``target``.

    ``ranges`` are ``--input-range`` intervals by input name, ``dynamic`` ``--dynamic`` strings,
    ``cast_credit`` the Casts rewrites removed before planning, and ``opts`` :class:`PlanOptions`
    fields. The model is returned because planning infers its shapes.
    """
    model = ir.from_onnx_text(text_or_model) if isinstance(text_or_model, str) else text_or_model
    analysis = OnnxAnalysis.of(model, parse_dynamic(dynamic), ranges)
    return model, plan_onnx(analysis, PROFILES[target], PlanOptions(**opts), cast_credit)


def session(model: ir.Model | Path) -> ort.InferenceSession:
    """A CPU ONNX Runtime session of an in-memory model (serialized as a file would hold it) or a file."""
    source = str(model) if isinstance(model, Path) else ir.serde.serialize_model(model).SerializeToString()
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def run(model: ir.Model | Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Every graph output, in order."""
    return session(model).run(None, feeds)


def run_by_name(model: ir.Model | Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every graph output, by name."""
    sess = session(model)
    return dict(zip((o.name for o in sess.get_outputs()), sess.run(None, feeds)))


def runs(model: ir.Model | Path, feeds: dict[str, np.ndarray]) -> bool:
    """Whether ONNX Runtime computes the model on ``feeds`` (False when the run fails: an index out of
    its table's range, say); a model it cannot load still raises."""
    sess = session(model)
    try:
        sess.run(None, feeds)
    except Exception:  # noqa: BLE001 - ONNX Runtime raises its own runtime error types
        return False
    return True
