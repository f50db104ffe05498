"""Keep / narrow / refuse for module state (parameters and buffers), from their values.

An int64 buffer whose values fit int32 is narrowed (BatchNorm's ``num_batches_tracked``, position
ids); one that does not is kept where the target holds int64 and refused where it cannot. float64
state becomes float32 unless a value overflows float32 (or underflows to zero, unless allowed).
UINT64 is refused: no TensorRT has the type. Decisions come from the audit's findings, never from a
sample run; :mod:`trtready.passes.narrow_state` applies them.
"""

from __future__ import annotations

from trtready.audit.findings import Finding, Layer
from trtready.plan import Action, Decision, PlanOptions
from trtready.targets import TargetProfile


def plan_state(findings: list[Finding], profile: TargetProfile, options: PlanOptions) -> list[Decision]:
    """A decision for every state finding, from its values (never from a sample run)."""
    out: list[Decision] = []
    for f in findings:
        if f.layer is not Layer.STATE:
            continue
        if f.dtype == "uint64":
            action, why = Action.REFUSE, (f"refused: {f.tensor} ({f.where}): uint64 has no TensorRT type, and trtready "
                                          "does not narrow unsigned tensors (their arithmetic differs from int32's)")
        elif f.dtype == "int64":
            if f.interval is None and any("meta tensor" in n for n in f.notes):
                action, why = Action.KEEP, "meta tensor: no values to prove a range"
            elif f.interval is None or f.fits.get("int32"):
                action, why = Action.NARROW, f"values {f.interval or 'none'} fit int32"
            else:
                action, why = Action.KEEP, f"value {f.interval.worst_int32_violation()} does not fit int32"
            if action is Action.KEEP and (options.strict or not profile.handles_int64):
                action = Action.REFUSE
                why = f"refused: {f.tensor} ({f.where}): {why}; {profile.name} cannot hold int64"
        else:
            bad = [n for n in f.notes if "beyond the float32" in n or ("underflow" in n and not options.allow_underflow)]
            if bad:
                action, why = Action.REFUSE, f"refused: {f.tensor} ({f.where}): {bad[0]} (float64 -> float32)"
            else:
                exact = "exact" if f.fits.get("float32") else "rounded to float32"
                action, why = Action.NARROW, f"float64 -> float32 ({exact})"
        out.append(Decision(f.id, action, why))
    return out


def keep_float64_read_as_float64(decisions: list[Decision], findings: list[Finding]) -> list[Decision]:
    """When ``forward`` fails with its float64 state narrowed (it casts to float64 itself and mixes
    dtypes), that state is kept; the ONNX graph is narrowed after translation instead."""
    float64 = {f.id for f in findings if f.layer is Layer.STATE and f.dtype == "float64"}
    return [
        Decision(d.finding, Action.KEEP, "forward needs it as float64; narrowed in the ONNX graph instead")
        if d.action is Action.NARROW and d.finding in float64 else d
        for d in decisions
    ]
