"""Value intervals: the proof behind every narrowing decision.

An :class:`Interval` bounds every value a tensor can take. Integer bounds are Python ints (exact at
any width, so an int64 overflow shows up as a bound beyond ``INT64_MAX`` instead of wrapping);
float bounds are Python floats. ``None`` everywhere means "unknown": an unknown value is never
narrowed (docs/design.md, "What safe to narrow means").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from trtready.lazy import np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class Interval:
    """Closed interval ``[lo, hi]`` of the values a tensor may hold."""

    lo: int | float
    hi: int | float

    def __post_init__(self) -> None:
        if self.lo > self.hi:  # pragma: no cover - guards callers' arithmetic
            raise ValueError(f"empty interval [{self.lo}, {self.hi}]")

    @classmethod
    def point(cls, v: int | float) -> Interval:
        return cls(v, v)

    @classmethod
    def hull(cls, values: "list[Interval]") -> Interval:
        return cls(min(i.lo for i in values), max(i.hi for i in values))

    @property
    def is_integral(self) -> bool:
        return isinstance(self.lo, int) and isinstance(self.hi, int)

    def fits_int32(self) -> bool:
        return INT32_MIN <= self.lo and self.hi <= INT32_MAX

    def fits_int64(self) -> bool:
        return INT64_MIN <= self.lo and self.hi <= INT64_MAX

    def worst_int32_violation(self) -> int | float | None:
        """The bound that leaves int32 (for error messages), or None when it fits."""
        if self.hi > INT32_MAX:
            return self.hi
        if self.lo < INT32_MIN:
            return self.lo
        return None

    def fits_float32_range(self) -> bool:
        return all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in (self.lo, self.hi))

    def to_json(self) -> dict[str, int | float | str]:
        """JSON has no infinities: they are written as the strings ``"inf"`` / ``"-inf"``."""

        def enc(v: int | float) -> int | float | str:
            return v if isinstance(v, int) or math.isfinite(v) else ("inf" if v > 0 else "-inf")

        return {"lo": enc(self.lo), "hi": enc(self.hi)}

    def __str__(self) -> str:
        return f"[{self.lo}, {self.hi}]"

    # --- transfer functions ------------------------------------------------------------------
    def __add__(self, o: Interval) -> Interval:
        return Interval(self.lo + o.lo, self.hi + o.hi)

    def __sub__(self, o: Interval) -> Interval:
        return Interval(self.lo - o.hi, self.hi - o.lo)

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def __mul__(self, o: Interval) -> Interval:
        c = [self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi]
        return Interval(min(c), max(c))

    def abs(self) -> Interval:
        if self.lo >= 0:
            return self
        if self.hi <= 0:
            return -self
        return Interval(type(self.lo)(0), max(-self.lo, self.hi))

    def sign(self) -> Interval:
        """-1, 0 or 1 (in the interval's own number type)."""
        kind = type(self.lo) if self.is_integral else float
        lo = -1 if self.lo < 0 else (0 if self.lo == 0 else 1)
        hi = -1 if self.hi < 0 else (0 if self.hi == 0 else 1)
        return Interval(kind(lo), kind(hi))

    def min(self, o: Interval) -> Interval:
        return Interval(min(self.lo, o.lo), min(self.hi, o.hi))

    def max(self, o: Interval) -> Interval:
        return Interval(max(self.lo, o.lo), max(self.hi, o.hi))

    def clip(self, lo: int | float | None, hi: int | float | None) -> Interval:
        """Clip/clamp: each bound moved into ``[lo, hi]`` (ONNX Clip, aten.clamp)."""
        lo_ = self.lo if lo is None else lo
        hi_ = self.hi if hi is None else hi
        return Interval(min(max(self.lo, lo_), hi_), max(min(self.hi, hi_), lo_))

    def floordiv(self, o: Interval) -> Interval | None:
        """Integer division (either rounding mode) by a divisor interval that excludes zero."""
        if o.lo <= 0 <= o.hi:
            return None
        c = [self.lo / o.lo, self.lo / o.hi, self.hi / o.lo, self.hi / o.hi]
        return Interval(math.floor(min(c)), math.ceil(max(c)))

    def mod(self, o: Interval) -> Interval | None:
        """Modulo by a strictly positive divisor: ``[0, c)`` for floor-mod, ``(-c, c)`` for fmod."""
        if o.lo <= 0:
            return None
        if self.lo >= 0:
            return Interval(0, min(self.hi, o.hi - 1))
        return Interval(-(o.hi - 1), o.hi - 1)


FLOAT_SLACK = 1e-6  # relative: about eight float32 ulps


def _outward(lo: float, hi: float) -> Interval:
    """A float result widened each way by ``FLOAT_SLACK`` of its magnitude.

    The bounds are computed in double precision, the model computes in float32: its library
    functions (exp, log, pow) are within a few float32 ulps of the exact result, not of ours.
    """
    if math.isfinite(lo):
        lo = lo - abs(lo) * FLOAT_SLACK - 1e-37
    if math.isfinite(hi):
        hi = hi + abs(hi) * FLOAT_SLACK + 1e-37
    # past float32's range the model's value is an infinity, whatever double arithmetic says
    lo = -math.inf if lo < -FLOAT32_MAX else lo
    hi = math.inf if hi > FLOAT32_MAX else hi
    return Interval(lo, hi)


def monotone(x: Interval, fn: "Callable[[float], float]", increasing: bool = True) -> Interval:
    """``fn`` over ``x`` for a function monotone on ``x``: the image of the two bounds, widened."""
    a, b = fn(float(x.lo)), fn(float(x.hi))
    if math.isnan(a) or math.isnan(b):
        raise ValueError("NaN bound")
    return _outward(a, b) if increasing else _outward(b, a)


def true_div(a: Interval, b: Interval) -> Interval | None:
    """Float division by a divisor interval that excludes zero."""
    if b.lo <= 0 <= b.hi:
        return None
    c = [float(a.lo) / b.lo, float(a.lo) / b.hi, float(a.hi) / b.lo, float(a.hi) / b.hi]
    if any(math.isnan(v) for v in c):
        return None
    return _outward(min(c), max(c))


def truncate_to_int(x: Interval, rel: float = 1e-6) -> Interval | None:
    """A float interval cast to an integer type (truncation toward zero), or None when a bound is not finite.

    The bounds were computed in double precision; the model computes in float32 (or lower), whose
    results may differ by a few float32 ulps: each bound is widened by ``rel`` of its magnitude (about
    eight float32 ulps) before truncating, so a value the model rounds across an integer is still covered.
    """
    lo, hi = float(x.lo), float(x.hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    lo -= abs(lo) * rel + 1e-30
    hi += abs(hi) * rel + 1e-30
    return Interval(math.trunc(lo), math.trunc(hi))


def _decide(always: bool, never: bool) -> bool | None:
    return True if always else False if never else None


#: Comparisons of two intervals: True/False when they decide it for every pair of values, else None.
COMPARISONS: dict[str, Callable[[Interval, Interval], bool | None]] = {
    "lt": lambda a, b: _decide(a.hi < b.lo, a.lo >= b.hi),
    "le": lambda a, b: _decide(a.hi <= b.lo, a.lo > b.hi),
    "gt": lambda a, b: _decide(a.lo > b.hi, a.hi <= b.lo),
    "ge": lambda a, b: _decide(a.lo >= b.hi, a.hi < b.lo),
    "eq": lambda a, b: _decide(a.lo == a.hi == b.lo == b.hi, a.hi < b.lo or b.hi < a.lo),
    "ne": lambda a, b: _decide(a.hi < b.lo or b.hi < a.lo, a.lo == a.hi == b.lo == b.hi),
}


def index_interval(size: int | None) -> Interval | None:
    """Values of an index into an axis of ``size`` elements (ArgMax, TopK indices): ``[0, size)``."""
    if size is None or size <= 0:
        return None
    return Interval(0, size - 1)


def int_hull(values: object) -> Interval | None:
    """Exact interval of an integer array (numpy-like); None for an empty array."""
    arr = np.asarray(values)
    if arr.size == 0:
        return None
    return Interval(int(arr.min()), int(arr.max()))


def float_hull(values: object) -> Interval | None:
    """Interval of a float array ignoring NaN (reported separately); None when nothing is left."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return None
    return Interval(float(arr.min()), float(arr.max()))


def float32_facts(values: object) -> tuple[Interval | None, bool, list[str]]:
    """Interval, whether float32 holds every value exactly, and notes on NaN/inf/underflow."""
    arr = np.asarray(values, dtype=np.float64)
    notes: list[str] = []
    if np.isnan(arr).any():
        notes.append(f"{int(np.isnan(arr).sum())} NaN value(s)")
    if np.isinf(arr).any():
        notes.append(f"{int(np.isinf(arr).sum())} infinite value(s)")
    with np.errstate(over="ignore", under="ignore"):
        as32 = arr.astype(np.float32).astype(np.float64)
    exact = bool(np.array_equal(as32, arr, equal_nan=True))
    overflow = int((np.isfinite(arr) & np.isinf(as32)).sum())
    if overflow:
        notes.append(f"{overflow} value(s) beyond the float32 range")
    underflow = int(((arr != 0) & (as32 == 0)).sum())
    if underflow:
        notes.append(f"{underflow} nonzero value(s) underflow to 0 in float32")
    return float_hull(arr), exact, notes
