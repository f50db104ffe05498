"""bench/compare.py's reading of the tools' outputs, on a report trtready writes here and on text Polygraphy
printed (recorded from Polygraphy 0.53.6 with TensorRT-RTX 1.7). The comparison itself needs trtcheck and
Polygraphy (``make compare``); these parts do not, and a wrong reading would put wrong numbers in docs/compare.md.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import trtready
from trtready.report.json_report import audit_report_json

ROOT = Path(__file__).resolve().parents[1]


def _compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_compare", ROOT / "bench" / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _hash_model(path: Path) -> Path:
    """``y = x + 2**40`` in int64: trt8 casts to INT32 and clamps the constant; trt10 holds it."""
    big = numpy_helper.from_array(np.array([2**40], dtype=np.int64), "big")
    graph = helper.make_graph([helper.make_node("Add", ["x", "big"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.INT64, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, [4])], [big])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_a_clamped_constant_blocks_trt8_and_not_trt10(tmp_path: Path) -> None:
    compare = _compare()
    model = _hash_model(tmp_path / "hash.onnx")
    on8 = compare.summarize_trtready(audit_report_json(trtready.audit(str(model), target="trt8")), "trt8", 1)
    on10 = compare.summarize_trtready(audit_report_json(trtready.audit(str(model), target="trt10")), "trt10", 0)
    assert on8.ready is False and on10.ready is True
    assert on8.rules.get("TRT003") == 1  # the 2**40 initializer, clamped
    assert on8.outcomes.get("clamp", 0) >= 1 and on8.blocking >= 1
    assert on10.blocking == 0 and on10.rules == {}
    assert on8.wide == on10.wide == 3  # x, big, y
    assert not on8.build_error and not on10.build_error


def test_trtcheck_counts_its_critical_and_dtype_issues() -> None:
    compare = _compare()
    issue = {"severity": "warning", "rule_id": "TRT-DTYPE-INT64-INPUT"}
    report = {"verdict": "blocked", "critical_count": 1, "warning_count": 2,
              "issues": [issue, {**issue, "rule_id": "TRT-DTYPE-FP64"},
                         {"severity": "critical", "rule_id": "TRT-OP-UNSUPPORTED"}]}
    got = compare.summarize_trtcheck(report, 1)
    assert (got.verdict, got.critical, got.warning, got.dtype) == ("blocked", 1, 2, 2)
    assert got.critical_rules == {"TRT-OP-UNSUPPORTED": 1}


def test_the_reason_of_a_failed_build_is_the_parsers_node_line() -> None:
    compare = _compare()
    printed = """[W] ModelImporter.cpp:1071: Make sure input T has Int64 binding.
[E] ModelImporter.cpp:140: While parsing node number 0 [Adagrad -> "X_new"]:
[E] ModelImporter.cpp:142: --- Begin node ---
    Node name:
[E] ModelImporter.cpp:143: --- End node ---
[E] ModelImporter.cpp:151: ERROR: onnxOpCheckers.cpp:998 In function checkFallbackPluginImporter:
    [6] creator && "Plugin not found, are the plugin name, version, and namespace correct?"
[E] In node 0 with name:  and operator: Adagrad (checkFallbackPluginImporter): INVALID_NODE: creator
[!] Could not parse ONNX correctly
[E] FAILED | Runtime: 0.412s | Command: polygraphy convert test_adagrad.onnx -o x.engine"""
    assert compare.build_error_line(printed) == (
        "In node 0 with name:  and operator: Adagrad (checkFallbackPluginImporter): INVALID_NODE: creator")
    without_node_line = "\n".join(ln for ln in printed.splitlines() if "In node" not in ln)
    assert compare.build_error_line(without_node_line).startswith(
        "ModelImporter.cpp:151: ERROR: onnxOpCheckers.cpp:998 In function checkFallbackPluginImporter: [6] creator")
    assert compare.error_line("x\n[!] Module: 'tensorrt' is required but could not be imported.\n"
                              "[E] FAILED | Runtime: 0.07s | Command: polygraphy run m.onnx --trt") == \
        "Module: 'tensorrt' is required but could not be imported."
