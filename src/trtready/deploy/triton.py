"""A Triton model repository entry from an engine's manifest, and the check of an existing config.

The config is a ``ModelConfig`` message of Triton's own schema (``model_config.proto``, shipped as
``tritonclient.grpc.model_config_pb2``) printed with protobuf's ``text_format``: what Triton parses
is what protobuf wrote, never a hand-formatted string. Every field comes from the engine's bindings
(:mod:`trtready.deploy.bindings`), so a TYPE_INT32 declared for an INT64 binding — the config Triton
refuses to load (triton-inference-server/server#7307) — cannot be written, and ``check-config``
names it in a config written elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trtready.deploy.bindings import Binding, EngineContract
from trtready.deploy.snippet import SNIPPET_FILE, runtime_snippet
from trtready.errors import BadInputError, MissingLibraryError, UsageError
from trtready.load.files import open_binary, read_regular
from trtready.outputs import write_bytes

# TensorRT DataType name → Triton DataType name. FP8/INT4/FP4/E8M0 have no Triton type.
TRITON_DTYPE = {
    "FLOAT": "TYPE_FP32", "HALF": "TYPE_FP16", "BF16": "TYPE_BF16", "INT8": "TYPE_INT8", "INT32": "TYPE_INT32",
    "INT64": "TYPE_INT64", "BOOL": "TYPE_BOOL", "UINT8": "TYPE_UINT8",
}
PLATFORM = "tensorrt_plan"  # Triton's TensorRT backend; it loads version/model.plan
CONFIG_FILE = "config.pbtxt"
PLAN_FILE = "model.plan"
VERSION = "1"
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
MAX_CONFIG_BYTES = 16 * 2**20


def model_config_pb2() -> Any:
    """Triton's ``model_config.proto`` as tritonclient ships it (imported only when needed)."""
    try:
        from tritonclient.grpc import model_config_pb2 as pb
    except ImportError as e:
        raise MissingLibraryError("Triton's model config schema needs tritonclient "
                                  "(pip install 'trtready[triton]' or 'tritonclient[grpc]')") from e
    return pb


def check_name(name: str) -> str:
    """A Triton model name is a folder of the repository: one plain path component."""
    if not _NAME_RE.match(name) or name in (".", ".."):
        raise UsageError(f"--name {name!r}: a Triton model name is one folder name (letters, digits, _ . -)")
    return name


def default_name(engine: Path) -> str:
    """``model.engine`` (what convert writes) is named after its folder; any other engine after its stem."""
    stem = engine.name.split(".", 1)[0]
    folder = Path(engine).resolve().parent.name
    return folder if stem == "model" and folder else stem


def triton_dtype(b: Binding) -> str:
    if b.dtype not in TRITON_DTYPE:
        raise BadInputError(f"{b.kind} {b.name}: TensorRT type {b.dtype} has no Triton data_type; "
                            "Triton cannot serve this binding")
    return TRITON_DTYPE[b.dtype]


def batch_problems(contract: EngineContract, max_batch: int) -> list[str]:
    """Why Triton could not batch this engine up to ``max_batch`` along the first dim: it needs that
    dim dynamic in every binding and every input's profile covering batches 1..max_batch."""
    out = [f"{b.kind} {b.name} has shape {list(b.shape)}, no dynamic first dim for Triton to batch along"
           for b in contract.bindings if not b.shape or b.shape[0] != -1]
    out += [f"input {b.name}'s profile covers batch {b.min[0]}..{b.max[0]}, not 1..{max_batch}"
            for b in contract.inputs if b.min is not None and b.max is not None
            and (b.min[0] > 1 or b.max[0] < max_batch)]
    return out


def batch_size(contract: EngineContract, max_batch: int | None) -> int:
    """``max_batch_size`` of the config: 0 (Triton does not batch; dims are the bindings' full shapes)
    unless ``--max-batch N`` is asked and the engine can take every batch Triton would form."""
    if max_batch is None:
        return 0
    if max_batch < 1:
        raise UsageError(f"--max-batch {max_batch}: must be at least 1")
    problems = batch_problems(contract, max_batch)
    if problems:
        raise UsageError(f"--max-batch {max_batch}: {problems[0]} (leave --max-batch out to serve without Triton "
                         "batching, or build with a dynamic first dim whose profile covers 1..N)")
    return max_batch


def model_config(contract: EngineContract, name: str, max_batch: int | None = None,
                 instances: int | None = None) -> Any:
    """The ``ModelConfig`` message of the engine: names, data types and dims of every binding."""
    pb = model_config_pb2()
    mbs = batch_size(contract, max_batch)
    cfg = pb.ModelConfig(name=check_name(name), platform=PLATFORM, max_batch_size=mbs)
    for b in contract.bindings:
        t = (cfg.input if b.is_input else cfg.output).add()
        t.name = b.name
        t.data_type = pb.DataType.Value(triton_dtype(b))
        dims = list(b.shape[1:] if mbs else b.shape)
        if dims:
            t.dims.extend(dims)
        else:  # Triton needs at least one dim: a scalar (per request) is [1] reshaped to []
            t.dims.append(1)
            t.reshape.SetInParent()
    if mbs:
        cfg.dynamic_batching.SetInParent()
    if instances is not None:
        if instances < 1:
            raise UsageError(f"--instances {instances}: must be at least 1")
        cfg.instance_group.add(count=instances, kind=pb.ModelInstanceGroup.KIND_GPU)
    return cfg


def config_text(cfg: Any, header: Sequence[str] = ()) -> str:
    from google.protobuf import text_format

    lines = "".join(f"# {h}\n" for h in header)
    return lines + str(text_format.MessageToString(cfg))


def parse_config(path: Path) -> Any:
    """An existing ``config.pbtxt``, parsed by Triton's schema; anything else is one clear error."""
    from google.protobuf import text_format

    pb = model_config_pb2()
    raw = read_regular(Path(path), MAX_CONFIG_BYTES, "Triton config", missing="no such Triton config")
    try:
        return text_format.Parse(raw.decode("utf-8"), pb.ModelConfig())
    except UnicodeDecodeError as e:
        raise BadInputError(f"{path}: not a Triton model config (not UTF-8 text)") from e
    except text_format.ParseError as e:
        raise BadInputError(f"{path}: not a Triton model config ({str(e).splitlines()[0]})") from e


def _engine_side(t: Any) -> list[int]:
    """The shape a config entry hands the engine per request (after ``reshape``, without batch)."""
    return list(t.reshape.shape) if t.HasField("reshape") else list(t.dims)


def check_config(contract: EngineContract, cfg: Any) -> list[str]:
    """One line per way ``cfg`` disagrees with the engine: name, data type, rank, dims against the
    static dims and the profile's min/max, max batch size, platform. Empty when they agree."""
    pb = model_config_pb2()
    out: list[str] = []
    if cfg.platform and cfg.platform != PLATFORM or cfg.backend and cfg.backend != "tensorrt":
        what = f"platform {cfg.platform!r}" if cfg.platform else f"backend {cfg.backend!r}"
        out.append(f"{what}: a TensorRT engine is served by platform {PLATFORM!r} (backend 'tensorrt')")
    mbs = cfg.max_batch_size
    if mbs < 0:
        out.append(f"max_batch_size {mbs}: must be 0 or more")
        mbs = 0
    if mbs:
        out += [f"max_batch_size {mbs}: {p}" for p in batch_problems(contract, mbs)]
    for is_input, entries, bindings in ((True, cfg.input, contract.inputs), (False, cfg.output, contract.outputs)):
        kind = "input" if is_input else "output"
        given = {t.name: t for t in entries}
        for b in bindings:
            t = given.pop(b.name, None)
            if t is None:
                out.append(f"{kind} {b.name}: the engine has it, the config does not")
                continue
            want = TRITON_DTYPE.get(b.dtype)
            have = pb.DataType.Name(t.data_type) if t.data_type in pb.DataType.values() else str(t.data_type)
            if have != want:
                out.append(f"{kind} {b.name}: data_type {have}, the engine binds {b.dtype}"
                           + (f" ({want})" if want else " (no Triton type)"))
            out.extend(_dims_mismatch(b, _engine_side(t), mbs))
        for name in given:
            out.append(f"{kind} {name}: in the config, not an {kind} of the engine")
    return out


def _dims_mismatch(b: Binding, dims: list[int], mbs: int) -> list[str]:
    shape = list(b.shape[1:] if mbs and b.shape else b.shape)
    where = f"{b.kind} {b.name}"
    if len(dims) != len(shape):
        batch = f" plus Triton's batch dim" if mbs else ""
        return [f"{where}: rank {len(dims)}{batch}, the engine's is {len(b.shape)} (shape {list(b.shape)})"]
    out = []
    skip = 1 if mbs else 0
    for i, (have, want) in enumerate(zip(dims, shape)):
        if want >= 0 and have != want:
            said = "-1 (any size)" if have < 0 else str(have)
            out.append(f"{where}: dims[{i}] is {said}, the engine's is fixed at {want}")
        elif want < 0 and have >= 0 and b.min is not None and b.max is not None:
            lo, hi = b.min[i + skip], b.max[i + skip]
            if not lo <= have <= hi:
                out.append(f"{where}: dims[{i}] is {have}, outside the engine profile's {lo}..{hi}")
    return out


def write_model(contract: EngineContract, cfg: Any, folder: Path, header: Sequence[str] = ()) -> list[Path]:
    """Fill ``folder`` (a staged ``REPO/NAME``): ``config.pbtxt``, ``1/model.plan`` (the engine's bytes,
    checked against the manifest's sha256 as they are copied: one read) and the runtime snippet."""
    import hashlib
    import os

    (folder / VERSION).mkdir()
    h = hashlib.sha256()
    missing = f"the engine {contract.engine.name} that {contract.manifest.name} describes is not beside it"
    with open_binary(contract.engine, missing) as src, open(folder / VERSION / PLAN_FILE, "wb") as dst:
        while block := src.read(1 << 20):
            h.update(block)
            dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())
    if h.hexdigest() != contract.engine_sha256:  # the manifest describes another engine: its config would lie
        raise BadInputError(f"{contract.manifest}: {contract.engine.name} is not the engine this manifest describes "
                            "(sha256 differs); rebuild it or use its own manifest")
    write_bytes(config_text(cfg, header).encode(), folder / CONFIG_FILE)
    write_bytes(runtime_snippet(contract).encode(), folder / SNIPPET_FILE)
    return [folder / CONFIG_FILE, folder / VERSION / PLAN_FILE, folder / SNIPPET_FILE]


def library_note(contract: EngineContract) -> str | None:
    """Triton's TensorRT backend links TensorRT itself: an engine of another library needs its runtime."""
    if contract.library == "tensorrt":
        return (f"Triton's TensorRT backend loads this engine only when it links tensorrt "
                f"{'.'.join(contract.library_version.split('.')[:2])} (the version it was built with)")
    return (f"built with {contract.library} {contract.library_version}: Triton's TensorRT backend links TensorRT, "
            f"not {contract.library}; serving this engine needs a backend built on the {contract.library} runtime")
