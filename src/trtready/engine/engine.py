"""Build a TensorRT / TensorRT-RTX engine from ONNX, and record what was built (manifest).

The target picks the library: trt-rtx → ``tensorrt_rtx``, trt8/trt10/trt11 → ``tensorrt`` of that
major version. TensorRT-RTX builds ahead of time on the CPU, so engines are really built here; they cannot be
*run* without a supported GPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.audit.findings import Finding, Layer, Outcome, Prediction, Role
from trtready.bounds import bounds_from_metadata
from trtready.engine import cancelling_monitor, capturing_logger, interrupts_deferred
from trtready.engine.manifest import manifest_path, write_manifest
from trtready.engine.network import NetworkView, inspect_parsed, parse_network
from trtready.engine.profiles import InputProfile, example_shapes, resolve_profiles
from trtready.errors import BadInputError, MissingLibraryError, UsageError
from trtready.finding_ids import FindingId, build_finding_id
from trtready.outputs import Kind, Output, use_session, write_bytes
from trtready.targets import ResolvedTarget, version_key

if TYPE_CHECKING:
    from collections.abc import Callable

    from trtready.outputs import OutputSession


@dataclass
class BuildResult:
    engine: Path
    manifest: Path
    library: str
    version: str
    seconds: float
    network: NetworkView
    profiles: list[InputProfile]
    findings: list[Finding] = field(default_factory=list)


def library_for(target: ResolvedTarget) -> Any:
    """The TensorRT module that builds for ``target`` (a missing one is a clear error)."""
    from trtready.engine import load_library

    name = target.profile.library
    if name == "torch_tensorrt":
        raise UsageError(f"build makes TensorRT engines from ONNX; {target.name} compiles PyTorch (use convert --frontend)")
    trt = load_library(name)
    if name == "tensorrt":
        version = str(getattr(trt, "__version__", "0"))
        span = target.profile.release_range
        if span is not None:  # trt10 / trt11: the major releases the profile's facts describe
            fits = version_key(span[0]) <= version_key(version) < version_key(span[1])
            need = f"{span[0]}.x"
        else:  # trt8: anything before 10
            fits, need = version_key(version) < (10,), "8.x"
        if not fits:
            raise MissingLibraryError(
                f"target {target.name} needs TensorRT {need}, but tensorrt {version} is installed")
    return trt


def log_findings(messages: list[tuple[str, str]], target: str, onnx_io: dict[str, str], network: NetworkView) -> list[Finding]:
    """What the build log and the parsed network say about 64-bit tensors, as findings."""
    out: list[Finding] = []
    for severity, msg in messages:
        if "Int64 binding" in msg:
            name = msg.split("Make sure ", 1)[-1].split(" has Int64", 1)[0].split(" ", 1)[-1]
            out.append(_finding(build_finding_id("binding", name), name, "int64", target, Outcome.FINE,
                                f"TensorRT: {msg.strip()}", Role.INPUT if "input" in msg else Role.OUTPUT))
        elif "not self-consistent" in msg or "out of bounds" in msg:
            out.append(_finding(build_finding_id("profile", str(len(out))), "profile", "int64", target, Outcome.ERROR,
                                f"TensorRT warns: {msg.strip()}", Role.INPUT))
    for io in network.inputs + network.outputs:
        if onnx_io.get(io["name"]) == "DOUBLE" and io["dtype"] == "FLOAT":
            out.append(_finding(build_finding_id("double", io["name"]), io["name"], "float64", target, Outcome.PRECISION_LOSS,
                                "ONNX DOUBLE became FLOAT in the network; TensorRT printed nothing", Role.OUTPUT))
    return out


def _finding(fid: FindingId, tensor: str, dtype: str, target: str, outcome: Outcome, msg: str, role: Role) -> Finding:
    return Finding(id=fid, layer=Layer.TRT, tensor=tensor, dtype=dtype, shape=None, where="TensorRT build",
                   role=role, predictions={target: Prediction(outcome, msg)})


@dataclass
class Built:
    """An engine built in memory, with what the manifest records; written by :func:`write_engine`."""

    serialized: bytes
    onnx_path: Path
    data_files: list[Path]
    target: ResolvedTarget
    trt: Any
    seconds: float
    network: NetworkView
    profiles: list[InputProfile]
    findings: list[Finding]
    builder: dict[str, Any]


def build(onnx_path: Path, target: ResolvedTarget, profiles: dict[str, InputProfile],
          written: tuple[Any, list[Path]] | None = None, *, building: Callable[[], None] | None = None) -> Built:
    """Parse and build: nothing is written (profiles are checked against the recorded bounds first).

    ``written`` is the onnx-ir model saved at ``onnx_path`` in this run and the files it was saved to
    (``outputs.save_onnx``): its inputs, outputs and recorded bounds are read from it, not from the
    file parsed once more. TensorRT parses the file either way. ``building`` is called once the
    network is parsed and its profiles set, just before the build (work that may overlap it)."""
    from trtready.load.onnx_file import load_onnx

    trt = library_for(target)
    if written is None:
        model, data_files, _notes = load_onnx(onnx_path)
    else:
        model, data_files = written[0], sorted(Path(f).resolve() for f in written[1] if Path(f) != Path(onnx_path))
    onnx_io = {v.name: v.dtype.name for v in list(model.graph.inputs) + list(model.graph.outputs) if v.dtype and v.name}
    logger = capturing_logger(trt)
    start_msgs = len(logger.messages)
    # Ctrl-C/SIGTERM are recorded while TensorRT runs (its callbacks would swallow KeyboardInterrupt),
    # cancel the build at its next step, and are raised when the block ends: nothing is written.
    with interrupts_deferred() as interrupted:
        _, builder, network = parse_network(Path(onnx_path), trt.__name__)
        if interrupted.is_set():
            raise KeyboardInterrupt
        inputs = [(network.get_input(i).name, tuple(network.get_input(i).shape)) for i in range(network.num_inputs)]
        resolved = resolve_profiles(inputs, profiles, bounds_from_metadata(model), example_shapes(model))
        config = builder.create_builder_config()
        if resolved:
            prof = builder.create_optimization_profile()
            for p in resolved:
                try:
                    prof.set_shape(p.name, p.min, p.opt, p.max)
                except (RuntimeError, TypeError, ValueError) as e:
                    from trtready.errors import first_line

                    raise UsageError(f"profile of {p.name}: {trt.__name__} rejects min {list(p.min)} opt {list(p.opt)} "
                                     f"max {list(p.max)}: {first_line(e)}") from e
            config.add_optimization_profile(prof)
        monitor = cancelling_monitor(trt, interrupted)
        if monitor is not None:
            config.progress_monitor = monitor
        if building is not None:
            building()
        t0 = time.perf_counter()
        serialized = builder.build_serialized_network(network, config)
        seconds = time.perf_counter() - t0
        if interrupted.is_set():
            raise KeyboardInterrupt
    messages = logger.messages[start_msgs:]
    if serialized is None:
        errors = [m for s, m in messages if s in ("ERROR", "INTERNAL_ERROR")]
        raise BadInputError(f"the {trt.__name__} builder failed: {errors[-1] if errors else 'no engine produced'}")
    view = inspect_parsed(trt, network)
    findings = log_findings(messages, target.name, onnx_io, view)
    return Built(bytes(serialized), Path(onnx_path), data_files, target, trt, seconds, view, resolved, findings,
                 {"builder_optimization_level": config.builder_optimization_level})


def write_engine(built: Built, dest: Path, final: Path | None = None) -> BuildResult:
    """Write the engine at ``dest`` and its manifest beside it; ``final`` is where they will live
    (the paths the manifest and the result record, when ``dest`` is a staging path)."""
    final = final or dest
    write_bytes(built.serialized, dest)
    write_manifest(dest, final, built.onnx_path, built.data_files, built.target, built.trt, built.network,
                   built.profiles, built.findings, built.builder)
    return BuildResult(final, manifest_path(final), built.trt.__name__, built.trt.__version__, built.seconds,
                       built.network, built.profiles, built.findings)


def build_engine(onnx_path: Path, engine_path: Path, target: ResolvedTarget, profiles: dict[str, InputProfile], *,
                 force: bool = False, session: OutputSession | None = None,
                 staged: Callable[[Path], None] | None = None) -> BuildResult:
    """``build``: the engine and its manifest, checked and locked first, swapped in whole. ``staged``
    sees the staged engine before the swap (in a jailed run, the commit moves it out of reach)."""
    output = Output(Path(engine_path), Kind.ENGINE)
    inputs = [Path(onnx_path)]
    with use_session(session, [output], inputs, force) as s:
        built = build(Path(onnx_path), target, profiles)
        dest = s.stage(output.path)
        result = write_engine(built, dest, output.path)
        if staged is not None:
            staged(dest)
        s.commit(output.path)
    return result
