"""User-stated bounds: ``--dynamic`` dimension ranges and ``--input-range`` value ranges.

The same parsed bounds feed torch.export ``Dim``s, interval proofs, generated verification inputs
and TensorRT optimization profiles (docs/cli.md, shared options).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from typing import TYPE_CHECKING

from trtready.errors import UsageError
from trtready.intervals import Interval
from trtready.limits import DEFAULT_LIMITS, limit_hint

METADATA_KEY = "trtready.dynamic"  # ONNX metadata: the bounds a model was exported or fixed with
# ONNX metadata: the example input shapes, written by export, read for the build profile
EXAMPLE_KEY = "trtready.example_shapes"

if TYPE_CHECKING:
    import onnx_ir as ir

    from trtready.limits import Limits

# at most 20 digits: enough for any 64-bit value, and never a 5,000-digit string for int() to choke on
_DIM_RE = re.compile(r"^\s*(\d{1,20})\s*=\s*([A-Za-z_]\w*)?\s*\[\s*(\d{1,20})\s*:\s*(\d{1,20})\s*\]\s*$")
_RANGE_RE = re.compile(r"^\s*(.+?)\s*:\s*(-?\d{1,20})\s*\.\.\s*(-?\d{1,20})\s*$")
_VALUE_MIN, _VALUE_MAX = -(2**63), 2**64 - 1  # what the widest integer inputs (int64, uint64) hold


@dataclass(frozen=True)
class DimBound:
    """Axis ``axis`` of input ``input`` varies in ``[lo, hi]``; ``dim`` names it (shared by inputs).

    ``step`` > 1 keeps the sizes to ``lo, lo + step, …, hi``: a model that reshapes a sequence into
    pairs takes even lengths only, and torch.export says so (``seq = 2*_seq``, :mod:`trtready.dim_fixes`).
    """

    input: str
    axis: int
    dim: str
    lo: int
    hi: int
    step: int = 1

    @property
    def interval(self) -> Interval:
        return Interval(self.lo, self.hi)

    def sizes_text(self) -> str:
        """``[2:32]``, or ``[2:32] in steps of 2``."""
        return f"[{self.lo}:{self.hi}]" + (f" in steps of {self.step}" if self.step > 1 else "")


def parse_dynamic(specs: list[str] | tuple[str, ...] | None, limits: Limits | None = None) -> list[DimBound]:
    """Parse ``'input_ids:0=batch[1:8],1=seq[1:128]'`` strings (the option may repeat).

    A maximum past the element limit is refused: no tensor could have such a dim, and the bounds
    size generated verification inputs.
    """
    limits = limits or DEFAULT_LIMITS
    out: list[DimBound] = []
    for spec in specs or ():
        name, sep, rest = spec.partition(":")
        if not sep or not name.strip() or not rest.strip():
            raise UsageError(f"--dynamic {spec!r}: expected 'NAME:AXIS=DIM[MIN:MAX],…'")
        for part in rest.split(","):
            m = _DIM_RE.match(part)
            if not m:
                raise UsageError(f"--dynamic {spec!r}: cannot read {part.strip()!r}; expected 'AXIS=DIM[MIN:MAX]'")
            axis, dim, lo, hi = int(m[1]), m[2] or f"{name.strip()}_{m[1]}", int(m[3]), int(m[4])
            if lo > hi:
                raise UsageError(f"--dynamic {spec!r}: minimum {lo} exceeds maximum {hi}")
            if hi > limits.tensor_elements:
                raise UsageError(f"--dynamic {spec!r}: maximum {hi} exceeds the tensor-elements limit "
                                 f"{limits.tensor_elements} ({limit_hint('tensor-elements')})")
            out.append(DimBound(name.strip(), axis, dim, lo, hi))
    seen: dict[str, tuple[int, int]] = {}
    for b in out:
        if seen.setdefault(b.dim, (b.lo, b.hi)) != (b.lo, b.hi):
            raise UsageError(f"--dynamic: dimension {b.dim!r} is given two different ranges")
    return out


def parse_input_ranges(specs: list[str] | tuple[str, ...] | None) -> dict[str, Interval]:
    """Parse ``'ids:0..30521'`` strings into value intervals by input name."""
    out: dict[str, Interval] = {}
    for spec in specs or ():
        m = _RANGE_RE.match(spec)
        if not m:
            raise UsageError(f"--input-range {spec!r}: expected 'NAME:LO..HI'")
        lo, hi = int(m[2]), int(m[3])
        if lo > hi:
            raise UsageError(f"--input-range {spec!r}: LO exceeds HI")
        if lo < _VALUE_MIN or hi > _VALUE_MAX:
            raise UsageError(f"--input-range {spec!r}: no integer input holds values past [-2**63, 2**64-1]")
        out[m[1]] = Interval(lo, hi)
    return out


def check_bound_names(inputs: list[str], bounds: list[DimBound], ranges: dict[str, Interval]) -> None:
    """Every name in ``--dynamic``/``--input-range`` must be an input of the model (a typo is an error,
    never a silently ignored bound)."""
    known = set(inputs)
    for option, names in (("--dynamic", [b.input for b in bounds]), ("--input-range", list(ranges))):
        unknown = sorted(set(names) - known)
        if unknown:
            raise UsageError(f"{option} names {', '.join(unknown)}, not an input of the model "
                             f"({', '.join(inputs) or 'it has none'})")


def record_bounds(model: ir.Model, bounds: list[DimBound]) -> None:
    """The ``--dynamic`` bounds in an ONNX model's metadata, where ``build`` and a later run find them."""
    if bounds:
        model.metadata_props[METADATA_KEY] = json.dumps(
            [{"input": b.input, "axis": b.axis, "dim": b.dim, "min": b.lo, "max": b.hi}
             | ({"step": b.step} if b.step > 1 else {}) for b in bounds]
        )


def bounds_from_metadata(model: ir.Model) -> list[DimBound]:
    """The bounds recorded in an ONNX model (an unreadable record counts as none)."""
    raw = model.metadata_props.get(METADATA_KEY)
    if not raw:
        return []
    try:
        out = [DimBound(d["input"], int(d["axis"]), d["dim"], int(d["min"]), int(d["max"]), int(d.get("step", 1)))
               for d in json.loads(raw)]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    # a step that does not divide the range is no record trtready wrote
    return [b if b.step >= 1 and (b.hi - b.lo) % b.step == 0 else DimBound(b.input, b.axis, b.dim, b.lo, b.hi)
            for b in out]


def with_recorded(bounds: list[DimBound], recorded: list[DimBound]) -> list[DimBound]:
    """The user's bounds, completed by recorded ones for the input axes the user did not bound."""
    given = {(b.input, b.axis) for b in bounds}
    return list(bounds) + [b for b in recorded if (b.input, b.axis) not in given]
