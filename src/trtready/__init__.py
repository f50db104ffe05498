"""trtready: make PyTorch and ONNX models TensorRT-ready.

Public verbs mirror the CLI (docs/cli.md): same names, same options as keyword arguments. Heavy
libraries (torch, TensorRT) are imported only by the verbs that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trtready.errors import (
    BadInputError,
    MissingLibraryError,
    TrtReadyError,
    UnsafeInputError,
    UnsafeNarrowingError,
    UsageError,
)
from trtready.load.spec import ModelSpec

# Subpackages share their names with the verbs below. Importing them first (they are light: no
# torch, no TensorRT) means the verb functions defined afterwards are what ``trtready.audit`` names;
# a later ``from trtready.audit import …`` finds the package in sys.modules and leaves them alone.
import trtready.audit as _audit_pkg  # noqa: E402,F401  isort: skip
import trtready.fix as _fix_pkg  # noqa: E402,F401  isort: skip
import trtready.verify as _verify_pkg  # noqa: E402,F401  isort: skip
import trtready.export as _export_pkg  # noqa: E402,F401  isort: skip
import trtready.deploy as _deploy_pkg  # noqa: E402,F401  isort: skip
import trtready.batch as _batch_module  # noqa: E402,F401  isort: skip

if TYPE_CHECKING:
    from pathlib import Path

    from trtready.audit import AuditReport
    from trtready.batch import BatchResult
    from trtready.deploy import ConfigCheck, DeployResult
    from trtready.engine.engine import BuildResult
    from trtready.engine.network import NetworkView
    from trtready.export.exporter import ExportResult
    from trtready.fix import FixResult
    from trtready.limits import Limits
    from trtready.pipeline import ConvertResult
    from trtready.verify.compare import Comparison

from trtready.version import __version__

__all__ = [
    "BadInputError",
    "MissingLibraryError",
    "ModelSpec",
    "TrtReadyError",
    "UnsafeInputError",
    "UnsafeNarrowingError",
    "UsageError",
    "__version__",
    "audit",
    "batch",
    "build",
    "check_config",
    "check_env",
    "convert",
    "deploy",
    "export",
    "fix",
    "inspect",
    "verify",
]


def audit(
    model: "str | ModelSpec",
    *,
    target: str | None = None,
    dynamic: list[str] | None = None,
    input_range: list[str] | None = None,
    trust_code: bool = False,
    limits: "Limits | None" = None,
    hf_set: dict[str, Any] | None = None,
) -> "AuditReport":
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
    from trtready.audit import AuditReport, audit_loaded
    from trtready.bounds import parse_dynamic, parse_input_ranges
    from trtready.load import load_model
    from trtready.targets import resolve_target

    from trtready.limits import DEFAULT_LIMITS

    limits = limits or DEFAULT_LIMITS
    resolved = resolve_target(target)
    loaded = load_model(model, trust_code=trust_code, limits=limits, config_only=True, hf_set=hf_set)
    # an hf: model's bounds are defaults: given ones replace them
    given = [] if dynamic and loaded.hf is not None else loaded.dynamic
    bounds = parse_dynamic(list(dynamic or []) + given, limits)
    ranges = parse_input_ranges(list(input_range or []) + loaded.input_ranges)
    return AuditReport(audit_loaded(loaded, bounds, ranges), resolved)


def fix(
    model: "str | ModelSpec",
    out: "str | Path | None" = None,
    *,
    target: str | None = None,
    dynamic: list[str] | None = None,
    input_range: list[str] | None = None,
    io_int32: bool = False,
    strict: bool = False,
    allow_underflow: bool = False,
    dry_run: bool = False,
    verify: bool = True,
    inputs: "str | Path | None" = None,
    trials: int = 4,
    rtol: list[str] | None = None,
    atol: list[str] | None = None,
    exporter: str = "auto",
    force: bool = False,
    trust_code: bool = False,
    limits: "Limits | None" = None,
) -> "FixResult":
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
    from pathlib import Path

    from trtready.bounds import parse_dynamic, parse_input_ranges
    from trtready.errors import UsageError
    from trtready.fix import FixRequest
    from trtready.fix.dispatch import run_fix
    from trtready.load import load_model
    from trtready.plan import PlanOptions
    from trtready.targets import resolve_target

    from trtready.limits import DEFAULT_LIMITS

    if out is None and not dry_run:
        raise UsageError("fix needs an output (-o OUT) unless --dry-run")
    limits = limits or DEFAULT_LIMITS
    resolved = resolve_target(target)
    loaded = load_model(model, trust_code=trust_code, limits=limits)
    bounds = parse_dynamic(list(dynamic or []) + loaded.dynamic, limits)
    ranges = parse_input_ranges(list(input_range or []) + loaded.input_ranges)
    options = PlanOptions(strict=strict, io_int32=io_int32, allow_underflow=allow_underflow)
    from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, parse_tolerances
    from trtready.verify.inputs import load_npz

    request = FixRequest(Path(out) if out is not None else None, resolved, options, bounds, ranges,
                         dry_run=dry_run, verify=verify, trials=trials, force=force, limits=limits,
                         rtol=parse_tolerances(rtol, DEFAULT_RTOL), atol=parse_tolerances(atol, DEFAULT_ATOL),
                         feeds=load_npz(str(inputs), limits) if inputs else None, exporter=_exporter(exporter))
    return run_fix(loaded, request)


def _exporter(choice: str) -> str:
    from trtready.errors import UsageError
    from trtready.plan.export_plan import CHOICES

    if choice not in CHOICES:
        raise UsageError(f"exporter {choice!r}: choose one of {', '.join(CHOICES)}")
    return choice


def verify(
    reference: "str | ModelSpec",
    candidate: "str | ModelSpec",
    *,
    dynamic: list[str] | None = None,
    input_range: list[str] | None = None,
    inputs: "str | Path | None" = None,
    trials: int = 4,
    rtol: list[str] | None = None,
    atol: list[str] | None = None,
    trust_code: bool = False,
    limits: "Limits | None" = None,
) -> "Comparison":
    """Run both models on the same inputs (``inputs`` .npz, else generated from roles) and compare.

    Integers and bools compare exactly; floats with ``rtol``/``atol`` (``['1e-4', 'logits:1e-3']``;
    without atol, one scaled to each output's magnitude and the model's depth). Truthy when they match.
    """
    from trtready.limits import DEFAULT_LIMITS
    from trtready.load import load_model
    from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, parse_tolerances
    from trtready.verify.inputs import load_npz
    from trtready.verify.pair import verify_loaded

    limits = limits or DEFAULT_LIMITS
    ref = load_model(reference, trust_code=trust_code, limits=limits)
    cand = load_model(candidate, trust_code=trust_code, limits=limits)
    return verify_loaded(ref, cand, dynamic=dynamic, input_range=input_range, trials=trials,
                         rtol=parse_tolerances(rtol, DEFAULT_RTOL), atol=parse_tolerances(atol, DEFAULT_ATOL),
                         feeds=load_npz(str(inputs), limits) if inputs else None, limits=limits)


def export(
    model: "str | ModelSpec",
    out: "str | Path",
    *,
    format: str = "onnx",  # noqa: A002 - the CLI's option name
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic: list[str] | None = None,
    exporter: str = "auto",
    force: bool = False,
    trust_code: bool = False,
    limits: "Limits | None" = None,
) -> "ExportResult":
    """Export a spec or ``.pt2`` to ONNX (one torch.onnx translation), ``.pt2`` or TorchScript.

    ``exporter`` picks the ONNX export path as for :func:`fix`; the result's ``export`` says which wrote it.
    """
    from pathlib import Path

    from trtready.bounds import parse_dynamic
    from trtready.limits import DEFAULT_LIMITS
    from trtready.load import load_model
    from trtready.pipeline import export as export_stages

    limits = limits or DEFAULT_LIMITS
    loaded = load_model(model, trust_code=trust_code, limits=limits)
    return export_stages(loaded, Path(out), format, parse_dynamic(list(dynamic or []) + loaded.dynamic, limits),
                         input_names, output_names, force=force, exporter=exporter)


def build(
    model: "str | Path",
    out: "str | Path",
    *,
    target: str | None = None,
    profile: list[str] | None = None,
    force: bool = False,
) -> "BuildResult":
    """Build a TensorRT / TensorRT-RTX engine from an ONNX file and write it with its manifest."""
    from pathlib import Path

    from trtready.engine.engine import build_engine
    from trtready.engine.profiles import parse_profiles
    from trtready.targets import resolve_target

    return build_engine(Path(model), Path(out), resolve_target(target), parse_profiles(profile), force=force)


def inspect(file: "str | Path", *, diff: "str | Path | None" = None, library: str | None = None) -> list["NetworkView"]:
    """The TensorRT network view of an ONNX file (parsed) or an engine (from its manifest); two with ``diff``."""
    from pathlib import Path

    from trtready.engine.inspect import view_of

    return [view_of(Path(f), library)[1] for f in [file] + ([diff] if diff is not None else [])]


def check_env(manifest: "str | Path") -> tuple[list[str], list[str], list[str]]:
    """``(breaking, other, not compared)`` differences between an engine's manifest and this machine."""
    from pathlib import Path

    from trtready.engine.manifest import compare_environment, read_manifest

    return compare_environment(read_manifest(Path(manifest)))


def convert(
    model: "str | ModelSpec",
    out: "str | Path",
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
    inputs: "str | Path | None" = None,
    trials: int = 4,
    rtol: list[str] | None = None,
    atol: list[str] | None = None,
    exporter: str = "auto",
    force: bool = False,
    trust_code: bool = False,
    limits: "Limits | None" = None,
    triton: "str | Path | None" = None,
    max_batch: int | None = None,
    instances: int | None = None,
) -> "ConvertResult":
    """The whole pipeline into one folder: audit, plan, narrow, export, verify, build, inspect.

    The folder appears only when everything succeeded (an older one trtready wrote is replaced, with
    ``force``, only then). Truthy when verification passed. ``triton=REPO`` also writes the engine's
    Triton model ``REPO/<out's name>`` (see :func:`deploy`).
    """
    from pathlib import Path

    from trtready.bounds import parse_dynamic, parse_input_ranges
    from trtready.engine.profiles import parse_profiles
    from trtready.fix import FixRequest
    from trtready.limits import DEFAULT_LIMITS
    from trtready.load import load_model
    from trtready.pipeline import convert as run
    from trtready.plan import PlanOptions
    from trtready.targets import resolve_target
    from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, parse_tolerances
    from trtready.verify.inputs import load_npz

    limits = limits or DEFAULT_LIMITS
    resolved = resolve_target(target or ("torch-trt-dynamo" if frontend == "torch-trt-dynamo" else None))
    loaded = load_model(model, trust_code=trust_code, limits=limits)
    req = FixRequest(
        Path(out), resolved, PlanOptions(strict=strict, io_int32=io_int32, allow_underflow=allow_underflow),
        parse_dynamic(list(dynamic or []) + loaded.dynamic, limits),
        parse_input_ranges(list(input_range or []) + loaded.input_ranges), verify=verify, trials=trials, force=force,
        rtol=parse_tolerances(rtol, DEFAULT_RTOL), atol=parse_tolerances(atol, DEFAULT_ATOL),
        feeds=load_npz(str(inputs), limits) if inputs else None, input_names=input_names,
        output_names=output_names, limits=limits, exporter=_exporter(exporter),
    )
    request = None
    if triton is not None:
        from trtready.deploy import TritonRequest
        from trtready.deploy.triton import check_name

        request = TritonRequest(Path(triton), check_name(Path(out).name), max_batch, instances)
    elif max_batch is not None or instances is not None:
        raise UsageError("max_batch and instances shape the Triton model: give triton=REPO too")
    return run(loaded, req, build=build, baseline=baseline, frontend=frontend, profiles=parse_profiles(profile),
               triton=request)


def deploy(manifest: "str | Path", triton: "str | Path", *, name: str | None = None, max_batch: int | None = None,
           instances: int | None = None, force: bool = False) -> "DeployResult":
    """``deploy MANIFEST --triton REPO``: the engine's Triton model, ``REPO/NAME/config.pbtxt`` and
    ``REPO/NAME/1/model.plan``, every field from the engine's bindings (plus ``run_engine.py``)."""
    from pathlib import Path

    from trtready.deploy import deploy as run

    return run(Path(manifest), Path(triton), name=name, max_batch=max_batch, instances=instances, force=force)


def check_config(manifest: "str | Path", config: "str | Path") -> "ConfigCheck":
    """Every disagreement between a Triton ``config.pbtxt`` and the engine of ``manifest``; truthy
    when there is none."""
    from pathlib import Path

    from trtready.deploy import check_config as run

    return run(Path(manifest), Path(config))


def batch(
    models: "str | Path | list[str]",
    out: "str | Path",
    *,
    verb: str = "audit",
    target: "str | list[str] | None" = None,
    jobs: int | None = None,
    ray: "str | bool | None" = None,
    io_int32: bool = False,
    strict: bool = False,
    allow_underflow: bool = False,
    build: bool = True,
    verify: bool = True,
    trials: int = 4,
    exporter: str = "auto",
    force: bool = False,
    trust_code: bool = False,
    limits: "Limits | None" = None,
) -> "BatchResult":
    """Run ``audit`` or ``convert`` on every model of ``models`` (a LIST file or the specs) into ``out``.

    Each model (× target) runs as its single verb would, model files in the same jail; one failing is a
    row, not the end. ``jobs`` sizes the local process pool (default min(2, CPUs)); ``ray=True`` runs
    one Ray task per job (this process's Ray, else a local one), ``ray="ADDRESS"`` on that cluster.
    Truthy when every model is ready.
    """
    from trtready.batch import BatchOptions, run_batch
    from trtready.limits import DEFAULT_LIMITS

    targets = [target] if isinstance(target, str) or target is None else list(target)
    options = BatchOptions(verb=verb, trust_code=trust_code, limits=limits or DEFAULT_LIMITS, io_int32=io_int32,
                           strict=strict, allow_underflow=allow_underflow, build=build, verify=verify, trials=trials,
                           exporter=_exporter(exporter))
    return run_batch(models, out, targets=targets, options=options, jobs=jobs, ray=ray, force=force)
