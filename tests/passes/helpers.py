"""Shared by the pass tests: what a narrowed model must still satisfy."""

from __future__ import annotations

import onnx_ir as ir


def int64_only_inputs_are_int64(model: ir.Model) -> bool:
    from trtready.onnx_slots import input_requires_int64

    opset = model.opset_imports.get("", 1)
    for node in model.graph:
        for i, v in enumerate(node.inputs):
            if v is not None and input_requires_int64(node.op_type, node.domain, opset, i):
                if v.dtype != ir.DataType.INT64:
                    return False
    return True
