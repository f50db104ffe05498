"""torch.export's suggested fixes for dynamic shapes, read by a grammar of our own and applied only
where they keep the user's bounds.

When ``torch.export`` rejects the ``dynamic_shapes`` it was given, its ``Constraints violated`` error
ends with a block it computed itself::

    Suggested fixes:
      _seq = Dim('_seq', min=1, max=16)
      seq = 2*_seq

The block is read line by line with the grammar below — never ``eval``: the error text is derived
from the model, and a model's strings are data::

    line  := NAME '=' rhs
    rhs   := 'Dim(' QUOTED [',' 'min=' INT] [',' 'max=' INT] ')'     a (new) dim with a range
           | INT                                                     a constant: the dim is specialised
           | [INT '*'] NAME [('+'|'-') INT]                          a dim derived from another

A fix is applied only when every size the user allowed stays allowed and nothing outside is added:

- ``seq = 2*_seq`` with ``_seq`` in ``[1, 16]``: a multiple-of constraint. It keeps the user's
  ``seq[2:32]`` when both ends lie on the lattice ``2*_seq`` and the lattice covers them; the dim then
  takes the sizes 2, 4, …, 32 (:attr:`DimBound.step`), and verification and profiles use those.
- ``other = seq``: two of the user's dims are one dim; kept when the user gave them the same range.
- ``seq = Dim('seq', max=20)`` narrows the user's ``[2, 32]``; ``seq = 16`` fixes it; ``seq2 = 2*seq``
  ties two user dims by a factor: none keeps the bounds, so none is applied — the refusal says which
  fix torch suggested and why it was not taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from trtready.bounds import DimBound

_NAME = r"[A-Za-z_]\w{0,99}"
_INT = r"-?\d{1,20}"
_LINE = re.compile(rf"^\s*({_NAME})\s*=\s*(.+?)\s*$")
_DIM = re.compile(rf"^Dim\(\s*'({_NAME})'\s*((?:,\s*(?:min|max)\s*=\s*{_INT}\s*)*)\)$")
_KW = re.compile(rf"(min|max)\s*=\s*({_INT})")
_CONST = re.compile(rf"^({_INT})$")
_DERIVED = re.compile(rf"^(?:({_INT})\s*\*\s*)?({_NAME})(?:\s*([+-])\s*(\d{{1,20}}))?$")
_HEADER = "Suggested fixes:"
APPLIED = "torch.export's suggested fix applied: "  # how a report note says a fix was taken


@dataclass(frozen=True)
class Fix:
    """One line of the block: ``name`` becomes a dim with a range, a constant, or ``scale*base + offset``."""

    name: str
    text: str  # the line as torch printed it, for messages
    lo: int | None = None  # Dim('name', min=…, max=…)
    hi: int | None = None
    is_dim: bool = False
    constant: int | None = None
    base: str | None = None  # derived: scale*base + offset
    scale: int = 1
    offset: int = 0


def parse_fixes(message: str) -> list[Fix] | None:
    """The fixes in a torch.export error, or None when it has no block or a line outside the grammar."""
    if _HEADER not in message:
        return None
    lines = message.split(_HEADER, 1)[1].splitlines()
    fixes: list[Fix] = []
    for raw in lines:
        if not raw.strip():
            if fixes:
                break
            continue
        m = _LINE.match(raw)
        if not m:
            if fixes:
                break  # the block ends where torch's next paragraph starts
            return None
        name, rhs = m[1], m[2]
        fix = _parse_rhs(name, rhs, raw.strip())
        if fix is None:
            return None
        fixes.append(fix)
    return fixes or None


def _parse_rhs(name: str, rhs: str, text: str) -> Fix | None:
    if m := _DIM.match(rhs):
        if m[1] != name:
            return None
        kw = {k: int(v) for k, v in _KW.findall(m[2])}
        return Fix(name, text, kw.get("min"), kw.get("max"), is_dim=True)
    if m := _CONST.match(rhs):
        return Fix(name, text, constant=int(m[1]))
    if m := _DERIVED.match(rhs):
        offset = int(m[4]) * (-1 if m[3] == "-" else 1) if m[4] else 0
        return Fix(name, text, base=m[2], scale=int(m[1]) if m[1] else 1, offset=offset)
    return None


@dataclass
class Applied:
    """The bounds after the fixes, what changed (said to the user), and the fixes not taken with why."""

    bounds: list[DimBound]
    changes: list[str]
    refused: list[str]

    @property
    def usable(self) -> bool:
        """Every fix kept the user's bounds and at least one changed them: worth one more export."""
        return not self.refused and bool(self.changes)


def apply_fixes(fixes: list[Fix], bounds: list[DimBound]) -> Applied:
    """The user's ``bounds`` with every fix that keeps them applied (see the module docstring)."""
    by_dim: dict[str, DimBound] = {}
    for b in bounds:
        by_dim.setdefault(b.dim, b)
    helpers = {f.name: f for f in fixes if f.is_dim and f.name not in by_dim}
    out = list(bounds)
    changes: list[str] = []
    refused: list[str] = []
    for f in fixes:
        if f.name in helpers:
            continue  # a new dim torch introduced: it only matters through the dim derived from it
        user = by_dim.get(f.name)
        if user is None:
            refused.append(f"{f.text}: {f.name} is not a dim of --dynamic")
            continue
        span = f"your {f.name}[{user.lo}:{user.hi}]"
        if f.constant is not None:
            refused.append(f"{f.text}: torch.export fixes {f.name} to {f.constant}; {span} is not kept")
        elif f.is_dim:
            lo = f.lo if f.lo is not None else user.lo
            hi = f.hi if f.hi is not None else user.hi
            if not (lo <= user.lo and hi >= user.hi):
                refused.append(f"{f.text}: would narrow {span} to [{max(lo, user.lo)}:{min(hi, user.hi)}]")
        elif f.base in helpers:
            h = helpers[f.base]
            step, offset = f.scale, f.offset
            h_lo = h.lo if h.lo is not None else 0
            h_hi = h.hi
            on_lattice = step >= 1 and (user.lo - offset) % step == 0 and (user.hi - offset) % step == 0
            covered = on_lattice and h_lo <= (user.lo - offset) // step and (h_hi is None or (user.hi - offset) // step <= h_hi)
            if step > 1 and covered:
                out = [replace(b, step=step) if b.dim == f.name else b for b in out]
                changes.append(f"{f.text} ({h.text}): {f.name} keeps [{user.lo}:{user.hi}] in steps of {step}; "
                               f"other sizes are not valid for the model")
            elif not (step == 1 and offset == 0 and covered):
                lattice = f"{step}*{f.base}" + (f"{offset:+d}" if offset else "")
                refused.append(f"{f.text} ({h.text}): {f.name} = {lattice} does not reach both ends of {span}")
        elif f.base in by_dim:
            other = by_dim[f.base]
            if f.scale == 1 and f.offset == 0 and (other.lo, other.hi, other.step) == (user.lo, user.hi, user.step):
                out = [replace(b, dim=other.dim) if b.dim == f.name else b for b in out]
                changes.append(f"{f.text}: {f.name} and {f.base} are one dim (the same range {user.sizes_text()})")
            else:
                refused.append(f"{f.text}: ties {span} to {f.base}[{other.lo}:{other.hi}]; the ranges do not match")
        else:
            refused.append(f"{f.text}: {f.base} is not a dim of --dynamic")
    return Applied(out, changes, refused)
