"""The rule registry: a stable id for every kind of finding, on the ground floor.

CI tools key on these ids (SARIF's ``ruleId``, report.json's ``rule``): a suppression, a baseline or a
dashboard written against ``TRT004`` must mean the same next release. So an id is never renumbered
nor reused — a retired rule stays listed with ``retired=True`` — and tests/test_rules.py holds the
frozen list. The ids are grouped in tens by what the finding is about: 64-bit integer tensors (00s),
float64 tensors (10s), uint64 (20s), nodes a target cannot build (30s), table indices (40s), the
plugin boundary (50s), the TensorRT build log (60s), and what the whole run could not establish (70s).
Which finding gets which rule is decided where findings are made (``audit/findings.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One rule: ``id`` (``TRT004``), ``name`` (``int64-value``), a one-line ``short`` and a ``help``."""

    id: str
    name: str
    short: str
    help: str
    retired: bool = False


INT64_STATE = Rule(
    "TRT001", "int64-state", "An int64 parameter or buffer of the model's state.",
    "TensorRT 8 holds no INT64 and Torch-TensorRT's TorchScript frontend fails on it; newer targets carry it at "
    "a cost. `trtready fix` narrows a state tensor whose values are read and proved to fit int32.")
INT64_IO = Rule(
    "TRT002", "int64-io", "An int64 graph input or output (an engine binding).",
    "Deployment code binds these with their dtype, so `fix` keeps them by default; `--io int32` narrows those "
    "proved to fit, which changes the engine's interface (Triton configs, clients).")
INT64_CONSTANT = Rule(
    "TRT003", "int64-constant", "An int64 initializer or constant in the graph.",
    "On trt8 a constant beyond int32 is clamped by the parser unless every use is a Slice bound; elsewhere it "
    "costs Casts. `fix` narrows a constant whose values fit int32 where every consumer accepts int32.")
INT64_VALUE = Rule(
    "TRT004", "int64-value", "An int64 value computed inside the graph.",
    "Its interval decides what a target does with it: proved to fit int32, it is narrowed or cast exactly; "
    "not proved, trt8 clamps it (wrong results) and targets with INT64 keep it.")
FLOAT64_STATE = Rule(
    "TRT011", "float64-state", "A float64 parameter or buffer of the model's state.",
    "TensorRT has no DOUBLE: the parser converts it to FLOAT. `fix` narrows it to float32 when every value "
    "stays in float32's range and verification agrees.")
FLOAT64_IO = Rule(
    "TRT012", "float64-io", "A float64 graph input or output.",
    "TensorRT has no DOUBLE bindings: the binding becomes FLOAT. `fix` makes float64 I/O float32 and verifies it.")
FLOAT64_CONSTANT = Rule(
    "TRT013", "float64-constant", "A float64 initializer or constant in the graph.",
    "Rounded to float32 by the parser; a value beyond float32's range, or one that becomes 0, is refused "
    "by `fix` (`--allow-underflow` accepts the latter).")
FLOAT64_VALUE = Rule(
    "TRT014", "float64-value", "A float64 value computed inside the graph.",
    "TensorRT computes it in float32; `fix` narrows the connected float64 group and verifies the outputs.")
UINT64_TENSOR = Rule(
    "TRT021", "uint64-tensor", "A uint64 tensor: TensorRT has no type for it.",
    "No target can build it and `fix` refuses it: change the model to use int64 or int32.")
OP_UNSUPPORTED = Rule(
    "TRT031", "op-unsupported", "A node some target's ONNX parser or builder has no importer for.",
    "NOT READY on such a target even when an exact rewrite exists (`fix`/`convert` apply it); otherwise the "
    "message names what to change in the model (docs/cli.md, 'Ops a target cannot build').")
OP_FORM_UNSUPPORTED = Rule(
    "TRT032", "op-form-unsupported", "An op whose form some target cannot build (a scatter with a reduction, "
    "MaxPool's Indices output).",
    "The op itself imports, this form of it does not; the message names the form and what to use instead.")
POOL_WINDOW = Rule(
    "TRT033", "pool-window", "A pooling window larger than some target builds.",
    "TensorRT builds pooling windows below a volume per spatial rank; `fix` rewrites a window that covers the "
    "input or tiles it into a global pool or a reduction, exactly.")
INDEX_UNPROVED = Rule(
    "TRT041", "index-unproved", "A table lookup whose index is not proved inside its axis.",
    "TensorRT does not check gather indices: an index outside the table reads zero rows or undefined values "
    "where PyTorch and ONNX Runtime raise. A hazard of invalid inputs; `--input-range` states a bound.")
PLUGIN_BOUNDARY = Rule(
    "TRT051", "plugin-boundary", "A node of a custom ONNX domain (a TensorRT plugin) and the dtypes crossing it.",
    "A plugin must accept the dtypes that reach it: INT64 into a plugin that takes INT32 only fails the build. "
    "The message says which Cast or plugin declaration makes it build.")
BUILD_LOG = Rule(
    "TRT061", "build-log", "What the TensorRT build reported about a 64-bit tensor or a profile.",
    "Read from the parser's and builder's log and the parsed network: an INT64 binding, a profile TensorRT "
    "warns about, a DOUBLE that became FLOAT.")
LAYER_NOT_ANALYSED = Rule(
    "TRT071", "layer-not-analysed", "A layer of the model (state, torch.export graph, ONNX) could not be analysed.",
    "Never READY on a gap: the message gives the reason (a torch.export failure, usually); fix it or audit "
    "the ONNX file instead.")
VERIFICATION_MISMATCH = Rule(
    "TRT072", "verification-mismatch", "An output of the rewritten model differs from the original's.",
    "Nothing is written. The message names the output, the largest error and the tolerance that would pass.")

RULES: tuple[Rule, ...] = (
    INT64_STATE, INT64_IO, INT64_CONSTANT, INT64_VALUE,
    FLOAT64_STATE, FLOAT64_IO, FLOAT64_CONSTANT, FLOAT64_VALUE,
    UINT64_TENSOR,
    OP_UNSUPPORTED, OP_FORM_UNSUPPORTED, POOL_WINDOW,
    INDEX_UNPROVED,
    PLUGIN_BOUNDARY,
    BUILD_LOG,
    LAYER_NOT_ANALYSED, VERIFICATION_MISMATCH,
)
BY_ID: dict[str, Rule] = {r.id: r for r in RULES}

# A wide-dtype tensor's rule by dtype and where it lives ("state", "io", "constant", "value").
WIDE: dict[tuple[str, str], Rule] = {
    ("int64", "state"): INT64_STATE, ("int64", "io"): INT64_IO,
    ("int64", "constant"): INT64_CONSTANT, ("int64", "value"): INT64_VALUE,
    ("float64", "state"): FLOAT64_STATE, ("float64", "io"): FLOAT64_IO,
    ("float64", "constant"): FLOAT64_CONSTANT, ("float64", "value"): FLOAT64_VALUE,
    **{("uint64", place): UINT64_TENSOR for place in ("state", "io", "constant", "value")},
}
