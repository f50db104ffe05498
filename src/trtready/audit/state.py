"""State audit: every 64-bit parameter and buffer, with its owner and value range."""

from __future__ import annotations

from trtready.audit.findings import Finding, Layer, Role
from trtready.intervals import Interval, float_hull, int_hull
from trtready.load.state import StateEntry

_ROLE = {"parameter": Role.PARAMETER, "buffer": Role.BUFFER, "tensor": Role.BUFFER}


def _float_facts(values: object) -> tuple[Interval | None, bool, list[str]]:
    """Interval, whether float32 holds every value exactly, and notes on NaN/inf/underflow."""
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    notes: list[str] = []
    if np.isnan(arr).any():
        notes.append(f"{int(np.isnan(arr).sum())} NaN value(s)")
    if np.isinf(arr).any():
        notes.append(f"{int(np.isinf(arr).sum())} infinite value(s)")
    with np.errstate(over="ignore", under="ignore"):
        as32 = arr.astype(np.float32).astype(np.float64)
    exact = bool(np.array_equal(as32, arr, equal_nan=True))
    underflow = int(((arr != 0) & (as32 == 0)).sum())
    if underflow:
        notes.append(f"{underflow} nonzero value(s) underflow to 0 in float32")
    return float_hull(arr), exact, notes


def audit_state(entries: list[StateEntry], used: set[str] | None = None) -> list[Finding]:
    """One finding per int64/float64 tensor.

    Args:
        entries: the model's state (metadata; values are read only for 64-bit tensors).
        used: names of state tensors that forward reads (from the exported graph), or None if unknown.
    """
    findings: list[Finding] = []
    for e in entries:
        if e.dtype not in ("int64", "float64"):
            continue
        owner = e.name.rpartition(".")[0] or "<root>"
        f = Finding(
            id=f"state:{e.name}",
            layer=Layer.STATE,
            tensor=e.name,
            dtype=e.dtype,
            shape=list(e.shape),
            where=f"{owner} ({e.module_type})" if e.module_type else owner,
            role=_ROLE[e.role],
            module_type=e.module_type,
            used=None if used is None else e.name in used,
        )
        values = e.read()
        if values is None:
            f.notes.append("meta tensor: no values to read")
        elif e.dtype == "int64":
            f.interval = int_hull(values)
            f.fits["int32"] = f.interval.fits_int32() if f.interval is not None else True
        else:
            f.interval, f.fits["float32"], notes = _float_facts(values)
            f.notes.extend(notes)
        findings.append(f)
    return findings
