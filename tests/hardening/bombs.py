"""Inputs that declare far more than they hold, and a runner that measures what trtready costs on them.

Shared by tests/hardening/test_limits.py (asserts) and bench/hostile.py (the figures in docs/hardening.md).
"""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import onnx
from onnx import TensorProto, helper

MEMORY_LIMIT = 3 << 30  # address space of the trtready process: torch + ONNX Runtime map ~1 GB of it


@dataclass
class Limited:
    code: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float


def run_limited(args: list[str], cwd: Path, timeout: float = 300) -> Limited:
    """``trtready ARGS`` in a fresh interpreter under an address-space limit, with its own peak RSS
    (``wait4`` gives the rusage of exactly this child)."""
    import tempfile
    import threading
    import time

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    env = {**os.environ, "COLUMNS": "100"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "trtready", *args], cwd=cwd, env=env, preexec_fn=limit,
                                stdout=out, stderr=err, text=True)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        return Limited(proc.returncode, out.read(), err.read(), usage.ru_maxrss / 1024, seconds)


def onnx_huge_input(tmp: Path) -> Path:
    """96 bytes: a graph input of 2**62 elements."""
    g = helper.make_graph([helper.make_node("Shape", ["x"], ["s"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2**62])],
                          [helper.make_tensor_value_info("s", TensorProto.INT64, [1])])
    path = tmp / "huge_input.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def onnx_huge_constant_of_shape(tmp: Path) -> Path:
    """A ConstantOfShape whose constant shape asks for 2**40 elements (found by shape inference)."""
    g = helper.make_graph([helper.make_node("ConstantOfShape", ["shape"], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [helper.make_tensor("shape", TensorProto.INT64, [2], [2**20, 2**20])])
    path = tmp / "huge_cos.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def onnx_endless_loop(tmp: Path) -> Path:
    """An ONNX Loop asking for 2**62 trips: verification must stop at its time limit."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("v_out", TensorProto.INT64, [])],
        [helper.make_tensor("one", TensorProto.INT64, [], [1])],
    )
    g = helper.make_graph(
        [helper.make_node("Loop", ["trips", "cond", "x"], ["y"], body=body)], "g",
        [helper.make_tensor_value_info("x", TensorProto.INT64, [])], [helper.make_tensor_value_info("y", TensorProto.INT64, [])],
        [helper.make_tensor("trips", TensorProto.INT64, [], [2**62]), helper.make_tensor("cond", TensorProto.BOOL, [], [True])],
    )
    path = tmp / "loop.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def safetensors_huge(tmp: Path) -> Path:
    """A header declaring 2**40 int64 values over 8 bytes of data."""
    header = json.dumps({"w": {"dtype": "I64", "shape": [2**20, 2**20], "data_offsets": [0, 8]}}).encode()
    path = tmp / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    return path


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _model_around(graph: bytes) -> bytes:
    """A ModelProto (opset 17) whose ``graph`` field (7) is the given GraphProto bytes."""
    m = helper.make_model(helper.make_graph([], "g", [], []), opset_imports=[helper.make_opsetid("", 17)])
    m.ClearField("graph")
    return m.SerializeToString() + _field(7, graph)


def onnx_million_nodes(tmp: Path, n: int = 1_000_000) -> Path:
    """A valid chain of 1,000,000 Identity nodes (30 MB), written field by field: loading it whole costs
    gigabytes and minutes."""
    head = helper.make_graph([], "g", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1])],
                             [helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, [1])])
    body = bytearray(head.SerializeToString())
    for i in range(n):  # GraphProto.node = 1; NodeProto input = 1, output = 2, op_type = 4
        body += _field(1, _field(1, b"t%d" % i) + _field(2, b"t%d" % (i + 1)) + _field(4, b"Identity"))
    path = tmp / "million_nodes.onnx"
    path.write_bytes(_model_around(bytes(body)))
    return path


def onnx_rank_bomb(tmp: Path, rank: int = 5_000_000) -> Path:
    """A value_info of rank 5,000,000 (20 MB of dims equal to 1): one element, but every shape
    computation over it costs gigabytes."""
    dim = _field(1, _varint(1 << 3) + _varint(1))  # TensorShapeProto.dim = 1 {Dimension.dim_value = 1}
    tensor_type = _varint(1 << 3) + _varint(TensorProto.FLOAT) + _field(2, dim * rank)  # elem_type, shape
    value_info = _field(1, b"x") + _field(2, _field(1, tensor_type))  # name, type {tensor_type}
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp / "rank_bomb.onnx"
    path.write_bytes(_model_around(g.SerializeToString() + _field(13, value_info)))  # GraphProto.value_info = 13
    return path


def cases() -> dict[str, tuple[Callable[[Path], Path], list[str]]]:
    """name → (maker, extra CLI arguments after ``audit FILE``)."""
    from tests.hardening import craft

    return {
        "onnx-2**62-input": (onnx_huge_input, []),
        "onnx-2**40-constant-of-shape": (onnx_huge_constant_of_shape, []),
        "onnx-1M-nodes": (onnx_million_nodes, []),
        "onnx-rank-5M-value-info": (onnx_rank_bomb, []),
        "pt2-zip-bomb-64MB": (craft.pt2_zip_bomb, []),
        "pt2-zero-stride-2**40": (craft.pt2_view_bomb, []),
        "checkpoint-zero-stride-2**40": (craft.checkpoint_zero_stride, []),
        "safetensors-2**40": (safetensors_huge, []),
    }
