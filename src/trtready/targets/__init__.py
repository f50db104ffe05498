"""Target profiles: what each TensorRT target does with INT64 and DOUBLE tensors, as data.

The facts come from ../shared/TARGETS.md (NVIDIA docs, release notes, measured builds with
``tensorrt-rtx``). Prediction code reads these fields; it never branches on a target's name.
"""

from __future__ import annotations

import enum
import importlib.metadata
import importlib.util
from dataclasses import dataclass, field

from trtready.errors import UsageError


class Int64Mode(str, enum.Enum):
    NATIVE = "native"  # INT64 is a tensor type (TensorRT >= 10, TensorRT-RTX)
    CAST_CLAMP = "cast_clamp"  # parser casts INT64 to INT32, clamping out-of-range values (TRT 8)
    REJECT_STATE_AND_IO = "reject_state_and_io"  # Torch-TRT TorchScript, full compilation
    LOWERED = "lowered"  # Torch-TRT dynamo: lowered onto a TensorRT with native INT64


class Float64Mode(str, enum.Enum):
    TO_FLOAT_SILENT = "to_float_silent"  # parsed, converted to FLOAT without a message
    TO_FLOAT = "to_float"  # initializers cast to FLOAT with a warning
    TRUNCATE_OPTION = "truncate_option"  # Torch-TRT: needs truncate_double / truncate_long_and_double


@dataclass(frozen=True)
class TargetProfile:
    """One deployment target. Fields are the facts; see TARGETS.md for their sources."""

    name: str
    title: str
    library: str  # import name of the library that builds for it
    int64: Int64Mode
    float64: Float64Mode
    # ONNX ops that compute only in float/int32: an INT64 operand gets Cast layers around it.
    float_only_ops: frozenset[str] = frozenset()
    # ONNX ops whose INT64 output makes the build fail on this target, with the reason.
    build_error_ops: dict[str, str] = field(default_factory=dict)
    # Exact error text the target prints for an int64 input/buffer, where it has one.
    int64_error: str | None = None
    onnx_based: bool = True  # consumes the ONNX export (unused module state never reaches it)
    # Tensor dimensions are 32-bit, so Shape/Size outputs always fit int32 (TensorRT 8).
    dims_are_int32: bool = False
    # No TensorRT has an unsigned 64-bit type; measured with TensorRT-RTX 1.7: the ONNX parser stops at a
    # UINT64 input, initializer or Cast ("Unsupported ONNX data type: UINT64").
    uint64_error: str = "TensorRT has no UINT64 type: the ONNX parser rejects the model"

    @property
    def handles_int64(self) -> bool:
        """True when a value not proved to fit int32 can stay int64 (CLI.md keep/refuse)."""
        return self.int64 in (Int64Mode.NATIVE, Int64Mode.LOWERED)


_FLOAT_ONLY = frozenset({"MatMul", "Gemm", "Conv", "ConvTranspose", "Pow", "CumSum", "Einsum"})

TORCH_TRT_TS_INT64_ERROR = (
    "Expected !dtype || dtype.value() != at::kLong to be true but got false: "
    "Cannot specify Int64 input for a model fully compiled in TRT"
)

PROFILES: dict[str, TargetProfile] = {
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
        ),
        TargetProfile(
            name="trt10",
            title="TensorRT 10.x/11.x",
            library="tensorrt",
            int64=Int64Mode.NATIVE,
            float64=Float64Mode.TO_FLOAT_SILENT,
            float_only_ops=_FLOAT_ONLY,
        ),
        TargetProfile(
            name="trt-rtx",
            title="TensorRT-RTX 1.x",
            library="tensorrt_rtx",
            int64=Int64Mode.NATIVE,
            float64=Float64Mode.TO_FLOAT_SILENT,
            float_only_ops=_FLOAT_ONLY,
            build_error_ops={"NonZero": "NonZero needs a plugin TensorRT-RTX does not ship; the build fails"},
        ),
        TargetProfile(
            name="torch-trt-ts",
            title="Torch-TensorRT (TorchScript frontend)",
            library="torch_tensorrt",
            int64=Int64Mode.REJECT_STATE_AND_IO,
            float64=Float64Mode.TRUNCATE_OPTION,
            int64_error=TORCH_TRT_TS_INT64_ERROR,
            onnx_based=False,
            uint64_error="Torch-TensorRT has no UINT64 type: conversion fails",
        ),
        TargetProfile(
            name="torch-trt-dynamo",
            title="Torch-TensorRT (dynamo frontend)",
            library="torch_tensorrt",
            int64=Int64Mode.LOWERED,
            float64=Float64Mode.TRUNCATE_OPTION,
            float_only_ops=_FLOAT_ONLY,
            onnx_based=False,
            uint64_error="Torch-TensorRT has no UINT64 type: conversion fails",
        ),
    )
}

TARGET_NAMES: tuple[str, ...] = tuple(PROFILES)


@dataclass(frozen=True)
class ResolvedTarget:
    profile: TargetProfile
    why: str

    @property
    def name(self) -> str:
        return self.profile.name


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
    ``audit model.onnx`` never imports TensorRT (DESIGN.md: import lazily).
    """
    if name is not None:
        if name not in PROFILES:
            raise UsageError(f"unknown target {name!r}; choose one of {', '.join(TARGET_NAMES)}")
        return ResolvedTarget(PROFILES[name], "given with --target")
    if importlib.util.find_spec("tensorrt") is not None:
        version = _installed_version(("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt-cu11"))
        major = int(version.split(".")[0]) if version and version.split(".")[0].isdigit() else None
        if major is not None and major < 10:
            return ResolvedTarget(PROFILES["trt8"], f"tensorrt {version} is installed")
        return ResolvedTarget(PROFILES["trt10"], f"tensorrt {version or '(unknown version)'} is installed")
    if importlib.util.find_spec("tensorrt_rtx") is not None:
        version = _installed_version(("tensorrt-rtx", "tensorrt_rtx_cu13", "tensorrt_rtx_cu12"))
        return ResolvedTarget(PROFILES["trt-rtx"], f"tensorrt_rtx {version or ''} is installed".replace("  ", " "))
    return ResolvedTarget(PROFILES["trt10"], "no TensorRT library installed; trt10 is the default")
