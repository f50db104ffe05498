"""Torch-TensorRT's dynamo converters cast some INT64 operands to INT32 with no range check
(``TargetProfile.int32_operand_cast``; measured in tests/oracle/test_dynamo.py): predictions by operand and
by the interval proved for it."""

from __future__ import annotations

import torch
from torch import nn

import trtready
from trtready.audit.findings import Outcome
from trtready.targets import active_profile
from trtready.targets.ops import TORCH_TRT_DYNAMO_INT32_OPERANDS

TARGET = "torch-trt-dynamo"
HASH = 2**40


def _audit(module: nn.Module, example: tuple[torch.Tensor, ...], *ranges: str):
    report = trtready.audit(trtready.ModelSpec(module.eval(), example), target=TARGET,
                            input_range=list(ranges) or None)
    return {f.id: f for f in report.findings}, report


class Where(nn.Module):
    def forward(self, mask: torch.Tensor, hashes: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, hashes, torch.zeros_like(hashes))


class WhereFloat(nn.Module):
    """An int64 branch beside a float one: the converter promotes both to float, not to INT32."""

    def forward(self, mask: torch.Tensor, hashes: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, hashes, torch.zeros(hashes.shape))


class Salted(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("salt", torch.tensor([HASH + 7, 3]))

    def forward(self, mask: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, self.salt, ids)


class Gather(nn.Module):
    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return torch.gather(x, 1, index)


class IndexSelect(nn.Module):
    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return x.index_select(1, index)


class IndexPutInPlace(nn.Module):
    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        y[index] = 1.0
        return y


def _mask_and(lo: int) -> tuple[torch.Tensor, torch.Tensor]:
    v = torch.arange(lo, lo + 4).reshape(2, 2)
    return v > lo + 1, v


def test_where_on_hashes_beyond_int32_is_a_clamp() -> None:
    by_id, report = _audit(Where(), _mask_and(HASH), f"hashes:{HASH}..{HASH + 3}")
    f = by_id["fx:hashes"]
    assert f.operand_uses == ["aten.zeros_like:zeros_like:self:int64", "aten.where:where:self:int64"]
    p = f.predictions[TARGET]
    assert p.outcome is Outcome.CLAMP and not report.ready
    assert p.message.startswith("values cast to INT32 with no range check by Torch-TensorRT (dynamo frontend) at "
                                f"where:where (self): value {HASH + 3} does not fit, the result is wrong")
    assert "converter_utils.py promote_trt_tensors_to_same_dtype" in p.message
    # the ONNX targets have no such converter: native INT64 there
    assert f.predictions["trt10"].outcome is f.predictions["trt-rtx"].outcome is Outcome.FINE


def test_where_on_values_proved_in_int32_is_an_exact_cast() -> None:
    by_id, report = _audit(Where(), _mask_and(0), "hashes:0..3")
    p = by_id["fx:hashes"].predictions[TARGET]
    assert p.outcome is Outcome.CAST and "exact: 0..3 fits" in p.message
    assert by_id["fx:zeros_like"].predictions[TARGET].outcome is Outcome.CAST  # the other branch is cast too
    assert report.ready


def test_where_on_an_unbounded_input_is_a_clamp_that_asks_for_a_range() -> None:
    by_id, _ = _audit(Where(), _mask_and(0))
    p = by_id["fx:hashes"].predictions[TARGET]
    assert p.outcome is Outcome.CLAMP and "not proved to fit int32 (give --input-range bounds)" in p.message


def test_where_with_a_float_branch_is_not_narrowed() -> None:
    by_id, _ = _audit(WhereFloat(), _mask_and(HASH), f"hashes:{HASH}..{HASH + 3}")
    f = by_id["fx:hashes"]
    assert f.operand_uses == ["aten.where:where:self:float32"]
    assert f.predictions[TARGET].outcome is Outcome.FINE


def test_an_int64_buffer_in_where_is_judged_by_its_values() -> None:
    by_id, _ = _audit(Salted(), _mask_and(0), "ids:0..3")
    salt = by_id["state:salt"]
    assert salt.operand_uses == ["aten.where:where:self:int64"]
    assert salt.predictions[TARGET].outcome is Outcome.CLAMP and f"value {HASH + 7} does not fit" in \
        salt.predictions[TARGET].message
    assert by_id["fx:ids"].predictions[TARGET].outcome is Outcome.CAST


def test_gather_index_by_its_range() -> None:
    x = torch.randn(4, 4)
    cases = {(0, 3): Outcome.CAST, (2**32, 2**32 + 3): Outcome.CLAMP, None: Outcome.UNCHECKED}
    for bounds, outcome in cases.items():
        lo = 0 if bounds is None else bounds[0]
        ranges = () if bounds is None else (f"index:{bounds[0]}..{bounds[1]}",)
        by_id, _ = _audit(Gather(), (x, torch.full((4, 4), lo)), *ranges)
        p = by_id["fx:index"].predictions[TARGET]
        assert p.outcome is outcome, (bounds, p)
        assert "gather:gather (index)" in p.message and "impl/select.py gather" in p.message


def test_index_select_keeps_int64_indices() -> None:
    by_id, _ = _audit(IndexSelect(), (torch.randn(4, 4), torch.full((2,), 2**32)), f"index:{2**32}..{2**32 + 3}")
    f = by_id["fx:index"]
    assert f.operand_uses == ["aten.index_select:index_select:index:float32"]
    assert f.predictions[TARGET].outcome is Outcome.FINE


def test_the_in_place_index_put_is_the_functional_one() -> None:
    by_id, _ = _audit(IndexPutInPlace(), (torch.randn(4, 4), torch.full((2,), 2**32)), f"index:{2**32}..{2**32 + 1}")
    f = by_id["fx:index"]
    assert f.operand_uses == ["aten.index_put_:index_put_:indices:float32"]
    p = f.predictions[TARGET]
    assert p.outcome is Outcome.CLAMP and "index_put_:index_put_ (indices)" in p.message


def test_only_the_dynamo_profile_has_the_converter_casts() -> None:
    assert active_profile(TARGET).int32_operand_cast is TORCH_TRT_DYNAMO_INT32_OPERANDS
    for name in ("trt8", "trt10", "trt11", "trt-rtx", "torch-trt-ts"):
        assert active_profile(name).int32_operand_cast == {}
    ops = TORCH_TRT_DYNAMO_INT32_OPERANDS
    assert {a for a, c in ops["aten.where"].items() if c.int_result and not c.index} == {"self", "other"}
    assert ops["aten.index_put_"] is ops["aten.index_put"]
    assert "aten.index_select" not in ops and "aten.index" not in ops  # measured: INT64 indices reach the gather


class Hashing(nn.Module):
    """Feature hashing with Python int constants: ``(ids * 1_000_003) % 2**40`` (the modulus is beyond int32)."""

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return (ids * 1_000_003) % 2**40


def test_a_python_int_beyond_int32_fails_the_dynamo_conversion() -> None:
    by_id, report = _audit(Hashing(), (torch.arange(4),), "ids:0..9")
    mul, rem = by_id["fx:mul"], by_id["fx:remainder"]
    assert mul.wide_int_args == [] and rem.wide_int_args == [2**40]  # 1_000_003 fits int32
    assert mul.predictions[TARGET].outcome is Outcome.FINE
    p = rem.predictions[TARGET]
    assert p.outcome is Outcome.ERROR and not report.ready
    assert p.message.startswith("value cannot be converted to type int32 without overflow: Torch-TensorRT makes a "
                                f"Python int operand an INT32 constant first")
    assert f"(remainder takes the Python int {2**40}; make it an int64 tensor constant)" in p.message
    assert rem.predictions["trt-rtx"].outcome is Outcome.FINE  # the ONNX exporter makes it an INT64 initializer
    assert rem.to_json()["wide_int_args"] == [2**40]


def test_an_int64_slice_end_is_not_a_python_int_operand_of_arithmetic() -> None:
    """``x[:, 1:]`` exports an INT64_MAX end: an argument outside int32 of an op that is not in the table."""

    class Tail(nn.Module):
        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return ids[:, 1:] + 1

    by_id, _ = _audit(Tail(), (torch.zeros(2, 4, dtype=torch.int64),), "ids:0..9")
    assert by_id["fx:slice_1"].wide_int_args == [2**63 - 1]
    assert all(f.predictions[TARGET].outcome is Outcome.FINE for f in by_id.values() if f.dtype == "int64"), by_id
