"""The public verbs (``trtready.audit``, ``trtready.fix``, …) and the one place each turns options into a request.

Each ``prepare_<verb>`` checks the options, resolves the target, loads the model and parses every
bound, range, tolerance and input file once, returning the model and a request; ``run_<verb>`` hands
that request to the pipeline. A public verb is the two in a row. A CLI command calls the same two,
opening its output session in between (it checks and locks ``--json``/``--html`` as well), and then
only renders: an option the command and the keyword argument share cannot mean two things.

Heavy libraries (torch, ONNX Runtime, TensorRT) are imported inside the functions that need them, so
importing this module (and ``trtready --help``) stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready import load as loading  # called as loading.load_model: tests replace it there
from trtready.audit import AuditReport, audit_loaded
from trtready.bounds import parse_dynamic, parse_input_ranges, with_recorded
from trtready.deploy import TritonRequest
from trtready.deploy.triton import check_name
from trtready.engine.engine import build_engine, library_for
from trtready.engine.inspect import view_of
from trtready.engine.manifest import compare_environment, manifest_path, read_manifest
from trtready.engine.profiles import parse_profiles
from trtready.errors import BadInputError, MissingLibraryError, UsageError
from trtready.fix import FixRequest
from trtready.fix.dispatch import run_fix as fix_dispatch
from trtready.limits import DEFAULT_LIMITS
from trtready.load.detect import ModelKind, detect, is_hf
from trtready.pipeline import export as export_stages
from trtready.plan import PlanOptions
from trtready.plan.export_plan import CHOICES
from trtready.targets import resolve_target
from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, parse_tolerances
from trtready.verify.inputs import load_npz
from trtready.verify.pair import verify_loaded

if TYPE_CHECKING:
    from collections.abc import Callable

    from trtready.bounds import DimBound
    from trtready.deploy import ConfigCheck, DeployResult
    from trtready.engine.engine import BuildResult
    from trtready.engine.network import NetworkView
    from trtready.engine.profiles import InputProfile
    from trtready.export.exporter import ExportResult
    from trtready.fix import FixResult
    from trtready.intervals import Interval
    from trtready.limits import Limits
    from trtready.load import LoadedModel
    from trtready.load.spec import ModelSpec
    from trtready.outputs import OutputSession
    from trtready.pipeline import ConvertResult
    from trtready.targets import ResolvedTarget
    from trtready.verify.compare import Comparison


Tolerance = tuple[float, dict[str, float]]  # a default and per-output values (verify.compare.parse_tolerances)


def exporter_choice(choice: str) -> str:
    """``exporter``/``--exporter``: one of the export paths' starting points (trtready.plan.export_plan)."""
    if choice not in CHOICES:
        raise UsageError(f"exporter {choice!r}: choose one of {', '.join(CHOICES)}")
    return choice


def _limits(limits: Limits | None) -> Limits:
    return limits or DEFAULT_LIMITS


def _tolerances(rtol: list[str] | tuple[str, ...] | None,
                atol: list[str] | tuple[str, ...] | None) -> tuple[Tolerance, Tolerance]:
    return parse_tolerances(rtol, DEFAULT_RTOL), parse_tolerances(atol, DEFAULT_ATOL)


def _feeds(inputs: str | Path | None, limits: Limits) -> dict[str, Any] | None:
    return load_npz(str(inputs), limits) if inputs else None


# ----------------------------------------------------------------------------------------------- audit


@dataclass
class AuditRequest:
    """What ``audit`` was asked: the target and the bounds the proofs start from."""

    target: ResolvedTarget
    bounds: list[DimBound] = field(default_factory=list)
    ranges: dict[str, Interval] = field(default_factory=dict)
    flow: bool = True  # build the dtype-flow picture and report data (the CLI: only for a file that shows it)


def prepare_audit(model: str | ModelSpec, *, target: str | None = None, dynamic: list[str] | tuple[str, ...] | None = None,
                  input_range: list[str] | tuple[str, ...] | None = None, trust_code: bool = False,
                  limits: Limits | None = None, hf_set: dict[str, Any] | None = None) -> tuple[LoadedModel, AuditRequest]:
    """The model (config-only: an ``hf:`` config is built without weights) and what to audit it for."""
    if hf_set and not (isinstance(model, str) and is_hf(model)):
        raise UsageError("--hf-set sets fields of an hf: config; the model given is not one")
    limits = _limits(limits)
    resolved = resolve_target(target)
    loaded = loading.load_model(model, trust_code=trust_code, limits=limits, config_only=True, hf_set=hf_set)
    # an hf: model's bounds are defaults (batch [1:4] × seq [2:max positions]): given ones replace them
    given = [] if dynamic and loaded.hf is not None else loaded.dynamic
    bounds = with_recorded(parse_dynamic(list(dynamic or []) + given, limits), loaded.recorded_bounds())
    return loaded, AuditRequest(resolved, bounds,
                                parse_input_ranges(list(input_range or []) + loaded.input_ranges))


def run_audit(loaded: LoadedModel, request: AuditRequest) -> AuditReport:
    return AuditReport(audit_loaded(loaded, request.bounds, request.ranges, flow=request.flow), request.target)


def audit(
    model: str | ModelSpec,
    *,
    target: str | None = None,
    dynamic: list[str] | None = None,
    input_range: list[str] | None = None,
    trust_code: bool = False,
    limits: Limits | None = None,
    hf_set: dict[str, Any] | None = None,
) -> AuditReport:
    """Find every int64/float64 tensor in ``model`` and predict what ``target`` does with it.

    Args:
        model: a path (.onnx, .pt2, TorchScript, checkpoint, .safetensors), a
            ``package.module:factory`` spec, a :class:`ModelSpec`, or ``hf:CONFIG`` (a transformers
            config built without weights: docs/cli.md, "Config-only audit").
        target: ``trt8``, ``trt10``, ``trt11``, ``trt-rtx``, ``torch-trt-ts`` or ``torch-trt-dynamo``; default:
            the TensorRT that is installed (see :func:`trtready.targets.resolve_target`).
        dynamic: ``'NAME:AXIS=DIM[MIN:MAX],…'`` bounds (also taken from a ModelSpec).
        input_range: ``'NAME:LO..HI'`` bounds on integer inputs' values.
        trust_code: run what model files carry (pickled objects, TorchScript code): trusted files only.
        limits: resource limits (:class:`trtready.limits.Limits`); declared sizes past them are refused.
        hf_set: fields set on an ``hf:`` config before the build (``--hf-set``), e.g. ``{"num_hidden_layers": 2}``.

    Returns:
        An :class:`~trtready.audit.AuditReport`, truthy when the model is ready for the target.
    """
    loaded, request = prepare_audit(model, target=target, dynamic=dynamic, input_range=input_range,
                                    trust_code=trust_code, limits=limits, hf_set=hf_set)
    return run_audit(loaded, request)


# ------------------------------------------------------------------------------------------ fix, convert


def _fix_request(loaded: LoadedModel, out: str | Path | None, resolved: ResolvedTarget, *,
                 dynamic: list[str] | tuple[str, ...] | None, input_range: list[str] | tuple[str, ...] | None,
                 io_int32: bool, strict: bool, allow_underflow: bool, verify: bool, inputs: str | Path | None,
                 trials: int, rtol: list[str] | tuple[str, ...] | None, atol: list[str] | tuple[str, ...] | None,
                 exporter: str, force: bool, limits: Limits, dry_run: bool = False,
                 input_names: list[str] | None = None, output_names: list[str] | None = None) -> FixRequest:
    """The request ``fix`` and ``convert`` share: the plan options, bounds, tolerances and inputs."""
    rtols, atols = _tolerances(rtol, atol)
    return FixRequest(
        Path(out) if out is not None else None, resolved,
        PlanOptions(strict=strict, io_int32=io_int32, allow_underflow=allow_underflow),
        with_recorded(parse_dynamic(list(dynamic or []) + loaded.dynamic, limits), loaded.recorded_bounds()),
        parse_input_ranges(list(input_range or []) + loaded.input_ranges),
        dry_run=dry_run, verify=verify, trials=trials, force=force, rtol=rtols, atol=atols,
        feeds=_feeds(inputs, limits), input_names=input_names, output_names=output_names, limits=limits,
        exporter=exporter_choice(exporter),
    )


def prepare_fix(model: str | ModelSpec, out: str | Path | None = None, *, target: str | None = None,
                dynamic: list[str] | tuple[str, ...] | None = None,
                input_range: list[str] | tuple[str, ...] | None = None, io_int32: bool = False,
                strict: bool = False, allow_underflow: bool = False, dry_run: bool = False, verify: bool = True,
                inputs: str | Path | None = None, trials: int = 4, rtol: list[str] | tuple[str, ...] | None = None,
                atol: list[str] | tuple[str, ...] | None = None, exporter: str = "auto", force: bool = False,
                trust_code: bool = False, limits: Limits | None = None) -> tuple[LoadedModel, FixRequest]:
    """The model and ``fix``'s request; the caller may set ``request.session`` before :func:`run_fix`."""
    if out is None and not dry_run:
        raise UsageError("fix needs -o OUT (or --dry-run)")
    limits = _limits(limits)
    resolved = resolve_target(target)
    loaded = loading.load_model(model, trust_code=trust_code, limits=limits)
    return loaded, _fix_request(loaded, out, resolved, dynamic=dynamic, input_range=input_range, io_int32=io_int32,
                                strict=strict, allow_underflow=allow_underflow, dry_run=dry_run, verify=verify,
                                inputs=inputs, trials=trials, rtol=rtol, atol=atol, exporter=exporter, force=force,
                                limits=limits)


def run_fix(loaded: LoadedModel, request: FixRequest) -> FixResult:
    return fix_dispatch(loaded, request)


def fix(
    model: str | ModelSpec,
    out: str | Path | None = None,
    *,
    target: str | None = None,
    dynamic: list[str] | None = None,
    input_range: list[str] | None = None,
    io_int32: bool = False,
    strict: bool = False,
    allow_underflow: bool = False,
    dry_run: bool = False,
    verify: bool = True,
    inputs: str | Path | None = None,
    trials: int = 4,
    rtol: list[str] | None = None,
    atol: list[str] | None = None,
    exporter: str = "auto",
    force: bool = False,
    trust_code: bool = False,
    limits: Limits | None = None,
) -> FixResult:
    """Narrow 64-bit tensors where a range proof allows, verify, and write the result.

    Every 64-bit value gets a decision: *narrow* (proved to fit), *keep* (the target holds 64-bit,
    or the ONNX spec demands int64) or *refuse* — raising :class:`UnsafeNarrowingError` naming the
    tensor and the value, with nothing written — when the target cannot hold it (trt8,
    torch-trt-ts) or ``strict``/``io_int32`` force narrowing.

    Args:
        model: as for :func:`audit`.
        out: ``OUT.onnx`` for an ONNX input; a folder for a spec/.pt2; a file for TorchScript or a
            state_dict. Not needed with ``dry_run``.
        io_int32: narrow integer graph inputs/outputs too.
        strict: refuse any 64-bit value not proved to fit.
        allow_underflow: accept float64 values that underflow to zero in float32.
        dry_run: decide only; write nothing.
        verify: compare the result with the original (exact for integers); a mismatch writes nothing.
        inputs: an ``.npz`` of verification inputs by input name (else generated from each input's role).
        trials: seeded input sets for verification: dynamic dims at the example size, their minimum
            and their maximum always, then random sizes between.
        rtol, atol: float tolerances, ``['1e-4', 'logits:1e-3']`` (default atol: scaled per output).
        exporter: ``auto`` (torch.onnx dynamo, its proved recoveries, then dynamo=False, until a file
            translates and verifies), ``dynamo`` or ``torchscript``; the result's ``export`` says which.
        force: replace an existing output that trtready wrote (never anything else).
        trust_code, limits: as for :func:`audit`.

    Returns:
        A :class:`~trtready.fix.FixResult`, truthy when verification passed.
    """
    loaded, request = prepare_fix(model, out, target=target, dynamic=dynamic, input_range=input_range,
                                  io_int32=io_int32, strict=strict, allow_underflow=allow_underflow, dry_run=dry_run,
                                  verify=verify, inputs=inputs, trials=trials, rtol=rtol, atol=atol,
                                  exporter=exporter, force=force, trust_code=trust_code, limits=limits)
    return run_fix(loaded, request)


@dataclass
class ConvertRequest:
    """What ``convert`` was asked: ``fix``'s request plus the stages after it."""

    fix: FixRequest
    build: bool = True
    baseline: bool = False
    frontend: str = "onnx"
    profiles: dict[str, InputProfile] = field(default_factory=dict)
    triton: TritonRequest | None = None


def prepare_convert(model: str | ModelSpec, out: str | Path, *, target: str | None = None,
                    dynamic: list[str] | tuple[str, ...] | None = None,
                    input_range: list[str] | tuple[str, ...] | None = None, input_names: list[str] | None = None,
                    output_names: list[str] | None = None, profile: list[str] | tuple[str, ...] | None = None,
                    frontend: str = "onnx", io_int32: bool = False, strict: bool = False,
                    allow_underflow: bool = False, baseline: bool = False, build: bool = True, verify: bool = True,
                    inputs: str | Path | None = None, trials: int = 4, rtol: list[str] | tuple[str, ...] | None = None,
                    atol: list[str] | tuple[str, ...] | None = None, exporter: str = "auto", force: bool = False,
                    trust_code: bool = False, limits: Limits | None = None, triton: str | Path | None = None,
                    max_batch: int | None = None,
                    instances: int | None = None) -> tuple[LoadedModel, ConvertRequest]:
    """The model and ``convert``'s request; the caller may set ``request.fix.session`` before :func:`run_convert`."""
    if triton is None and (max_batch is not None or instances is not None):
        raise UsageError("max_batch and instances shape the Triton model: give triton=REPO too")
    limits = _limits(limits)
    resolved = resolve_target(target or ("torch-trt-dynamo" if frontend == "torch-trt-dynamo" else None))
    if frontend == "onnx" and resolved.profile.library == "torch_tensorrt":
        raise UsageError(f"--target {resolved.name} compiles with Torch-TensorRT: add --frontend torch-trt-dynamo")
    loaded = loading.load_model(model, trust_code=trust_code, limits=limits)
    serve = None
    if triton is not None:
        serve = TritonRequest(Path(triton), check_name(Path(out).name), max_batch, instances)
    req = _fix_request(loaded, out, resolved, dynamic=dynamic, input_range=input_range, io_int32=io_int32,
                       strict=strict, allow_underflow=allow_underflow, verify=verify, inputs=inputs, trials=trials,
                       rtol=rtol, atol=atol, exporter=exporter, force=force, limits=limits,
                       input_names=input_names, output_names=output_names)
    return loaded, ConvertRequest(req, build=build, baseline=baseline, frontend=frontend,
                                  profiles=parse_profiles(profile), triton=serve)


def can_build_for(target: str) -> str | None:
    """Why no engine can be built here for ``target`` (its TensorRT library is missing), or None."""
    try:
        library_for(resolve_target(target))
    except (MissingLibraryError, UsageError) as e:
        return str(e)
    return None


def run_convert(loaded: LoadedModel, request: ConvertRequest, console: Any = None) -> ConvertResult:
    """``console`` (a rich Console) shows each stage as it runs."""
    from trtready.pipeline import convert as run

    return run(loaded, request.fix, build=request.build, baseline=request.baseline, frontend=request.frontend,
               profiles=request.profiles, console=console, triton=request.triton)


def convert(
    model: str | ModelSpec,
    out: str | Path,
    *,
    target: str | None = None,
    dynamic: list[str] | None = None,
    input_range: list[str] | None = None,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    profile: list[str] | None = None,
    frontend: str = "onnx",
    io_int32: bool = False,
    strict: bool = False,
    allow_underflow: bool = False,
    baseline: bool = False,
    build: bool = True,
    verify: bool = True,
    inputs: str | Path | None = None,
    trials: int = 4,
    rtol: list[str] | None = None,
    atol: list[str] | None = None,
    exporter: str = "auto",
    force: bool = False,
    trust_code: bool = False,
    limits: Limits | None = None,
    triton: str | Path | None = None,
    max_batch: int | None = None,
    instances: int | None = None,
) -> ConvertResult:
    """The whole pipeline into one folder: audit, plan, narrow, export, verify, build, inspect.

    The folder appears only when everything succeeded (an older one trtready wrote is replaced, with
    ``force``, only then). Truthy when verification passed. ``triton=REPO`` also writes the engine's
    Triton model ``REPO/<out's name>`` (see :func:`deploy`).
    """
    loaded, request = prepare_convert(
        model, out, target=target, dynamic=dynamic, input_range=input_range, input_names=input_names,
        output_names=output_names, profile=profile, frontend=frontend, io_int32=io_int32, strict=strict,
        allow_underflow=allow_underflow, baseline=baseline, build=build, verify=verify, inputs=inputs, trials=trials,
        rtol=rtol, atol=atol, exporter=exporter, force=force, trust_code=trust_code, limits=limits, triton=triton,
        max_batch=max_batch, instances=instances)
    return run_convert(loaded, request)


# ----------------------------------------------------------------------------------- verify, export, build


@dataclass
class VerifyRequest:
    """What ``verify`` compares with: bounds and ranges as given (checked against both models'
    inputs when they run), seeded trials or given feeds, tolerances."""

    dynamic: list[str] = field(default_factory=list)
    input_range: list[str] = field(default_factory=list)
    trials: int = 4
    rtol: tuple[float, dict[str, float]] | None = None
    atol: tuple[float, dict[str, float]] | None = None
    feeds: dict[str, Any] | None = None
    limits: Limits | None = None


def prepare_verify(reference: str | ModelSpec, candidate: str | ModelSpec, *,
                   dynamic: list[str] | tuple[str, ...] | None = None,
                   input_range: list[str] | tuple[str, ...] | None = None, inputs: str | Path | None = None,
                   trials: int = 4, rtol: list[str] | tuple[str, ...] | None = None,
                   atol: list[str] | tuple[str, ...] | None = None, trust_code: bool = False,
                   limits: Limits | None = None) -> tuple[LoadedModel, LoadedModel, VerifyRequest]:
    limits = _limits(limits)
    ref = loading.load_model(reference, trust_code=trust_code, limits=limits)
    cand = loading.load_model(candidate, trust_code=trust_code, limits=limits)
    rtols, atols = _tolerances(rtol, atol)
    return ref, cand, VerifyRequest(list(dynamic or []), list(input_range or []), trials, rtols, atols,
                                    _feeds(inputs, limits), limits)


def run_verify(ref: LoadedModel, cand: LoadedModel, request: VerifyRequest) -> Comparison:
    r = request
    return verify_loaded(ref, cand, dynamic=r.dynamic, input_range=r.input_range, trials=r.trials, rtol=r.rtol,
                         atol=r.atol, feeds=r.feeds, limits=r.limits)


def verify(
    reference: str | ModelSpec,
    candidate: str | ModelSpec,
    *,
    dynamic: list[str] | None = None,
    input_range: list[str] | None = None,
    inputs: str | Path | None = None,
    trials: int = 4,
    rtol: list[str] | None = None,
    atol: list[str] | None = None,
    trust_code: bool = False,
    limits: Limits | None = None,
) -> Comparison:
    """Run both models on the same inputs (``inputs`` .npz, else generated from roles) and compare.

    Integers and bools compare exactly; floats with ``rtol``/``atol`` (``['1e-4', 'logits:1e-3']``;
    without atol, one scaled to each output's magnitude and the model's depth). Truthy when they match.
    """
    ref, cand, request = prepare_verify(reference, candidate, dynamic=dynamic, input_range=input_range,
                                        inputs=inputs, trials=trials, rtol=rtol, atol=atol, trust_code=trust_code,
                                        limits=limits)
    return run_verify(ref, cand, request)


@dataclass
class ExportRequest:
    """What ``export`` writes: one format at ``out``, with the names and bounds given."""

    out: Path
    format: str
    bounds: list[DimBound] = field(default_factory=list)
    input_names: list[str] | None = None
    output_names: list[str] | None = None
    force: bool = False
    exporter: str = "auto"


def prepare_export(model: str | ModelSpec, out: str | Path, *, format: str = "onnx",  # noqa: A002 - the CLI's option name
                   input_names: list[str] | None = None, output_names: list[str] | None = None,
                   dynamic: list[str] | tuple[str, ...] | None = None, exporter: str = "auto", force: bool = False,
                   trust_code: bool = False, limits: Limits | None = None) -> tuple[LoadedModel, ExportRequest]:
    limits = _limits(limits)
    loaded = loading.load_model(model, trust_code=trust_code, limits=limits)
    bounds = with_recorded(parse_dynamic(list(dynamic or []) + loaded.dynamic, limits), loaded.recorded_bounds())
    return loaded, ExportRequest(Path(out), format, bounds,
                                 input_names, output_names, force, exporter_choice(exporter))


def run_export(loaded: LoadedModel, request: ExportRequest, session: OutputSession | None = None) -> ExportResult:
    r = request
    return export_stages(loaded, r.out, r.format, r.bounds, r.input_names, r.output_names, force=r.force,
                         session=session, exporter=r.exporter)


def export(
    model: str | ModelSpec,
    out: str | Path,
    *,
    format: str = "onnx",  # noqa: A002 - the CLI's option name
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic: list[str] | None = None,
    exporter: str = "auto",
    force: bool = False,
    trust_code: bool = False,
    limits: Limits | None = None,
) -> ExportResult:
    """Export a spec or ``.pt2`` to ONNX (one torch.onnx translation), ``.pt2`` or TorchScript.

    ``exporter`` picks the ONNX export path as for :func:`fix`; the result's ``export`` says which wrote it.
    """
    loaded, request = prepare_export(model, out, format=format, input_names=input_names, output_names=output_names,
                                     dynamic=dynamic, exporter=exporter, force=force, trust_code=trust_code,
                                     limits=limits)
    return run_export(loaded, request)


@dataclass
class BuildRequest:
    """What ``build`` makes: an engine of ``model`` (an ONNX file, with ``data_files``) for ``target``."""

    model: Path
    out: Path
    target: ResolvedTarget
    profiles: dict[str, InputProfile] = field(default_factory=dict)
    force: bool = False
    data_files: list[Path] = field(default_factory=list)


def prepare_build(model: str | Path, out: str | Path, *, target: str | None = None,
                  profile: list[str] | tuple[str, ...] | None = None, force: bool = False,
                  limits: Limits | None = None) -> BuildRequest:
    """Only an ONNX file builds; the library for the target must load before the file is read (within ``limits``)."""
    from trtready.load.onnx_file import load_onnx

    if detect(str(model)) is not ModelKind.ONNX:
        raise BadInputError(f"{model}: build takes an ONNX model (export or fix one first)")
    resolved = resolve_target(target)
    library_for(resolved)
    _, data_files, _ = load_onnx(model, _limits(limits))
    return BuildRequest(Path(model), Path(out), resolved, parse_profiles(profile), force, data_files)


def run_build(request: BuildRequest, session: OutputSession | None = None,
              staged: Callable[[Path], None] | None = None) -> BuildResult:
    """``staged`` sees the engine (and its manifest) staged, before the swap."""
    r = request
    return build_engine(r.model, r.out, r.target, r.profiles, force=r.force, session=session, staged=staged)


def build(
    model: str | Path,
    out: str | Path,
    *,
    target: str | None = None,
    profile: list[str] | None = None,
    force: bool = False,
) -> BuildResult:
    """Build a TensorRT / TensorRT-RTX engine from an ONNX file and write it with its manifest."""
    return run_build(prepare_build(model, out, target=target, profile=profile, force=force))


# --------------------------------------------------------------------------- the engine's and serving side


def inspect_reads(files: list[Path]) -> list[Path]:
    """What ``inspect`` reads: each file and the manifest an engine's view comes from (no output may replace them)."""
    return [p for f in files for p in (f, manifest_path(f))]


def run_inspect(files: list[Path], library: str | None = None) -> list[tuple[str, NetworkView]]:
    """Each file's network view with where it came from (``parsed`` now, or the engine's manifest)."""
    return [view_of(f, library) for f in files]


def inspect(file: str | Path, *, diff: str | Path | None = None, library: str | None = None) -> list[NetworkView]:
    """The TensorRT network view of an ONNX file (parsed) or an engine (from its manifest); two with ``diff``."""
    return [view for _source, view in run_inspect([Path(f) for f in [file] + ([diff] if diff is not None else [])],
                                                  library)]


@dataclass(frozen=True)
class EnvCheck:
    """An engine's manifest against this machine: the differences that break loading, the others, what
    could not be compared, and the TensorRT library the engine was built with."""

    breaking: list[str]
    other: list[str]
    not_compared: list[str]
    library: dict[str, str]


def run_check_env(manifest: Path) -> EnvCheck:
    data = read_manifest(manifest)
    breaking, other, unknown = compare_environment(data)
    return EnvCheck(breaking, other, unknown, {k: str(v) for k, v in data["library"].items()})


def check_env(manifest: str | Path) -> tuple[list[str], list[str], list[str]]:
    """``(breaking, other, not compared)`` differences between an engine's manifest and this machine."""
    found = run_check_env(Path(manifest))
    return found.breaking, found.other, found.not_compared


def deploy(manifest: str | Path, triton: str | Path, *, name: str | None = None, max_batch: int | None = None,
           instances: int | None = None, force: bool = False) -> DeployResult:
    """``deploy MANIFEST --triton REPO``: the engine's Triton model, ``REPO/NAME/config.pbtxt`` and
    ``REPO/NAME/1/model.plan``, every field from the engine's bindings (plus ``run_engine.py``)."""
    from trtready.deploy import deploy as run

    return run(Path(manifest), Path(triton), name=name, max_batch=max_batch, instances=instances, force=force)


def check_config(manifest: str | Path, config: str | Path) -> ConfigCheck:
    """Every disagreement between a Triton ``config.pbtxt`` and the engine of ``manifest``; truthy
    when there is none."""
    from trtready.deploy import check_config as run

    return run(Path(manifest), Path(config))
