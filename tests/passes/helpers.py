"""Shared by the pass tests: plan + passes on ONNX text, and an ONNX Runtime comparison."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import onnxruntime as ort

from trtready.audit.onnx_graph import infer_shapes
from trtready.bounds import parse_dynamic
from trtready.narrow.onnx_model import plan_model
from trtready.plan import PlanOptions
from trtready.targets import PROFILES


def run(model: ir.Model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    data = ir.serde.serialize_model(model).SerializeToString()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def planned(text_or_model, ranges=None, dynamic=None, target="trt-rtx", **opts):
    model = ir.from_onnx_text(text_or_model) if isinstance(text_or_model, str) else text_or_model
    infer_shapes(model)
    return model, plan_model(model, PROFILES[target], PlanOptions(**opts), parse_dynamic(dynamic), ranges)


def int64_only_inputs_are_int64(model: ir.Model) -> bool:
    from trtready.audit.spec_slots import input_is_int64_only

    opset = model.opset_imports.get("", 1)
    for node in model.graph:
        for i, v in enumerate(node.inputs):
            if v is not None and input_is_int64_only(node.op_type, node.domain, opset, i):
                if v.dtype != ir.DataType.INT64:
                    return False
    return True
