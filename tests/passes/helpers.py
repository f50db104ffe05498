"""Shared by the pass tests: plan + passes on ONNX text, and an ONNX Runtime comparison."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import onnxruntime as ort

from trtready.analysis import OnnxAnalysis
from trtready.bounds import parse_dynamic
from trtready.plan import PlanOptions
from trtready.plan.onnx_plan import plan_onnx
from trtready.targets import PROFILES


def run(model: ir.Model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    data = ir.serde.serialize_model(model).SerializeToString()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def planned(text_or_model, ranges=None, dynamic=None, target="trt-rtx", **opts):
    model = ir.from_onnx_text(text_or_model) if isinstance(text_or_model, str) else text_or_model
    analysis = OnnxAnalysis.of(model, parse_dynamic(dynamic), ranges)
    return model, plan_onnx(analysis, PROFILES[target], PlanOptions(**opts))


def int64_only_inputs_are_int64(model: ir.Model) -> bool:
    from trtready.onnx_slots import input_requires_int64

    opset = model.opset_imports.get("", 1)
    for node in model.graph:
        for i, v in enumerate(node.inputs):
            if v is not None and input_requires_int64(node.op_type, node.domain, opset, i):
                if v.dtype != ir.DataType.INT64:
                    return False
    return True
