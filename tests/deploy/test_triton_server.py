"""The Triton contract end to end: a real Triton server, a real client, the generated config's types.

The engine itself cannot run here (no GPU), so the converted model's ONNX is served through ONNX
Runtime behind exactly the inputs, outputs, data types, dims and max_batch_size of the config
``convert --triton`` wrote (read with Triton's schema by ``triton_serve.py``). The client sends the
data types the config names; Triton rejects a request whose types differ from the config, and ONNX
Runtime one whose types differ from the model's — so a passing call proves the config states the
model's bindings. Answers are compared with ONNX Runtime run directly: integers exactly.

The server is PyTriton's bundled ``tritonserver`` (``nvidia-pytriton``, CPU-capable). It pins
numpy<2 and its Python backend stub links the system's ``libpython3.11``, so it lives in a venv of
its own made from that Python: ``make triton`` builds ``.venv-triton``; ``TRTREADY_TRITON_PYTHON``
may name another interpreter. Without one the test is skipped, saying so.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import trtready
from tests.conftest import ROOT

pb = pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="tritonclient is in the test extra")
grpcclient = pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is in the test extra")
from google.protobuf import text_format  # noqa: E402

pytestmark = pytest.mark.full_tier("a Triton server started per module, ≈ 1 min")

NUMPY = {"TYPE_BOOL": np.bool_, "TYPE_INT32": np.int32, "TYPE_INT64": np.int64, "TYPE_FP32": np.float32,
         "TYPE_FP16": np.float16}
SERVE = Path(__file__).with_name("triton_serve.py")
# Same ONNX Runtime version on both sides, same machine; float sums may still be ordered differently
# when the server's session picks another thread count, a few float32 ulps at these magnitudes.
RTOL, ATOL = 1e-5, 1e-6


def triton_python() -> Path | None:
    given = os.environ.get("TRTREADY_TRITON_PYTHON")
    path = Path(given) if given else ROOT / ".venv-triton" / "bin" / "python"
    return path if path.exists() else None


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _forward_lines(stream: Any, into: queue.Queue[str]) -> None:
    """Every line of ``stream`` into the queue, then ``""`` once it ends."""
    for line in iter(stream.readline, ""):
        into.put(line)
    into.put("")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Any:
    python = triton_python()
    if python is None:  # before any model is exported: a skip costs nothing
        pytest.skip("no PyTriton venv: `make triton` builds .venv-triton (nvidia-pytriton pins numpy<2, so it "
                    "cannot share the project venv), or set TRTREADY_TRITON_PYTHON")
    bert_onnx: Path = request.getfixturevalue("bert_onnx")
    root = tmp_path_factory.mktemp("served")
    repo = root / "repo"
    trtready.convert("trtready.demo:token_model", root / "token_model", target="trt-rtx", triton=repo)
    trtready.convert(str(bert_onnx), root / "bert", target="trt-rtx", triton=repo, max_batch=8,
                     dynamic=["input_ids:0=batch[1:8],1=seq[2:64]", "attention_mask:0=batch[1:8],1=seq[2:64]"])
    http, grpc, metrics = free_ports(3)
    specs = [f"{n}={repo / n / 'config.pbtxt'}={root / n / 'model.onnx'}" for n in ("token_model", "bert")]
    log = open(root / "server.log", "w+")
    proc = subprocess.Popen([str(python), str(SERVE), str(http), str(grpc), str(metrics), *specs],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONPATH": ""})
    lines: list[str] = []
    try:
        # the script's lines arrive through a reader thread, so the deadline holds even if the server hangs
        # without a word
        incoming: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_forward_lines, args=(proc.stdout, incoming), daemon=True).start()
        deadline = time.monotonic() + 180
        while len([ln for ln in lines if ln.startswith("bound ")]) < 2:
            try:
                line = incoming.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"Triton did not load the models in 180 s: {lines}")
            if not line:  # the process ended
                log.seek(0)
                last = [ln for ln in log.read().splitlines() if ln.strip()][-1:] or ["no output"]
                if "started" not in lines:
                    pytest.skip(f"PyTriton's Triton server did not start here: {last[0][:300]}")
                pytest.fail(f"Triton started but a model did not load: {last[0][:500]}")
            lines.append(line.strip())
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc}")
        yield {"client": client, "root": root, "repo": repo}
    finally:
        if proc.stdin:
            proc.stdin.close()  # the server script leaves its Triton context and stops the server
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the session this test started, and only it
            proc.wait()
        log.close()


def config_of(served: Any, name: str) -> Any:
    return text_format.Parse((served["repo"] / name / "config.pbtxt").read_text(), pb.ModelConfig())


def feeds_for(cfg: Any, batch: int, seq: int, rows: int) -> dict[str, np.ndarray]:
    """Ids inside the embedding table (edge rows 0 and rows-1 included), a tokenizer-padded mask;
    each in the numpy type of the data_type the config names."""
    rng = np.random.default_rng(0)
    out = {}
    for t in cfg.input:
        dtype = NUMPY[pb.DataType.Name(t.data_type)]
        if t.name == "attention_mask":
            mask = np.ones((batch, seq))
            mask[1:, seq // 2:] = 0
            out[t.name] = mask.astype(dtype)
        else:
            ids = rng.integers(0, rows, (batch, seq))
            ids[0, 0], ids[-1, -1] = 0, rows - 1
            out[t.name] = ids.astype(dtype)
    return out


@pytest.mark.parametrize("name,batch,seq,rows", [("token_model", 2, 16, 100), ("bert", 3, 24, 128)])
def test_triton_serves_the_generated_contract_and_answers_as_onnx_runtime(served, name: str, batch: int, seq: int,
                                                                           rows: int) -> None:
    import onnxruntime as ort

    client = served["client"]
    cfg = config_of(served, name)
    # what the server loaded states the generated config's names, data types, dims and batching
    live = client.get_model_config(name).config
    assert live.max_batch_size == cfg.max_batch_size
    for mine, theirs in ((cfg.input, live.input), (cfg.output, live.output)):
        assert [(t.name, t.data_type, list(t.dims)) for t in mine] == \
               [(t.name, t.data_type, list(t.dims)) for t in theirs]
    feeds = feeds_for(cfg, batch, seq, rows)
    requests = []
    for t in cfg.input:
        req = grpcclient.InferInput(t.name, list(feeds[t.name].shape), pb.DataType.Name(t.data_type)[5:])
        req.set_data_from_numpy(feeds[t.name])
        requests.append(req)
    result = client.infer(name, requests, outputs=[grpcclient.InferRequestedOutput(t.name) for t in cfg.output])
    session = ort.InferenceSession(str(served["root"] / name / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [t.name for t in cfg.output]
    direct = dict(zip(names, session.run(names, feeds)))
    for t in cfg.output:
        got = result.as_numpy(t.name)
        assert got.dtype == NUMPY[pb.DataType.Name(t.data_type)] == direct[t.name].dtype, t.name
        assert got.shape == direct[t.name].shape
        if np.issubdtype(got.dtype, np.integer) or got.dtype == np.bool_:
            np.testing.assert_array_equal(got, direct[t.name])
        else:
            np.testing.assert_allclose(got, direct[t.name], rtol=RTOL, atol=ATOL)


def test_triton_refuses_a_request_typed_against_the_config(served) -> None:
    """The contract is enforced where it matters: int32 ids sent to the INT64 binding are rejected
    by the server, naming the type, as a client that ignored the config would be."""
    from tritonclient.utils import InferenceServerException

    cfg = config_of(served, "token_model")
    ids = np.zeros((1, 4), dtype=np.int32)
    req = grpcclient.InferInput("input_ids", list(ids.shape), "INT32")
    req.set_data_from_numpy(ids)
    with pytest.raises(InferenceServerException,
                       match="input 'input_ids' data-type is 'INT32', but model 'token_model' expects 'INT64'"):
        served["client"].infer("token_model", [req])
    assert pb.DataType.Name(cfg.input[0].data_type) == "TYPE_INT64"
