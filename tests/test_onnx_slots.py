"""int64-only slots are read from onnx.defs schemas, per opset."""

from __future__ import annotations

from trtready.onnx_slots import input_requires_int64 as input_is_int64_only
from trtready.onnx_slots import int64_only_slots
from trtready.onnx_slots import output_requires_int64 as output_is_int64_only


def test_known_int64_only_inputs() -> None:
    for op, idx in [("Reshape", 1), ("Expand", 1), ("Tile", 1), ("ConstantOfShape", 0), ("Pad", 1),
                    ("TopK", 1), ("GatherND", 1), ("ScatterND", 1), ("Unsqueeze", 1), ("Resize", 3)]:
        assert input_is_int64_only(op, "", 20, idx), (op, idx)


def test_slots_that_accept_int32_are_not_int64_only() -> None:
    for op, idx in [("Gather", 1), ("Slice", 1), ("Slice", 2), ("Range", 0), ("GatherElements", 1), ("Add", 0)]:
        assert not input_is_int64_only(op, "", 20, idx), (op, idx)


def test_always_int64_outputs() -> None:
    for op, idx in [("Shape", 0), ("Size", 0), ("ArgMax", 0), ("NonZero", 0), ("TopK", 1)]:
        assert output_is_int64_only(op, "", 20, idx), (op, idx)
    assert not output_is_int64_only("TopK", "", 20, 0)


def test_opset_matters_unsqueeze_axes_was_an_attribute_before_13() -> None:
    assert input_is_int64_only("Unsqueeze", "", 13, 1)
    assert not input_is_int64_only("Unsqueeze", "", 11, 1)


def test_unknown_ops_and_domains_have_no_constraint() -> None:
    assert not input_is_int64_only("MyCustomOp", "com.example", 1, 0)
    assert not output_is_int64_only("NotAnOp", "", 20, 0)


def test_full_list_is_derived_not_copied() -> None:
    inputs, outputs = int64_only_slots(20)
    assert ("Reshape", "shape") in inputs and ("Shape", "shape") in outputs
    assert len(inputs) >= 30 and len(outputs) >= 12
    assert not any(op == "Gather" for op, _ in inputs)
