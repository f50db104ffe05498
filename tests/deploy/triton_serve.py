"""Serve ONNX models through ONNX Runtime behind trtready's Triton configs, with PyTriton's Triton server.

Run by tests/deploy/test_triton_server.py with the Python of a PyTriton venv (nvidia-pytriton pins
numpy<2, so it cannot share the project's venv): ``python triton_serve.py HTTP GRPC METRICS
NAME=CONFIG.pbtxt=MODEL.onnx …``. Each model is bound with exactly the names, data types, dims and
max_batch_size its config states; the config is read with Triton's own schema. Prints ``started``
once the server runs and ``bound NAME`` per model, then serves until stdin closes.

Those lines are the script's own channel: the ``tritonserver`` process PyTriton starts inherits file
descriptor 1 and writes its log there a few bytes at a time, which would splice into them ("Ibound
bert"). Before Triton starts, the script keeps the original stdout for itself and points fd 1 at stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from google.protobuf import text_format
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig
from tritonclient.grpc import model_config_pb2 as pb

NUMPY = {"TYPE_BOOL": np.bool_, "TYPE_UINT8": np.uint8, "TYPE_INT8": np.int8, "TYPE_INT32": np.int32,
         "TYPE_INT64": np.int64, "TYPE_FP16": np.float16, "TYPE_FP32": np.float32}


def tensors(entries) -> list[Tensor]:
    return [Tensor(name=t.name, dtype=NUMPY[pb.DataType.Name(t.data_type)], shape=tuple(t.dims)) for t in entries]


def as_declared(value: np.ndarray, dtype: type) -> np.ndarray:
    """ONNX Runtime built against numpy 2 labels int64 results ``longlong`` ('q') under numpy 1.x, which
    PyTriton's check does not take for ``int64`` ('l'): the same bytes, relabelled. Any real type
    difference is left as it is, for PyTriton to refuse."""
    want = np.dtype(dtype)
    return value.view(want) if value.dtype.str == want.str else value


def infer_fn(onnx: Path, outputs: list[tuple[str, type]]):
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    names = [n for n, _ in outputs]

    def infer(requests):
        # each request as the client sent it (batch dim included when the config batches)
        return [{n: as_declared(v, t) for (n, t), v in zip(outputs, session.run(names, dict(r.data)))}
                for r in requests]

    return infer


def main(argv: list[str]) -> None:
    http, grpc, metrics = (int(p) for p in argv[:3])
    sys.stdout.flush()
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # Triton's log, inherited by its server process, goes where stderr goes

    def say(line: str) -> None:
        print(line, file=channel, flush=True)

    config = TritonConfig(http_port=http, grpc_port=grpc, metrics_port=metrics, log_verbose=0)
    with Triton(config=config) as triton:
        triton.run()
        say("started")
        for spec in argv[3:]:
            name, cfg_path, onnx = spec.split("=", 2)
            cfg = text_format.Parse(Path(cfg_path).read_text(), pb.ModelConfig())
            batching = cfg.max_batch_size > 0
            triton.bind(
                model_name=name, infer_func=infer_fn(Path(onnx), [(t.name, NUMPY[pb.DataType.Name(t.data_type)]) for t in cfg.output]),
                inputs=tensors(cfg.input), outputs=tensors(cfg.output), strict=True,
                # PyTriton batches only dynamically: a batching config from trtready always has dynamic_batching
                config=ModelConfig(batching=batching, max_batch_size=cfg.max_batch_size if batching else 4,
                                   batcher=DynamicBatcher()),
            )
            say(f"bound {name}")
        sys.stdin.read()  # serve until the test closes stdin


if __name__ == "__main__":
    main(sys.argv[1:])
