"""Comparison results as objects: truthy when they pass, with the errors that decide it.

Modelled on Polygraphy's ``OutputCompareResult``: max abs/rel error, the worst element, and the
tolerance that *would* have passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trtready.errors import UsageError
from trtready.lazy import np

DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-6


def parse_tolerances(specs: list[str] | tuple[str, ...] | None, default: float) -> tuple[float, dict[str, float]]:
    """``['1e-4', 'logits:1e-3']`` -> (default, {name: value}); later entries win."""
    per: dict[str, float] = {}
    for spec in specs or ():
        name, sep, val = spec.rpartition(":")
        try:
            number = float(val)
        except ValueError as e:
            raise UsageError(f"tolerance {spec!r}: expected [NAME:]VALUE") from e
        if sep:
            per[name] = number
        else:
            default = number
    return default, per


@dataclass
class OutputComparison:
    name: str
    dtype_ref: str
    dtype_cand: str
    exact: bool  # integers/bools: compared exactly
    passed: bool
    max_abs: float = 0.0
    max_rel: float = 0.0
    worst_index: tuple[int, ...] | None = None
    # the elements at worst_index, as Python numbers (text for string outputs)
    ref_value: int | float | str | None = None
    cand_value: int | float | str | None = None
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    required_atol: float = 0.0  # the atol (at this rtol) that would have passed
    message: str = ""
    atol_basis: str = "given"  # how atol was chosen: "given" or the scaling that produced it
    padded_only: bool = False  # every differing element sits where an attention mask pads (mask 0)
    dims: dict[str, int] | None = None  # the dynamic dims of the trial (None: given inputs)
    zero_reference: bool = False  # a float output the reference computed as 0 everywhere in this trial

    def __bool__(self) -> bool:
        return self.passed

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "dtype_before": self.dtype_ref, "dtype_after": self.dtype_cand,
            "exact": self.exact, "passed": self.passed, "max_abs": self.max_abs, "max_rel": self.max_rel,
            "worst_index": list(self.worst_index) if self.worst_index is not None else None,
            "rtol": None if self.exact else self.rtol, "atol": None if self.exact else self.atol,
            "required_atol": None if self.exact else self.required_atol, "message": self.message,
            "atol_basis": None if self.exact else self.atol_basis, "padded_only": self.padded_only,
            "dims": dict(self.dims) if self.dims is not None else None,
        }


def _py(x: Any) -> Any:
    return x.item() if hasattr(x, "item") else x


def compare_arrays(name: str, ref: np.ndarray, cand: np.ndarray, rtol: float, atol: float) -> OutputComparison:
    ref, cand = np.asarray(ref), np.asarray(cand)
    text = ref.dtype.kind in "OUSV" or cand.dtype.kind in "OUSV"  # strings (ONNX STRING): equal or not
    exact = text or (ref.dtype.kind in "iub" and cand.dtype.kind in "iub")
    base = OutputComparison(name, str(ref.dtype), str(cand.dtype), exact, False, rtol=rtol, atol=atol)
    if ref.shape != cand.shape:
        base.message = f"shape {tuple(cand.shape)} != {tuple(ref.shape)}"
        return base
    if ref.size == 0:
        base.passed = True
        return base
    if text:
        bad = np.argwhere(np.asarray(ref.astype(object) != cand.astype(object), dtype=bool).reshape(ref.shape))
        if bad.size:
            idx = tuple(int(i) for i in bad[0])
            base.worst_index, base.ref_value, base.cand_value = idx, str(ref[idx]), str(cand[idx])
            base.message = f"{len(bad)} element(s) differ; first at {idx}: {base.ref_value!r} -> {base.cand_value!r}"
            return base
        base.passed = True
        return base
    if exact:
        diff = ref.astype(object) != cand.astype(object) if ref.dtype != cand.dtype else ref != cand
        bad = np.argwhere(np.asarray(diff, dtype=bool))
        if bad.size:
            idx = tuple(int(i) for i in bad[0])
            base.worst_index, base.ref_value, base.cand_value = idx, _py(ref[idx]), _py(cand[idx])
            base.max_abs = float(abs(int(ref[idx]) - int(cand[idx])))
            base.message = f"{len(bad)} element(s) differ; first at {idx}: {base.ref_value} -> {base.cand_value}"
            return base
        base.passed = True
        return base
    r, c = ref.astype(np.float64), cand.astype(np.float64)
    both_nan = np.isnan(r) & np.isnan(c)
    err = np.where(both_nan, 0.0, np.abs(r - c))
    err = np.where(np.isnan(err), np.inf, err)
    rel = err / np.maximum(np.abs(r), np.finfo(np.float64).tiny)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(err - (atol + rtol * np.abs(r)))), r.shape))
    base.max_abs, base.max_rel = float(err.max()), float(np.where(err == 0, 0.0, rel).max())
    base.worst_index, base.ref_value, base.cand_value = idx, _py(ref[idx]), _py(cand[idx])
    base.required_atol = float(np.max(err - rtol * np.abs(r)).clip(min=0.0))
    base.passed = bool(np.all(err <= atol + rtol * np.abs(r)))
    if not base.passed:
        base.message = (
            f"worst at {idx}: {base.ref_value} -> {base.cand_value} (abs {base.max_abs:.3g}, "
            f"rel {base.max_rel:.3g}; atol {atol:g} rtol {rtol:g}; atol {base.required_atol:.3g} would pass)"
        )
    return base


@dataclass
class Comparison:
    """All outputs over all trials: truthy when every output of every trial passed."""

    reference: str
    candidate: str
    outputs: list[OutputComparison] = field(default_factory=list)
    trials: int = 0
    notes: list[str] = field(default_factory=list)
    # Why a mismatch does not count against the narrowed model, when the same inputs show the unmodified
    # export differing from the reference the same way (the difference is upstream, not narrowing's).
    excused: str | None = None
    # Out-of-range probes (verify/run.py): an index input one row past its table, and what each side did.
    probes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(self.outputs) and bool(self.outputs)

    def excuse_padded(self) -> None:
        """Excuse a mismatch that lies only at padded positions (see :func:`compare_runs`)."""
        failed = [o for o in self.outputs if not o]
        if failed and all(o.padded_only for o in failed) and self.excused is None:
            self.excused = ("differences only at positions the attention mask pads (mask 0): those rows attend to "
                            "no real token and their outputs are discarded")

    def __bool__(self) -> bool:
        return self.passed or self.excused is not None

    def vanished(self) -> list[str]:
        """Float outputs the reference computed as 0 everywhere in every trial: they agree, but equal
        zeros prove little about the model (activations that vanish through its depth, say)."""
        names = dict.fromkeys(o.name for o in self.outputs if not o.exact)
        return [n for n in names if all(o.zero_reference for o in self.outputs if o.name == n)]

    def worst_per_output(self) -> list[OutputComparison]:
        by_name: dict[str, OutputComparison] = {}
        for o in self.outputs:
            cur = by_name.get(o.name)
            if cur is None or (cur.passed and not o.passed) or (cur.passed == o.passed and o.max_abs > cur.max_abs):
                by_name[o.name] = o
        return list(by_name.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference, "candidate": self.candidate, "passed": self.passed, "trials": self.trials,
            "excused": self.excused,
            "outputs": [o.to_json() for o in self.worst_per_output()], "notes": list(self.notes),
            "probes": list(self.probes),
        }


EPS32 = 2.0**-23


def scaled_atol(ref: np.ndarray, depth: int) -> tuple[float, str]:
    """The default absolute tolerance for one float output: float32 rounding grown over the model's depth.

    A float32 result off by a few ulps of the output's magnitude per layer is arithmetic, not a bug:
    ``atol = max(1e-6, 4 · 2**-23 · max|ref| · sqrt(depth))`` with depth the number of matmul/conv
    layers. Integer outputs are always compared exactly; a user-given ``--atol`` is used as given.
    """
    finite = np.abs(ref[np.isfinite(ref)]) if ref.size else np.zeros(1)
    magnitude = float(finite.max()) if finite.size else 0.0
    atol = max(DEFAULT_ATOL, 4 * EPS32 * magnitude * max(depth, 1) ** 0.5)
    return atol, f"scaled: 4·2^-23·max|ref| ({magnitude:.3g})·√depth ({max(depth, 1)})"


def padded_positions(feeds: dict[str, np.ndarray], masks: list[str], shape: tuple[int, ...]) -> np.ndarray | None:
    """Where an output of ``shape`` lies over a padded position (mask 0) of a (batch, seq) mask input."""
    for name in masks:
        mask = feeds.get(name)
        if mask is None or mask.ndim != 2 or len(shape) < 2 or tuple(shape[:2]) != tuple(mask.shape):
            continue
        pad = np.asarray(mask) == 0
        padded: np.ndarray = pad.reshape(pad.shape + (1,) * (len(shape) - 2))
        return padded
    return None


def compare_runs(
    ref: dict[str, np.ndarray] | list[np.ndarray],
    cand: dict[str, np.ndarray] | list[np.ndarray],
    names: list[str],
    rtol: tuple[float, dict[str, float]] = (DEFAULT_RTOL, {}),
    atol: tuple[float, dict[str, float]] = (DEFAULT_ATOL, {}),
    depth: int = 0,
    feeds: dict[str, np.ndarray] | None = None,
    masks: list[str] | None = None,
) -> list[OutputComparison]:
    """Compare outputs position by position, named by ``names``.

    Without a user-given atol (the default, or a per-output override), float outputs get
    :func:`scaled_atol`. A float mismatch confined to positions that a mask input pads is flagged
    ``padded_only``: those rows attend to nothing real and consumers discard them.
    """
    ref_l = list(ref.values()) if isinstance(ref, dict) else list(ref)
    cand_l = list(cand.values()) if isinstance(cand, dict) else list(cand)
    out: list[OutputComparison] = []
    if len(ref_l) != len(cand_l):
        out.append(OutputComparison("<outputs>", "", "", True, False,
                                    message=f"{len(cand_l)} outputs, expected {len(ref_l)}"))
        return out
    for name, r, c in zip(names, ref_l, cand_l):
        r, c = np.asarray(r), np.asarray(c)
        given = name in atol[1] or atol[0] != DEFAULT_ATOL
        a, basis = (atol[1].get(name, atol[0]), "given") if given or r.dtype.kind not in "fc" else scaled_atol(r, depth)
        cmp = compare_arrays(name, r, c, rtol[1].get(name, rtol[0]), a)
        cmp.atol_basis = basis
        cmp.zero_reference = r.dtype.kind in "fc" and r.size > 0 and not bool(np.any(r))
        if not cmp and not cmp.exact and r.shape == c.shape and feeds is not None and masks:
            pad = padded_positions(feeds, masks, r.shape)
            if pad is not None:
                bad = np.abs(r.astype(np.float64) - c.astype(np.float64)) > a + cmp.rtol * np.abs(r)
                bad |= np.isnan(r) != np.isnan(c)
                cmp.padded_only = bool(bad.any() and not (bad & ~np.broadcast_to(pad, bad.shape)).any())
        out.append(cmp)
    return out
