"""State audit: every 64-bit parameter and buffer, with its owner and value range."""

from __future__ import annotations

from trtready.audit.findings import Finding, Layer, Role
from trtready.intervals import float32_facts, int_hull
from trtready.load.state import WIDE_DTYPES, StateEntry
from trtready.finding_ids import tensor_finding_id

_ROLE = {"parameter": Role.PARAMETER, "buffer": Role.BUFFER, "tensor": Role.BUFFER}


def audit_state(entries: list[StateEntry], used: set[str] | None = None) -> list[Finding]:
    """One finding per int64/float64 tensor.

    Args:
        entries: the model's state (metadata; values are read only for 64-bit tensors).
        used: names of state tensors that forward reads (from the exported graph), or None if unknown.
    """
    findings: list[Finding] = []
    for e in entries:
        if e.dtype not in WIDE_DTYPES:
            continue
        owner = e.name.rpartition(".")[0] or "<root>"
        f = Finding(
            id=tensor_finding_id(Layer.STATE, e.name),
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
        elif e.dtype in ("int64", "uint64"):
            f.interval = int_hull(values)
            f.fits["int32"] = f.interval.fits_int32() if f.interval is not None else True
        else:
            f.interval, f.fits["float32"], notes = float32_facts(values)
            f.notes.extend(notes)
        findings.append(f)
    return findings
