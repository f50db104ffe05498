"""Predict what each target does with a finding, from the target profile's data."""

from __future__ import annotations

from trtready.audit.findings import Finding, Layer, Outcome, Prediction, Role
from trtready.intervals import INT64_MAX, INT64_MIN
from trtready.targets import PROFILES, Float64Mode, Int64Mode, TargetProfile

_STATE_ROLES = (Role.PARAMETER, Role.BUFFER)


def _consumer_ops(f: Finding) -> set[str]:
    return {c.split(":", 1)[0] for c in f.consumers}


def _predict_int64(f: Finding, p: TargetProfile) -> Prediction:
    iv = f.interval
    if p.int64 is Int64Mode.REJECT_STATE_AND_IO:
        if f.role in _STATE_ROLES or f.role is Role.INPUT:
            what = "buffer" if f.role is not Role.INPUT else "input"
            return Prediction(Outcome.ERROR, f"{p.int64_error} (int64 {what} '{f.tensor}')")
        if iv is not None and not iv.fits_int32():
            return Prediction(
                Outcome.CLAMP,
                f"truncate_long_and_double truncates to int32; value {iv.worst_int32_violation()} does not fit",
            )
        return Prediction(Outcome.CAST, "truncated to int32 by truncate_long_and_double")

    if p.onnx_based and f.role in _STATE_ROLES and f.used is False:
        return Prediction(Outcome.FINE, "not read by forward: absent from the exported graph")
    if f.producer in p.build_error_ops:
        return Prediction(Outcome.ERROR, p.build_error_ops[f.producer])

    if p.int64 is Int64Mode.CAST_CLAMP:
        if iv is None:
            return Prediction(
                Outcome.CLAMP,
                "cast to INT32 by the parser; range not proved, values outside int32 would be clamped",
            )
        if not iv.fits_int32() and f.clamp_exact:
            return Prediction(
                Outcome.CAST,
                f"cast to INT32 by the parser: {iv.worst_int32_violation()} as a Slice bound clamps exactly",
            )
        if not iv.fits_int32() and (iv.hi >= INT64_MAX - 1 or iv.lo <= INT64_MIN + 1):
            return Prediction(
                Outcome.CLAMP,
                "cast to INT32 by the parser; range not bounded (give --dynamic / --input-range bounds), "
                "values outside int32 would be clamped",
            )
        if not iv.fits_int32():
            return Prediction(
                Outcome.CLAMP,
                f"cast to INT32 by the parser: value {iv.worst_int32_violation()} is clamped, results wrong",
            )
        return Prediction(Outcome.CAST, f"cast to INT32 by the parser; values {iv} fit, exact")

    # Native INT64 (TensorRT >= 10, TensorRT-RTX, dynamo lowering onto them).
    float_only = sorted(_consumer_ops(f) & p.float_only_ops)
    if float_only:
        return Prediction(Outcome.CAST, f"Cast layers around {', '.join(float_only)} (float-only in TensorRT)")
    if f.role in (Role.INPUT, Role.OUTPUT):
        return Prediction(Outcome.FINE, "native INT64; bind an int64 buffer")
    return Prediction(Outcome.FINE, "native INT64")


def _predict_float64(f: Finding, p: TargetProfile) -> Prediction:
    if p.onnx_based and f.role in _STATE_ROLES and f.used is False:
        return Prediction(Outcome.FINE, "not read by forward: absent from the exported graph")
    iv = f.interval
    exact = f.fits.get("float32")
    how = {
        Float64Mode.TO_FLOAT_SILENT: "converted to FLOAT without a message",
        Float64Mode.TO_FLOAT: "cast to FLOAT by the parser",
        Float64Mode.TRUNCATE_OPTION: "needs truncate_double, which rounds to float32",
    }[p.float64]
    if iv is not None and not iv.fits_float32_range():
        return Prediction(Outcome.CLAMP, f"{how}: value {iv.hi if abs(iv.hi) > abs(iv.lo) else iv.lo} exceeds float32")
    if exact:
        return Prediction(Outcome.CAST, f"{how}; every value is exact in float32")
    return Prediction(Outcome.PRECISION_LOSS, f"{how}; values round to float32")


def predict(f: Finding, profile: TargetProfile) -> Prediction:
    """The outcome of ``f`` on ``profile``; findings from a TensorRT log are taken as reported."""
    if f.layer is Layer.TRT and profile.name in f.predictions:
        return f.predictions[profile.name]
    if f.dtype == "uint64":
        return Prediction(Outcome.ERROR, profile.uint64_error)
    if f.dtype == "int64":
        return _predict_int64(f, profile)
    return _predict_float64(f, profile)


def predict_all(findings: list[Finding], targets: list[str] | None = None) -> None:
    """Fill ``predictions`` for every target (all profiles by default)."""
    for f in findings:
        for name in targets or list(PROFILES):
            f.predictions[name] = predict(f, PROFILES[name])
