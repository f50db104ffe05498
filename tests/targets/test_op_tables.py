"""onnx-tensorrt's operator tables as data (targets/data/, tools/gen_op_tables.py, targets/ops.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from trtready.targets import PROFILES
from trtready.targets.ops import TRT8_UNSUPPORTED, TRT10_UNSUPPORTED, int64_inputs, op_table

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_op_tables", ROOT / "tools" / "gen_op_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copy(version: str) -> str:
    return (ROOT / "tests" / "data" / "onnx_tensorrt" / f"operators-{version}.md").read_text(encoding="utf-8")


def test_packaged_tables_are_what_the_committed_copies_generate(gen) -> None:
    """Offline and reproducible: the JSON in the package is exactly the generator's output."""
    assert gen.main(["--check"]) == 0
    for source in gen.SOURCES:
        stored = json.loads(gen.out_path(source).read_text(encoding="utf-8"))
        assert stored == op_table(source["tensorrt"]) == json.loads(gen.render(source))
        assert stored["source"]["repo"] == "onnx/onnx-tensorrt" and stored["source"]["path"] == "docs/operators.md"


def test_the_10_15_table_carries_the_per_op_dtype_limits(gen) -> None:
    ops = gen.parse_operators_md(_copy("10.15"))["ops"]
    assert len(ops) == 200
    assert ops["RotaryEmbedding"] == {"supported": True, "experimental": False, "types": ["FP32", "FP16", "BF16"],
                                      "restrictions": "`position_ids` must be INT64"}
    assert ops["TensorScatter"]["types"] == ["FP32", "FP16", "BF16", "INT32"]  # INT32, no INT64
    assert ops["NonZero"]["types"] == ["FP32", "FP16"]
    assert ops["TopK"]["restrictions"] == "`sorted` must be 1. `K` input must be less than 3840."
    assert ops["Gather"]["types"] == ["FP32", "FP16", "BF16", "INT32", "INT64", "BOOL"]
    # a row without its closing |
    assert ops["Xor"] == {"supported": True, "experimental": False, "types": ["BOOL"], "restrictions": ""}
    # an N row whose third cell is prose, not types
    assert ops["DynamicQuantizeLinear"]["supported"] is False and ops["DynamicQuantizeLinear"]["types"] == []
    assert op_table("10.15")["notes"][0].startswith("There is limited support for DOUBLE type. TensorRT will "
                                                      "attempt to cast DOUBLE down to FLOAT, clamping")


def test_older_tables_differ_where_the_releases_did(gen) -> None:
    old = gen.parse_operators_md(_copy("8.6"))
    assert "RotaryEmbedding" not in old["ops"] and old["ops"]["NonZero"]["types"] == ["FP32", "FP16"]
    assert old["ops"]["LayerNormalization"]["supported"] and not old["ops"]["Hardmax"]["supported"]
    assert "cast down INT64 to INT32" in old["notes"][0]
    assert not gen.parse_operators_md(_copy("10.1"))["ops"]["HannWindow"]["supported"]  # added by 10.15


def test_unsupported_ops_come_from_the_tables() -> None:
    n_rows = {op for op, row in op_table("10.15")["ops"].items() if not row["supported"]}
    assert set(TRT10_UNSUPPORTED) == n_rows | {"ScatterND:reduction", "MaxPool:indices"} and len(n_rows) == 42
    # trt8: 8.6's N rows (Hardmax, STFT), the opset 18+ ops 8.6 does not list that 10.15 marks N
    assert {"Hardmax", "STFT", "BitwiseAnd", "MaxPool:indices"} <= set(TRT8_UNSUPPORTED)
    assert "LayerNormalization" not in TRT8_UNSUPPORTED and "ScatterND:reduction" not in TRT8_UNSUPPORTED
    assert "8.6 table (commit 6872a9473391)" in TRT8_UNSUPPORTED["Hardmax"]
    assert PROFILES["trt11"].unsupported_ops == PROFILES["trt10"].unsupported_ops == TRT10_UNSUPPORTED


def test_inputs_the_parser_requires_int64() -> None:
    assert list(int64_inputs("10.15")) == ["RotaryEmbedding"]
    assert list(int64_inputs("10.15")["RotaryEmbedding"]) == ["position_ids"]
    assert int64_inputs("8.6") == {}
    assert PROFILES["trt11"].int64_inputs == int64_inputs("10.15") and PROFILES["trt-rtx"].int64_inputs == {}
