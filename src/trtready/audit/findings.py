"""The audit's data: one :class:`Finding` per 64-bit tensor, and one per op a target may not build,
with provenance and predictions."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trtready.finding_ids import Layer as Layer  # re-exported: every stage names layers from here
from trtready.finding_ids import op_finding_id as op_finding_id
from trtready.finding_ids import FindingId as FindingId  # re-exported with Layer
from trtready.finding_ids import tensor_finding_id
from trtready.intervals import Interval
from trtready import rules
from trtready.rules import Rule
from trtready.targets import PROFILES

if TYPE_CHECKING:
    from trtready.analysis import FxAnalysis, OnnxAnalysis


class Kind(str, enum.Enum):
    """What a finding is about."""

    WIDE_DTYPE = "wide_dtype"  # an int64/float64/uint64 tensor
    OP_UNSUPPORTED = "op_unsupported"  # a node some target's parser or builder cannot build
    # A table lookup whose index is not proved inside its axis (audit/indices.py): ``index`` describes it.
    INDEX_UNPROVED = "index_unproved"
    # A node of a custom ONNX domain — a TensorRT plugin — and the dtype of every tensor crossing into
    # and out of it (audit/plugins.py): ``plugin`` describes them.
    PLUGIN_BOUNDARY = "plugin_boundary"


@dataclass(frozen=True)
class OpUse:
    """What one graph node asks of a target's ONNX parser and builder (``Kind.OP_UNSUPPORTED``).

    For a torch.export node these are the ONNX ops its translation contains (torch.onnx 2.13, checked
    by tests/audit/test_ops.py); for an ONNX node, the node itself.
    """

    what: str  # the node in words: "NonZero node_NonZero_4", "aten.index_put_ with a boolean mask"
    onnx_ops: tuple[str, ...]  # keys of TargetProfile.unsupported_ops (with ":reduction"/":indices" forms)
    pool: str | None = None  # AveragePool / MaxPool / LpPool: the window below is checked
    window: int | None = None  # product of the pooling kernel's dims
    spatial: int | None = None  # number of spatial dims of the pooling
    rewrite: str | None = None  # the exact rewrite fix/convert apply (rewrite_matchers.py), when proved
    remedy: str = ""  # what the user can change when no rewrite applies
    input_dtype: str | None = None  # ONNX dtype name of the first input ("BOOL"), ONNX side only

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "onnx_ops": list(self.onnx_ops), "pool": self.pool, "window": self.window,
                "spatial_dims": self.spatial, "rewrite": self.rewrite, "remedy": self.remedy or None,
                "input_dtype": self.input_dtype}


class Role(str, enum.Enum):
    PARAMETER = "parameter"
    BUFFER = "buffer"
    INPUT = "input"
    OUTPUT = "output"
    INITIALIZER = "initializer"
    CONSTANT = "constant"
    INTERMEDIATE = "intermediate"


class Outcome(str, enum.Enum):
    """What a target does with a tensor, ordered from harmless to fatal."""

    FINE = "fine"
    CAST = "cast"  # a Cast is inserted or values are converted exactly: speed cost only
    # An index not proved inside its axis: the target does not check it (TensorRT reads zero rows where
    # PyTorch and ONNX Runtime raise). A hazard of invalid inputs, not of the conversion: not blocking.
    UNCHECKED = "unchecked"
    PRECISION_LOSS = "precision_loss"  # float64 -> float32 rounding, silent on trt10 / trt11 / trt-rtx
    CLAMP = "clamp"  # out-of-int32 values clamped: wrong results without an error
    ERROR = "error"  # the conversion or build fails

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def blocks_ready(self) -> bool:
        return self.severity >= _SEVERITY[Outcome.PRECISION_LOSS]


_SEVERITY = {o: i for i, o in enumerate(Outcome)}


@dataclass(frozen=True)
class Prediction:
    outcome: Outcome
    message: str

    def to_json(self) -> dict[str, str]:
        return {"outcome": self.outcome.value, "message": self.message}


@dataclass
class Finding:
    """One int64/float64 tensor, or one node a target may not build, and where it comes from.

    ``where`` is the provenance a user can act on: a module path (state), the user's
    ``file:line`` (FX) or the producing ONNX node (ONNX). An op finding (``kind`` is
    ``OP_UNSUPPORTED``) names the node in ``tensor``, its output dtype in ``dtype`` and carries ``op``.
    """

    id: FindingId
    layer: Layer
    tensor: str
    dtype: str  # "int64" | "float64"
    shape: list[int | str] | None
    where: str
    role: Role
    producer: str | None = None  # op type of the producing node (FX target / ONNX op_type)
    consumers: list[str] = field(default_factory=list)  # "op:node" of each use
    # "op:node" of each use as the indices of a Gather whose data is not INT64 and whose axis is not
    # statically within int32 (TensorRT's parser casts such indices to INT32: TargetProfile.int64_index_cast).
    index_of_narrow_data: list[str] = field(default_factory=list)
    # FX layer: "op:node:argument:result dtype" of each use as an operand of an op call, the argument named
    # as in the op's schema; converters that narrow one operand of an op read it (TargetProfile.int32_operand_cast).
    operand_uses: list[str] = field(default_factory=list)
    # FX layer: Python int arguments of the producing call outside int32 (``t + 2**40``): some converters
    # make such an operand an INT32 constant (TargetProfile.int32_python_int_ops).
    wide_int_args: list[int] = field(default_factory=list)
    interval: Interval | None = None
    spec_int64: bool = False  # feeds or comes from an ONNX slot whose schema allows only int64
    # Every use is a Slice start/end: clamping to int32 is exact there (Slice clamps to the dim).
    clamp_exact: bool = False
    used: bool | None = None  # state: read by forward (None when unknown)
    # Graph inputs whose dtype Torch-TensorRT's TorchScript frontend estimates from this tensor: it is
    # the first constant their computation reads (audit/fx.first_use_estimates). None when unknown.
    first_use_of: list[str] | None = None
    # Graph inputs: dtype of the constant that estimate comes from (None: no constant met, or unknown).
    first_use_dtype: str | None = None
    module_type: str | None = None
    source: str | None = None  # user file:line, when known
    fits: dict[str, bool | None] = field(default_factory=dict)  # int32 / float32 exactness
    # A graph input whose interval is assumed of valid inputs, not proved: a demanded range
    # (trtready.intervals.demand.Demand.to_json) or an assumed 0/1 mask; None when nothing is assumed.
    assumed: dict[str, Any] | None = None
    index: dict[str, Any] | None = None  # set for Kind.INDEX_UNPROVED
    plugin: dict[str, Any] | None = None  # set for Kind.PLUGIN_BOUNDARY
    notes: list[str] = field(default_factory=list)
    predictions: dict[str, Prediction] = field(default_factory=dict)
    kind: Kind = Kind.WIDE_DTYPE
    op: OpUse | None = None  # set for Kind.OP_UNSUPPORTED

    @property
    def is_op(self) -> bool:
        return self.kind is Kind.OP_UNSUPPORTED

    @property
    def is_index(self) -> bool:
        return self.kind is Kind.INDEX_UNPROVED

    @property
    def is_plugin(self) -> bool:
        return self.kind is Kind.PLUGIN_BOUNDARY

    @property
    def rule(self) -> Rule:
        """The stable rule id of this kind of finding (``trtready.rules``): SARIF's ``ruleId``."""
        return rule_of(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule.id,
            "kind": self.kind.value,
            "layer": self.layer.value,
            "where": self.where,
            "tensor": self.tensor,
            "dtype": self.dtype,
            "shape": self.shape,
            "role": self.role.value,
            "producer": self.producer,
            "consumers": list(self.consumers),
            "index_of_narrow_data": list(self.index_of_narrow_data),
            "operand_uses": list(self.operand_uses),
            "wide_int_args": list(self.wide_int_args),
            "interval": self.interval.to_json() if self.interval is not None else None,
            "spec_int64": self.spec_int64,
            "clamp_exact": self.clamp_exact,
            "used": self.used,
            "first_use_of": list(self.first_use_of) if self.first_use_of is not None else None,
            "first_use_dtype": self.first_use_dtype,
            "module_type": self.module_type,
            "source": self.source,
            "fits": dict(self.fits),
            "assumed": self.assumed,
            "index": self.index,
            "plugin": self.plugin,
            "notes": list(self.notes),
            "predictions": {t: p.to_json() for t, p in self.predictions.items()},
            "op": self.op.to_json() if self.op is not None else None,
        }


# Where a wide-dtype tensor lives, as the rule registry groups it.
_PLACE = {Role.PARAMETER: "state", Role.BUFFER: "state", Role.INPUT: "io", Role.OUTPUT: "io",
          Role.INITIALIZER: "constant", Role.CONSTANT: "constant", Role.INTERMEDIATE: "value"}
_KIND_RULE = {Kind.INDEX_UNPROVED: rules.INDEX_UNPROVED, Kind.PLUGIN_BOUNDARY: rules.PLUGIN_BOUNDARY}


def rule_of(f: Finding) -> Rule:
    """The rule a finding reports under: by kind; a 64-bit tensor by dtype and place; an op finding by
    what some target lacks (the op, a form of it, or the pooling window); the build log's own rule."""
    if f.layer is Layer.TRT:
        return rules.BUILD_LOG
    if f.kind is Kind.OP_UNSUPPORTED:
        return op_rule(f.op)
    if f.kind in _KIND_RULE:
        return _KIND_RULE[f.kind]
    return rules.WIDE[(f.dtype, _PLACE[f.role])]


def op_rule(use: OpUse | None) -> Rule:
    """An op no target's profile imports is ``op-unsupported``; a form (``ScatterND:reduction``) some
    profile rejects while the op imports, ``op-form-unsupported``; else the window is what fails."""
    if use is None:
        return rules.OP_UNSUPPORTED
    blocked = {op for p in PROFILES.values() for op in use.onnx_ops if op in p.unsupported_ops}
    if any(":" not in op for op in blocked):  # the op itself
        return rules.OP_UNSUPPORTED
    if blocked:  # only a form of it
        return rules.OP_FORM_UNSUPPORTED
    return rules.POOL_WINDOW if use.pool is not None else rules.OP_UNSUPPORTED


@dataclass
class AuditResult:
    """Everything ``audit`` found about one model, before any decision is taken."""

    model: str
    model_kind: str
    sha256: str | None
    findings: list[Finding]
    layers: dict[str, str]  # layer -> "done", "skipped: why" (the model has none) or "failed: why"
    notes: list[str] = field(default_factory=list)
    # The analyses the findings came from, for the planner (not part of the report).
    onnx_analysis: OnnxAnalysis | None = field(default=None, repr=False, compare=False)
    fx_analysis: FxAnalysis | None = field(default=None, repr=False, compare=False)
    # The 64-bit subgraph of the analysed graph (audit/flow.py), taken before any edit: report.json's
    # ``flow`` and the HTML report's picture.
    flow: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    # ``hf:``: the weightless build (load/hf_config.HfBuild.to_json()); None when weights were loaded
    config_only: dict[str, Any] | None = None

    @property
    def assumptions(self) -> list[str]:
        """What the intervals assume of valid inputs (demanded ranges), one line each, by layer."""
        out = []
        for layer, analysis in (("fx", self.fx_analysis), ("onnx", self.onnx_analysis)):
            if analysis is not None:
                out += [f"{layer}: {line}" for line in analysis.assumptions().values()]
        return out

    def worst(self, target: str) -> Outcome:
        outcomes = [f.predictions[target].outcome for f in self.findings if target in f.predictions]
        return max(outcomes, key=lambda o: o.severity, default=Outcome.FINE)

    @property
    def failed_layers(self) -> dict[str, str]:
        """Layers that could not be analysed (``layers[name]`` starts with "failed:"), with why."""
        return {k: v.removeprefix("failed: ") for k, v in self.layers.items() if v.startswith("failed:")}

    def ready(self, target: str) -> bool:
        """Nothing worse than a Cast, and every layer the model has was analysed (never READY on a gap)."""
        return not self.failed_layers and not self.worst(target).blocks_ready


def mark_assumed(findings: list[Finding], analysis: OnnxAnalysis | FxAnalysis, layer: Layer) -> None:
    """Input findings whose interval is an assumption about valid inputs (a demanded range, an assumed
    0/1 mask) carry it, and say so in a note."""
    by_id = {f.id: f for f in findings}
    for name, line in analysis.assumptions().items():
        f = by_id.get(tensor_finding_id(layer, name))
        if f is None:
            continue
        demand = analysis.demands.get(name)
        f.assumed = demand.to_json() if demand is not None else {
            "interval": {"lo": 0, "hi": 1}, "assumption": "valid masks are 0/1", "why": analysis.roles[name].why}
        f.notes.append(line)
