"""Predict what each target does with a finding, from the target profile's data."""

from __future__ import annotations

from trtready.audit.findings import Finding, Layer, OpUse, Outcome, Prediction, Role
from trtready.intervals import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN
from trtready.targets import Float64Mode, Int64Mode, TargetProfile, active_profiles
from trtready.targets.ops import TABLE_TYPE, TYPES_COLUMN_NOTE, OperandCast

_STATE_ROLES = (Role.PARAMETER, Role.BUFFER)
_FROZEN_ROLES = (Role.PARAMETER, Role.BUFFER, Role.CONSTANT)  # prim::Constant after TorchScript freezing


def _consumer_ops(f: Finding) -> set[str]:
    return {c.split(":", 1)[0] for c in f.consumers}


def _facts(p: TargetProfile) -> str:
    """Which release a versioned prediction assumes, and where its facts come from."""
    if p.release is None:
        return ""
    return f" [{p.release}; {p.facts}]" if p.facts else f" [{p.release}]"


def _truncated(f: Finding, needs: str = "") -> Prediction:
    iv = f.interval
    if iv is not None and not iv.fits_int32():
        return Prediction(
            Outcome.CLAMP,
            f"{needs}truncate_long_and_double truncates to int32; value {iv.worst_int32_violation()} does not fit",
        )
    return Prediction(Outcome.CAST, f"{needs}truncated to int32 by truncate_long_and_double")


def _predict_first_use(f: Finding, p: TargetProfile) -> Prediction:
    """TorchScript frontend: the input-type check fires on the constant an input's type is estimated from."""
    what = f.role.value
    if f.first_use_of:
        inputs = ", ".join(f"'{n}'" for n in f.first_use_of)
        return Prediction(
            Outcome.ERROR,
            f"{p.int64_error} (int64 {what} '{f.tensor}' is the first constant that graph input {inputs} "
            f"meets, so its type is estimated from it: Long, whatever Input(dtype=…) and "
            f"truncate_long_and_double say; cast it to int32 on its owning module){_facts(p)}",
        )
    if f.role in _FROZEN_ROLES:
        if f.used is False:
            return Prediction(Outcome.FINE, f"not read by forward: lowering freezes the module and drops it{_facts(p)}")
        if f.first_use_of is None:  # no graph: cannot tell which constant each input meets first
            return Prediction(
                Outcome.ERROR,
                f"{p.int64_error} if a graph input's first computation reads int64 {what} '{f.tensor}' "
                f"(no graph to tell: give example inputs){_facts(p)}",
            )
        return _truncated(f, f"needs truncate_long_and_double (else: {p.int64_state_error}); ")
    if f.role is Role.INPUT:
        if f.first_use_dtype == "int64":  # the constant's own finding names it
            return Prediction(
                Outcome.ERROR,
                f"{p.int64_error} (the first constant input '{f.tensor}' meets is int64, so its type is "
                f"estimated Long, whatever Input(dtype=…) says){_facts(p)}",
            )
        inferred = f.first_use_dtype or "float32, the default when no constant is met"
        return Prediction(
            Outcome.FINE,
            "an Int64 engine input when Input(dtype=torch.int64) is given; without a dtype it is typed from "
            f"its first use: {inferred}{_facts(p)}",
        )
    return _truncated(f)


_INT_RESULTS = frozenset({"int64", "int32", "int16", "int8", "uint8", "uint64"})


def _operand_casts(f: Finding, p: TargetProfile) -> list[tuple[str, OperandCast]]:
    """``(where, fact)`` for each use of ``f`` as an operand the target's converter casts to INT32."""
    out = []
    for use in f.operand_uses:
        op, node, arg, result = use.split(":", 3)
        cast = p.int32_operand_cast.get(op, {}).get(arg)
        if cast is not None and (not cast.int_result or result in _INT_RESULTS):
            out.append((f"{op.removeprefix('aten.')}:{node} ({arg})", cast))
    return out


def _predict_operand_cast(f: Finding, p: TargetProfile, casts: list[tuple[str, OperandCast]]) -> Prediction:
    """A converter's unchecked INT64 → INT32 cast: exact where the values are proved to fit; wrong values where
    they are proved not to; a value operand not proved to fit may come out wrong (blocking), an index operand
    only when its axis is longer than 2**31 (reported, as an unproved index is)."""
    iv = f.interval
    values = [w for w, c in casts if not c.index]
    where = ", ".join(values or [w for w, _ in casts])
    fact = f"({next((c for _, c in casts if not c.index), casts[0][1]).reason}){_facts(p)}"
    what = "values" if values else "indices"
    if iv is not None and iv.fits_int32():
        return Prediction(Outcome.CAST, f"{what} cast to INT32 by {p.title} at {where}, exact: {iv.lo}..{iv.hi} "
                                        f"fits {fact}")
    bounded = iv is not None and INT64_MIN + 1 < iv.lo and iv.hi < INT64_MAX - 1
    if iv is not None and (iv.lo > INT32_MAX or iv.hi < INT32_MIN or (values and bounded)):
        return Prediction(Outcome.CLAMP, f"{what} cast to INT32 with no range check by {p.title} at {where}: value "
                                         f"{iv.worst_int32_violation()} does not fit, the result is wrong (TensorRT "
                                         f"does not document what its Cast does out of range) {fact}")
    if values:
        return Prediction(Outcome.CLAMP, f"values cast to INT32 with no range check by {p.title} at {where}; their "
                                         f"range is not proved to fit int32 (give --input-range bounds): a value "
                                         f"outside int32 comes out wrong {fact}")
    reach = "" if iv is None else f" (they reach {iv.worst_int32_violation()})"
    return Prediction(Outcome.UNCHECKED, f"indices cast to INT32 with no range check by {p.title} at {where}; their "
                                         f"range is not proved to fit int32{reach} (exact unless the axis is longer "
                                         f"than 2**31) {fact}")


def _predict_int64(f: Finding, p: TargetProfile) -> Prediction:
    iv = f.interval
    if p.int64 is Int64Mode.FIRST_USE_ESTIMATE:
        return _predict_first_use(f, p)
    if p.int64 is Int64Mode.REJECT_STATE_AND_IO:
        if f.role in _STATE_ROLES or f.role is Role.INPUT:
            what = "buffer" if f.role is not Role.INPUT else "input"
            return Prediction(Outcome.ERROR, f"{p.int64_error} (int64 {what} '{f.tensor}'){_facts(p)}")
        return _truncated(f)

    if p.onnx_based and f.role in _STATE_ROLES and f.used is False:
        return Prediction(Outcome.FINE, "not read by forward: absent from the exported graph")
    if f.producer is not None and f.producer in p.unsupported_ops:
        return Prediction(Outcome.ERROR, p.unsupported_ops[f.producer])
    if f.producer in p.torch_fallback_ops:
        op = f.producer
        return Prediction(
            Outcome.CAST,
            f"{op.removeprefix('aten.')} runs in PyTorch (a graph break): {p.torch_fallback_ops[op]}{_facts(p)}",
        )

    if p.int64 is Int64Mode.CAST_CLAMP:
        if p.dims_are_int32 and f.producer in ("Shape", "Size"):  # the planner's rule too (plan_onnx)
            return Prediction(Outcome.CAST, "cast to INT32 by the parser; dimensions are 32-bit here, so a "
                                            "shape always fits")
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
    if f.wide_int_args and f.producer in p.int32_python_int_ops:
        ints = ", ".join(str(v) for v in f.wide_int_args)
        return Prediction(Outcome.ERROR, f"{p.python_int_error} ({f.producer.removeprefix('aten.')} takes the Python "
                                         f"int {ints}; make it an int64 tensor constant){_facts(p)}")
    operand_casts = _operand_casts(f, p)
    if operand_casts:
        return _predict_operand_cast(f, p, operand_casts)
    cast_by = [use for use in f.index_of_narrow_data if use.split(":", 1)[0] in p.int64_index_cast]
    if cast_by:
        # The parser's Cast to INT32 is exact for every index that fits int32: proved → a Cast only;
        # proved not to fit → wrong rows; not proved → only an axis longer than 2**31 could need more
        # (the audit lists Gathers on a shorter static axis nowhere), so it is reported, not blocking.
        op, where = cast_by[0].split(":", 1)[0], ", ".join(cast_by)
        fact = f"({p.int64_index_cast[op]}){_facts(p)}"
        if iv is not None and iv.fits_int32():
            return Prediction(Outcome.CAST, f"indices of {where} cast to INT32 inside TensorRT, exact: values {iv} "
                                            f"fit {fact}")
        if iv is not None and (iv.lo > INT32_MAX or iv.hi < INT32_MIN):
            return Prediction(Outcome.CLAMP, f"indices of {where} cast to INT32 inside TensorRT: value "
                                             f"{iv.worst_int32_violation()} does not fit, the rows read are wrong {fact}")
        reach = "" if iv is None else f" (they reach {iv.worst_int32_violation()})"
        return Prediction(Outcome.UNCHECKED, f"indices of {where} cast to INT32 inside TensorRT, a narrowing the graph "
                                             f"does not show; their range is not proved to fit int32{reach} (exact "
                                             f"unless the gathered axis is longer than 2**31) {fact}")
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
    if p.strongly_typed:  # no weak typing to fall back on: the graph's dtypes are what is built
        how += " (strongly typed: no builder flag changes it; narrow it in the graph)"
    if exact:
        return Prediction(Outcome.CAST, f"{how}; every value is exact in float32{_facts(p)}")
    return Prediction(Outcome.PRECISION_LOSS, f"{how}; values round to float32{_facts(p)}")


def op_problems(use: OpUse, p: TargetProfile) -> list[str]:
    """Why ``p`` cannot build what ``use`` asks of it, one reason per problem (empty: it can, as far
    as the profile's facts go). Only TensorRT's ONNX parser has these facts (``targets/ops.py``)."""
    if not p.onnx_based:
        return []
    out = [f"{op.split(':', 1)[0]}: {p.unsupported_ops[op]}" for op in use.onnx_ops if op in p.unsupported_ops]
    if use.pool is not None and use.window is not None and use.spatial is not None:
        limit = p.pool_window_limit.get(use.spatial)
        if limit is not None and use.window >= limit:
            out.append(f"{use.pool} window of {use.window} elements: {p.title} builds {use.spatial}-D "
                       f"pooling windows below {limit} (\"volume(windowSize) < maxKernelDimsProduct\") "
                       f"[{p.pool_window_source}]")
    return out


def _types_note(use: OpUse, p: TargetProfile) -> str:
    """The operator table's types for the node's op, when its input type is not among them."""
    op = use.onnx_ops[0] if use.onnx_ops else ""
    listed = p.op_types.get(op)
    kind = TABLE_TYPE.get(use.input_dtype or "")
    if not listed or kind is None or kind in listed:
        return ""
    return (f"; note: a {use.input_dtype} input, and onnx-tensorrt's table lists {op} for {', '.join(listed)} only "
            f"— not predicted to fail: {TYPES_COLUMN_NOTE} [{p.op_types_source}]")


def _predict_op(f: Finding, p: TargetProfile) -> Prediction:
    use = f.op
    assert use is not None, "an op finding carries its OpUse"
    if not p.onnx_based:
        return Prediction(Outcome.FINE, "not predicted: the op facts are about TensorRT's ONNX parser")
    problems = op_problems(use, p)
    if not problems:
        return Prediction(Outcome.FINE, f"{p.title} builds it{_types_note(use, p)}")
    msg = f"{use.what} — " + "; ".join(problems)
    if use.rewrite:
        msg += f"; fix/convert rewrite it exactly: {use.rewrite}"
    elif use.remedy:
        msg += f"; no exact rewrite: {use.remedy}"
    return Prediction(Outcome.ERROR, msg)


def _predict_index(f: Finding, p: TargetProfile) -> Prediction:
    """An index not proved inside its axis: what each target does with one that is outside."""
    index = f.index or {}
    valid = "[-N, N)" if index.get("negative_allowed") else "[0, N)"
    how = "lowers it to a TensorRT gather, which" if p.library == "torch_tensorrt" else "does not check it:"
    return Prediction(
        Outcome.UNCHECKED,
        f"an index outside {valid} is not checked: {p.title} {how} reads zero rows or undefined values "
        f"(NVIDIA/TensorRT#4774); PyTorch and ONNX Runtime raise an error instead",
    )


def _predict_plugin(f: Finding, p: TargetProfile) -> Prediction:
    """What reaches a plugin (audit/plugins.py). Its accepted types are unknown (a custom domain has no
    ONNX schema): an INT64 input on a target with INT64 builds only if the plugin takes INT64."""
    plugin = f.plugin or {}
    op = f"{plugin.get('domain')}::{plugin.get('op')}"
    wide = [c["name"] for c in plugin.get("inputs", []) if c["dtype"] == "int64"]
    mixed = plugin.get("mixed") or []
    if not p.onnx_based:
        return Prediction(Outcome.FINE, "not predicted: plugins are what TensorRT's ONNX parser makes of custom domains")
    pairs = ""
    if mixed and p.int64 is not Int64Mode.CAST_CLAMP:
        m = mixed[0]
        pairs = (f"; its INT64 output {m['output']} meets INT64 {m['other']} in {m['node']}"
                 + (f" (+{len(mixed) - 1} more)" if len(mixed) > 1 else "")
                 + ": if the plugin emits INT32 there, that op mixes INT32 and INT64 and the build fails — the "
                 "plugin must declare INT64, or a Cast(to=INT64) must follow it")
    if not wide:
        kinds = ", ".join(f"{c['name']} {c['dtype']}" for c in plugin.get("inputs", []))
        if pairs:
            return Prediction(Outcome.UNCHECKED, f"no int64 reaches plugin {op} ({kinds or 'no inputs'}){pairs}")
        return Prediction(Outcome.FINE, f"no int64 reaches plugin {op} ({kinds or 'no inputs'})")
    names = ", ".join(wide)
    iv = f.interval if f.interval is not None and f.interval.fits_int32() else None  # proved to fit
    if p.int64 is Int64Mode.CAST_CLAMP:
        if iv is not None:
            return Prediction(Outcome.CAST, f"{names} reach plugin {op} as INT32 (the parser casts INT64; values in "
                                            f"[{iv.lo}, {iv.hi}] fit exactly); a plugin declaring INT64 does not build")
        return Prediction(Outcome.CLAMP, f"{names} reach plugin {op} as INT32, clamped by the parser: the values "
                                         "are not proved to fit int32")
    if iv is not None:
        fix = (f"values proved in [{iv.lo}, {iv.hi}]: if the plugin takes INT32 only, a Cast(to=INT32) before it "
               "is exact")
    else:
        fix = "not proved to fit int32: keep INT64, and the plugin must accept INT64"
    return Prediction(Outcome.UNCHECKED, f"{names} reach plugin {op} as INT64: {p.title} builds it only if the plugin "
                                         f"accepts INT64 (plugins written before TensorRT 9 take INT32 only); {fix}"
                                         f"{pairs}")


def predict(f: Finding, profile: TargetProfile) -> Prediction:
    """The outcome of ``f`` on ``profile``; findings from a TensorRT log are taken as reported."""
    if f.layer is Layer.TRT and profile.name in f.predictions:
        return f.predictions[profile.name]
    if f.is_op:
        return _predict_op(f, profile)
    if f.is_index:
        return _predict_index(f, profile)
    if f.is_plugin:
        return _predict_plugin(f, profile)
    if f.dtype == "uint64":
        return Prediction(Outcome.ERROR, profile.uint64_error)
    if f.dtype == "int64":
        return _predict_int64(f, profile)
    return _predict_float64(f, profile)


def predict_all(findings: list[Finding], targets: list[str] | None = None) -> None:
    """Fill ``predictions`` for every target (all profiles by default), each at its installed release."""
    profiles = active_profiles()
    for f in findings:
        for name in targets or list(profiles):
            f.predictions[name] = predict(f, profiles[name])
