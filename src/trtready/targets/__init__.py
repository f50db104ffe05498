"""Target profiles: what each TensorRT target does with INT64 and DOUBLE tensors, as data.

The facts come from docs/targets.md (NVIDIA docs, release notes, measured builds with
``tensorrt-rtx``, and the oracle in tests/oracle/, which checks the Torch-TensorRT predictions against
the real library: docs/oracle.md). Prediction code reads these fields; it never branches on a target's
name.

Where a library's behaviour changed between releases, a profile holds the facts of the release trtready
measured and :class:`VersionFacts` hold what differs for other releases. :func:`active_profile` applies
the ones matching the installed release (package metadata only, nothing imported), else the profile's
stated default release; the report cites the release it assumed.
"""

from __future__ import annotations

import enum
import dataclasses
import importlib.metadata
import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trtready.errors import UsageError
from trtready.targets.ops import (
    INT64_INDEX_CAST,
    NEWEST_TABLE,
    POOL_WINDOW_SOURCES,
    PYTHON_INT_OVERFLOW,
    TORCH_TRT_DYNAMO_INT32_OPERANDS,
    TORCH_TRT_DYNAMO_INT32_PYTHON_INTS,
    OperandCast,
    TRT8_UNSUPPORTED,
    TRT8_OP_TYPES,
    TRT10_INT64_INPUTS,
    TRT10_OP_TYPES,
    TRT10_UNSUPPORTED,
    TRT_POOL_WINDOW_REPORTED,
    TRT_RTX_POOL_WINDOW,
    TRT_RTX_UNSUPPORTED,
    table_source,
)


class Int64Mode(str, enum.Enum):
    NATIVE = "native"  # INT64 is a tensor type (TensorRT >= 10, TensorRT-RTX)
    CAST_CLAMP = "cast_clamp"  # parser casts INT64 to INT32, clamping out-of-range values (TRT 8)
    REJECT_STATE_AND_IO = "reject_state_and_io"  # Torch-TRT TorchScript as first reported: every int64 input/buffer
    # Torch-TRT TorchScript as measured: a graph input's type is estimated from the first constant its
    # computation reads; an int64 one makes that estimate Long, and full compilation refuses it.
    FIRST_USE_ESTIMATE = "first_use_estimate"
    LOWERED = "lowered"  # Torch-TRT dynamo: lowered onto a TensorRT with native INT64


class Float64Mode(str, enum.Enum):
    TO_FLOAT_SILENT = "to_float_silent"  # parsed, converted to FLOAT without a message
    TO_FLOAT = "to_float"  # initializers cast to FLOAT with a warning
    TRUNCATE_OPTION = "truncate_option"  # Torch-TRT: needs truncate_double / truncate_long_and_double


def version_key(version: str) -> tuple[int, ...]:
    """``"2.13.0+cu130"`` → ``(2, 13, 0)``: the leading numeric release, enough to order releases."""
    m = re.match(r"\d+(?:\.\d+)*", version.strip())
    return tuple(int(x) for x in m.group(0).split(".")) if m else ()


@dataclass(frozen=True)
class Release:
    """The release of a target's library that predictions assume, and how it was chosen."""

    dist: str  # distribution name, e.g. "torch-tensorrt-rtx"
    version: str
    installed: bool

    def __str__(self) -> str:
        how = "installed" if self.installed else "not installed"
        return f"{self.dist} {self.version} ({how})"

    def to_json(self) -> dict[str, Any]:
        return {"dist": self.dist, "version": self.version, "installed": self.installed}


@dataclass(frozen=True)
class VersionFacts:
    """Profile fields that hold for some releases only: ``since <= version < until``, for ``dists``.

    ``evidence`` says where the facts come from (measured, or reported and not measured); it ends up in
    the predictions' messages through the profile's ``facts`` field.
    """

    fields: Mapping[str, Any]
    evidence: str
    since: str | None = None
    until: str | None = None
    dists: tuple[str, ...] = ()  # empty: every distribution of the library

    def applies(self, release: Release) -> bool:
        v = version_key(release.version)
        return ((not self.dists or release.dist in self.dists)
                and (self.since is None or v >= version_key(self.since))
                and (self.until is None or v < version_key(self.until)))


@dataclass(frozen=True)
class TargetProfile:
    """One deployment target. Fields are the facts; see docs/targets.md for their sources."""

    name: str
    title: str
    library: str  # import name of the library that builds for it
    int64: Int64Mode
    float64: Float64Mode
    # ONNX ops that compute only in float/int32: an INT64 operand gets Cast layers around it.
    float_only_ops: frozenset[str] = frozenset()
    # ONNX ops the target's parser/builder cannot build, with the reason and its source
    # (targets/ops.py: measured on TensorRT-RTX, onnx-tensorrt's operator table for the others).
    unsupported_ops: Mapping[str, str] = field(default_factory=dict)
    # Pooling windows (product of kernel dims) must be below this, per number of spatial dims; a rank
    # missing here is not predicted. ``pool_window_source`` says where the limits come from.
    pool_window_limit: Mapping[int, int] = field(default_factory=dict)
    pool_window_source: str = ""
    # The operator table's "Supported Types" per op (onnx-tensorrt's names: FP32, INT64, BOOL …) and where
    # it comes from: reported when a node's input type is not listed, not predicted to fail (targets/ops.py).
    op_types: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    op_types_source: str = ""
    # Inputs the target's parser requires INT64 (op → input name → reason with source): never narrowed.
    int64_inputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Ops whose INT64 index input the parser casts to INT32 when the data is not INT64 (op → reason):
    # a narrowing the graph does not show, predicted where the indices are not proved to fit int32.
    int64_index_cast: Mapping[str, str] = field(default_factory=dict)
    # PyTorch ops (torch.export names) whose converter casts an INT64 operand to INT32 with no range check
    # (op → schema argument → OperandCast): a narrowing neither the program nor the ONNX graph shows.
    int32_operand_cast: Mapping[str, Mapping[str, OperandCast]] = field(default_factory=dict)
    # PyTorch ops whose converter makes a Python int operand an INT32 constant: one outside int32 fails the
    # conversion with ``python_int_error``.
    int32_python_int_ops: frozenset[str] = frozenset()
    python_int_error: str = ""
    # Every network is strongly typed: the ONNX dtypes are what is built, no builder flag lowers them.
    strongly_typed: bool = False
    # Exact error text the target prints for an int64 input/buffer, where it has one.
    int64_error: str | None = None
    onnx_based: bool = True  # consumes the ONNX export (unused module state never reaches it)
    # Tensor dimensions are 32-bit, so Shape/Size outputs always fit int32 (TensorRT 8).
    dims_are_int32: bool = False
    # No TensorRT has an unsigned 64-bit type; measured with TensorRT-RTX 1.7: the ONNX parser stops at a
    # UINT64 input, initializer or Cast ("Unsupported ONNX data type: UINT64").
    uint64_error: str = "TensorRT has no UINT64 type: the ONNX parser rejects the model"
    # Error for int64 module state read elsewhere than at a graph input's first use, when not truncated.
    int64_state_error: str | None = None
    # PyTorch ops (torch.export names) the library has no converter for: they run in PyTorch.
    torch_fallback_ops: dict[str, str] = field(default_factory=dict)
    # Versioned facts: distributions to read the release from (first installed wins), the release the
    # fields above describe (assumed when none is installed), what differs for other releases.
    dists: tuple[str, ...] = ()
    default_release: tuple[str, str] | None = None  # (dist, version)
    # Releases of ``dists`` this profile describes (``since <= version < until``); another one installed
    # (a tensorrt 10.x under trt11) is not this target's release.
    release_range: tuple[str, str] | None = None
    version_facts: tuple[VersionFacts, ...] = ()
    facts: str = ""  # where the fields come from; set from VersionFacts.evidence for other releases
    release: Release | None = None  # the release these facts were resolved for

    @property
    def handles_int64(self) -> bool:
        """True when a value not proved to fit int32 can stay int64 (docs/cli.md keep/refuse)."""
        return self.int64 in (Int64Mode.NATIVE, Int64Mode.LOWERED)


_FLOAT_ONLY = frozenset({"MatMul", "Gemm", "Conv", "ConvTranspose", "Pow", "CumSum", "Einsum"})

TORCH_TRT_TS_INT64_ERROR = (
    "Expected !dtype || dtype.value() != at::kLong to be true but got false: "
    "Cannot specify Int64 input for a model fully compiled in TRT"
)
TORCH_TRT_FREEZE_ERROR = (
    "Unable to freeze tensor of type Int64/Float64 into constant layer, "
    "try to compile model with truncate_long_and_double enabled"
)
_TORCH_TRT_DISTS = ("torch-tensorrt", "torch-tensorrt-rtx")
# TensorRT's PyPI distributions: the meta package, then the per-CUDA ones it pulls.
_TRT_DISTS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11")
# The release the Torch-TensorRT facts were measured on (tests/oracle, docs/oracle.md).
_TORCH_TRT_MEASURED = ("torch-tensorrt-rtx", "2.13.0")

_BASE: dict[str, TargetProfile] = {
    p.name: p
    for p in (
        TargetProfile(
            name="trt8",
            title="TensorRT 8.x",
            library="tensorrt",
            int64=Int64Mode.CAST_CLAMP,
            float64=Float64Mode.TO_FLOAT,
            float_only_ops=_FLOAT_ONLY,
            dims_are_int32=True,
            unsupported_ops=TRT8_UNSUPPORTED,
            op_types=TRT8_OP_TYPES,
            op_types_source=table_source("8.6"),
            pool_window_limit=TRT_POOL_WINDOW_REPORTED,
            pool_window_source=POOL_WINDOW_SOURCES["trt8"],
        ),
        TargetProfile(
            name="trt10",
            title="TensorRT 10.x",
            library="tensorrt",
            int64=Int64Mode.NATIVE,
            float64=Float64Mode.TO_FLOAT_SILENT,
            float_only_ops=_FLOAT_ONLY,
            unsupported_ops=TRT10_UNSUPPORTED,
            op_types=TRT10_OP_TYPES,
            op_types_source=table_source(NEWEST_TABLE),
            int64_inputs=TRT10_INT64_INPUTS,
            int64_index_cast=INT64_INDEX_CAST,
            pool_window_limit=TRT_POOL_WINDOW_REPORTED,
            pool_window_source=POOL_WINDOW_SOURCES["trt10"],
            release_range=("10", "11"),
        ),
        TargetProfile(
            # TensorRT 11.0 (June 2026) … 11.5 (November 2026): strongly typed networks only (weak typing,
            # kFP16/kBF16/kINT8 and the precision-constraint flags removed: NVIDIA's 10.x → 11.x migration
            # guide). INT64/DOUBLE as in 10.x: no change found in the notes read; the newest operator table
            # stored is 10.15's (docs/targets.md).
            name="trt11",
            title="TensorRT 11.x",
            library="tensorrt",
            int64=Int64Mode.NATIVE,
            float64=Float64Mode.TO_FLOAT_SILENT,
            float_only_ops=_FLOAT_ONLY,
            unsupported_ops=TRT10_UNSUPPORTED,
            op_types=TRT10_OP_TYPES,
            op_types_source=table_source(NEWEST_TABLE),
            int64_inputs=TRT10_INT64_INPUTS,
            int64_index_cast=INT64_INDEX_CAST,
            strongly_typed=True,
            pool_window_limit=TRT_POOL_WINDOW_REPORTED,
            pool_window_source=POOL_WINDOW_SOURCES["trt11"],
            dists=_TRT_DISTS,
            default_release=("tensorrt", "11.5.0"),
            release_range=("11", "12"),
            facts=f"not measured: TensorRT 11.0–11.5 documentation and onnx-tensorrt's {NEWEST_TABLE} operator table",
        ),
        TargetProfile(
            name="trt-rtx",
            title="TensorRT-RTX 1.x",
            library="tensorrt_rtx",
            int64=Int64Mode.NATIVE,
            float64=Float64Mode.TO_FLOAT_SILENT,
            float_only_ops=_FLOAT_ONLY,
            unsupported_ops=TRT_RTX_UNSUPPORTED,
            pool_window_limit=TRT_RTX_POOL_WINDOW,
            pool_window_source=POOL_WINDOW_SOURCES["trt-rtx"],
        ),
        TargetProfile(
            name="torch-trt-ts",
            title="Torch-TensorRT (TorchScript frontend)",
            library="torch_tensorrt",
            int64=Int64Mode.FIRST_USE_ESTIMATE,
            float64=Float64Mode.TRUNCATE_OPTION,
            int64_error=TORCH_TRT_TS_INT64_ERROR,
            int64_state_error=TORCH_TRT_FREEZE_ERROR,
            onnx_based=False,
            uint64_error="Torch-TensorRT has no UINT64 type: conversion fails",
            dists=_TORCH_TRT_DISTS,
            default_release=_TORCH_TRT_MEASURED,
            facts="measured on 2.13.0",
            version_facts=(
                VersionFacts(
                    # 2.13.0 is the oldest release measured. The error was first reported on earlier
                    # ones (pytorch/TensorRT#3354, TensorRT 10) naming int64 buffers; which release
                    # started hiding BatchNorm's num_batches_tracked from the check is not established
                    # (the 1.x lowering already froze the module), so earlier releases keep the
                    # conservative prediction: every int64 input and buffer.
                    fields={"int64": Int64Mode.REJECT_STATE_AND_IO},
                    evidence="releases before 2.13.0 are not measured: predicted as first reported, "
                             "every int64 input and buffer (BatchNorm's num_batches_tracked included)",
                    until="2.13.0",
                ),
            ),
        ),
        TargetProfile(
            name="torch-trt-dynamo",
            title="Torch-TensorRT (dynamo frontend)",
            library="torch_tensorrt",
            int64=Int64Mode.LOWERED,
            float64=Float64Mode.TRUNCATE_OPTION,
            float_only_ops=_FLOAT_ONLY,
            int32_operand_cast=TORCH_TRT_DYNAMO_INT32_OPERANDS,
            int32_python_int_ops=TORCH_TRT_DYNAMO_INT32_PYTHON_INTS,
            python_int_error=PYTHON_INT_OVERFLOW,
            onnx_based=False,
            uint64_error="Torch-TensorRT has no UINT64 type: conversion fails",
            dists=_TORCH_TRT_DISTS,
            default_release=_TORCH_TRT_MEASURED,
            facts="measured on 2.13.0",
            version_facts=(
                VersionFacts(
                    # aten_ops_converters.py: cumsum_validator returns ``not ENABLED_FEATURES.tensorrt_rtx``.
                    fields={"torch_fallback_ops": {
                        "aten.cumsum": "the TensorRT-RTX build of Torch-TensorRT disables its cumsum converter",
                    }},
                    evidence="measured on torch-tensorrt-rtx 2.13.0",
                    dists=("torch-tensorrt-rtx",),
                ),
            ),
        ),
    )
}


def at_release(profile: TargetProfile, release: Release) -> TargetProfile:
    """``profile`` with the facts of ``release`` applied (fields of every matching VersionFacts)."""
    base = _BASE.get(profile.name, profile)
    changes: dict[str, Any] = {"release": release}
    for vf in base.version_facts:
        if vf.applies(release):
            changes.update(vf.fields)
            changes["facts"] = vf.evidence
    return dataclasses.replace(base, **changes)


def installed_release(profile: TargetProfile) -> Release | None:
    """The installed release of the profile's library, from package metadata; None if none is (or
    none in the profile's ``release_range``)."""
    for dist in profile.dists:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        if profile.release_range is not None:
            since, until = (version_key(v) for v in profile.release_range)
            if not since <= version_key(version) < until:
                continue
        return Release(dist, version, installed=True)
    return None


def _default(profile: TargetProfile) -> TargetProfile:
    if profile.default_release is None:
        return profile
    return at_release(profile, Release(*profile.default_release, installed=False))


# Every profile at its stated default release: what is predicted when its library is not installed.
PROFILES: dict[str, TargetProfile] = {name: _default(p) for name, p in _BASE.items()}

TARGET_NAMES: tuple[str, ...] = tuple(PROFILES)


def active_profile(name: str) -> TargetProfile:
    """The profile for the installed release of its library, else for its default release."""
    profile = PROFILES[name]
    release = installed_release(profile)
    return profile if release is None else at_release(profile, release)


def active_profiles() -> dict[str, TargetProfile]:
    return {name: active_profile(name) for name in PROFILES}


@dataclass(frozen=True)
class ResolvedTarget:
    profile: TargetProfile
    why: str

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def release(self) -> Release | None:
        """The library release the predictions assume (None where the facts are not versioned)."""
        return self.profile.release


def _installed_version(dist_names: tuple[str, ...]) -> str | None:
    for dist in dist_names:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def resolve_target(name: str | None = None) -> ResolvedTarget:
    """The target to predict for: the one asked for, else the TensorRT that is installed.

    Detection reads package metadata only (``find_spec`` + ``importlib.metadata``) so that
    ``audit model.onnx`` never imports TensorRT (docs/design.md: import lazily).
    """
    if name is not None:
        if name not in PROFILES:
            raise UsageError(f"unknown target {name!r}; choose one of {', '.join(TARGET_NAMES)}")
        return ResolvedTarget(active_profile(name), "given with --target")
    if importlib.util.find_spec("tensorrt") is not None:
        version = _installed_version(_TRT_DISTS)
        major = int(version.split(".")[0]) if version and version.split(".")[0].isdigit() else None
        if major is not None and major < 10:
            return ResolvedTarget(PROFILES["trt8"], f"tensorrt {version} is installed")
        if major is not None and major >= 11:
            return ResolvedTarget(active_profile("trt11"), f"tensorrt {version} is installed")
        return ResolvedTarget(PROFILES["trt10"], f"tensorrt {version or '(unknown version)'} is installed")
    if importlib.util.find_spec("tensorrt_rtx") is not None:
        version = _installed_version(("tensorrt-rtx", "tensorrt_rtx_cu13", "tensorrt_rtx_cu12"))
        return ResolvedTarget(PROFILES["trt-rtx"], f"tensorrt_rtx {version or ''} is installed".replace("  ", " "))
    return ResolvedTarget(PROFILES["trt10"], "no TensorRT library installed; trt10 is the default")
