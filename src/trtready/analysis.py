"""One analysis per graph, computed once per run and handed to everything that needs it.

The audit, the planner and verification all ask the same questions of a graph: what are the
shapes (ONNX shape inference), which dim bounds apply to which symbolic dims, what role does each
integer input play, and what interval holds each value. :class:`OnnxAnalysis` and
:class:`FxAnalysis` answer them once; nothing recomputes them behind the caller's back
(``COUNTS`` counts how often each is built, for the tests that hold this to account).

An exact rewrite makes a new graph, and a new graph gets its own analysis
(:meth:`OnnxAnalysis.of_rewritten`): the order is rewrite → analyse → plan → apply, and
:func:`graph_fingerprint` lets the planner and the passes refuse an analysis or a plan made for a graph
that has changed since.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trtready.bounds import DimBound
from trtready.intervals import Interval
from trtready.intervals.demand import Demand
from trtready.intervals.onnx import AbsValue, DimBounds, Guards
from trtready.intervals.roles import InputRole

if TYPE_CHECKING:
    import onnx_ir as ir
    import torch.fx
    from torch.export import ExportedProgram

COUNTS: Counter[str] = Counter()


def graph_fingerprint(model: ir.Model) -> tuple[int, ...]:
    """The identity of each main-graph node, in order. A rewrite that adds, removes or reorders a node
    changes it; the analysis holds the old nodes' values, so their ids are not reused while it lives."""
    return tuple(id(node) for node in model.graph)


def dim_bounds(model: ir.Model, bounds: list[DimBound]) -> DimBounds:
    """The graph inputs' symbolic dim names mapped to the ``--dynamic`` bounds given for them."""
    by_name = {v.name: v for v in model.graph.inputs}
    dims: DimBounds = {}
    for b in bounds:
        v = by_name.get(b.input)
        if v is None or v.shape is None or b.axis >= len(v.shape):
            continue
        d = v.shape[b.axis]
        name = getattr(d, "value", None)
        if not isinstance(d, int) and name:
            dims[name] = b.interval
    return dims


def applied_demands(found: dict[str, Demand], inputs: dict[str, Interval],
                    user: dict[str, Interval] | None) -> dict[str, Demand]:
    """The demands that tighten what is already known of an input (the user's --input-range wins;
    a role's own range, narrower or equal, makes the demand moot). Each carries the tightened interval."""
    out: dict[str, Demand] = {}
    for name, d in found.items():
        if name in (user or {}):
            continue
        known = inputs.get(name)
        if known is None:
            out[name] = d
            continue
        lo, hi = max(known.lo, d.interval.lo), min(known.hi, d.interval.hi)
        if lo <= hi and (lo, hi) != (known.lo, known.hi):
            out[name] = Demand(Interval(lo, hi), d.table, d.rows, d.index, d.path, d.exact, d.lookups)
    return out


@dataclass
class OnnxAnalysis:
    """Shapes (inferred in place), dim bounds, input roles and the interval of every main-graph value."""

    model: ir.Model
    dims: DimBounds
    roles: dict[str, InputRole]
    inputs: dict[str, Interval]  # what proofs may assume of each graph input (roles, then the user's word)
    values: dict[ir.Value, AbsValue | None] = field(repr=False)
    bounds: list[DimBound] = field(default_factory=list)  # the --dynamic bounds the analysis used
    guards: Guards = field(default_factory=Guards, repr=False)  # guarded Where branches (intervals/onnx.py)
    # Demanded ranges the intervals assume (valid inputs index inside the tables; off with --strict).
    demands: dict[str, Demand] = field(default_factory=dict)
    stated: frozenset[str] = frozenset()  # inputs the user's --input-range gave: their word, not an assumption
    fingerprint: tuple[int, ...] = field(default=(), repr=False)  # graph_fingerprint of the graph analysed

    @classmethod
    def of(cls, model: ir.Model, bounds: list[DimBound] | None = None,
           input_ranges: dict[str, Interval] | None = None, assume_valid: bool = True) -> OnnxAnalysis:
        """``assume_valid``: narrow each input's interval by what its table lookups demand of valid
        inputs (:mod:`trtready.intervals.demand`); ``--strict`` turns it off."""
        from trtready.intervals.demand import onnx_demands
        from trtready.intervals.onnx import propagate
        from trtready.intervals.roles import onnx_input_roles, ranges_from_roles
        from trtready.load.onnx_file import infer_shapes

        COUNTS["onnx"] += 1
        infer_shapes(model)
        dims = dim_bounds(model, bounds or [])
        roles = onnx_input_roles(model.graph)
        inputs = ranges_from_roles(roles, input_ranges, assume_valid)
        guards = Guards()
        values = propagate(model.graph, inputs, dims, guards)
        demands: dict[str, Demand] = {}
        if assume_valid:
            demands = applied_demands(onnx_demands(model.graph, values, dims), inputs, input_ranges)
            if demands:
                inputs = {**inputs, **{n: d.interval for n, d in demands.items()}}
                guards = Guards()
                values = propagate(model.graph, inputs, dims, guards)
        return cls(model, dims, roles, inputs, values, list(bounds or []), guards, demands, frozenset(input_ranges or {}),
                   graph_fingerprint(model))

    def of_rewritten(self) -> OnnxAnalysis:
        """The analysis of :attr:`model`'s graph as exact rewrites (:func:`trtready.passes.onnx_model.apply_rewrites`)
        left it: shapes and intervals again, with the same inputs, bounds and assumptions — a rewrite
        computes the same function of the same inputs, so what valid inputs satisfy is unchanged.
        ``self`` still describes the graph before the rewrites (the audit's findings)."""
        from trtready.intervals.onnx import propagate
        from trtready.load.onnx_file import infer_shapes

        COUNTS["onnx"] += 1
        infer_shapes(self.model)
        guards = Guards()
        values = propagate(self.model.graph, self.inputs, self.dims, guards)
        return OnnxAnalysis(self.model, self.dims, self.roles, self.inputs, values, list(self.bounds), guards,
                            dict(self.demands), self.stated, graph_fingerprint(self.model))

    def describes(self, model: ir.Model) -> bool:
        """Whether this analysis was made for ``model``'s graph as it is now (not before a rewrite)."""
        return model is self.model and graph_fingerprint(model) == self.fingerprint

    def interval(self, value: ir.Value) -> Interval | None:
        av = self.values.get(value)
        return av.hull if av is not None else None

    def assumptions(self) -> dict[str, str]:
        """What the intervals assume of valid inputs, one line per input (demands, assumed masks)."""
        return _assumptions(self.roles, self.inputs, self.demands, self.stated)


@dataclass
class FxAnalysis:
    """Input roles and the interval of every node of a torch.export program."""

    program: ExportedProgram
    roles: dict[str, InputRole]
    inputs: dict[str, Interval]
    values: dict[str, Interval | None] = field(repr=False)  # by node name
    demands: dict[str, Demand] = field(default_factory=dict)  # as OnnxAnalysis.demands
    stated: frozenset[str] = frozenset()  # as OnnxAnalysis.stated

    @classmethod
    def of(cls, program: ExportedProgram, input_ranges: dict[str, Interval] | None = None,
           assume_valid: bool = True) -> FxAnalysis:
        from trtready.intervals.demand import fx_demands
        from trtready.intervals.fx import propagate
        from trtready.intervals.roles import fx_input_roles, ranges_from_roles

        COUNTS["fx"] += 1
        roles = fx_input_roles(program)
        inputs = ranges_from_roles(roles, input_ranges, assume_valid)
        values = propagate(program, inputs)
        demands: dict[str, Demand] = {}
        if assume_valid:
            demands = applied_demands(fx_demands(program, values), inputs, input_ranges)
            if demands:
                inputs = {**inputs, **{n: d.interval for n, d in demands.items()}}
                values = propagate(program, inputs)
        return cls(program, roles, inputs, values, demands, frozenset(input_ranges or {}))

    def interval(self, node: torch.fx.Node | str) -> Interval | None:
        return self.values.get(node if isinstance(node, str) else node.name)

    def assumptions(self) -> dict[str, str]:
        """As :meth:`OnnxAnalysis.assumptions`."""
        return _assumptions(self.roles, self.inputs, self.demands, self.stated)


def _assumptions(roles: dict[str, InputRole], inputs: dict[str, Interval],
                 demands: dict[str, Demand], stated: frozenset[str] = frozenset()) -> dict[str, str]:
    out = {name: d.statement(name) for name, d in demands.items()}
    for name, role in roles.items():
        if role.assumed and name not in out and name not in stated and inputs.get(name) == role.interval:
            out[name] = role.statement(name)
    return out
