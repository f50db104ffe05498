"""What each zoo model does under ``trtready convert`` today, and why: one table for the tests and docs.

``UPSTREAM``: models an upstream library cannot take — the same step fails without trtready
(``tests/zoo/upstream.py``; measured by ``bench/zoo.py``). ``convert`` must fail with that library's
reason.

``XFAIL``: models that fail today because of trtready, with the cause and where it lies in trtready's
code. The tests mark them ``xfail(strict=True)``: a model that starts to pass turns its test red, and
its entry is removed with the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Mixtral (4 experts, 2 per token) through the grouped_mm_fallback decomposition: INT64 execution tensors the
#: GatherND/ScatterND index chains keep (transformers' "batched_mm" experts implementation leaves 6).
MIXTRAL_GATHERND = 153


@dataclass(frozen=True)
class Upstream:
    """A failure upstream of trtready: the step that fails without trtready too, and its reason."""

    step: str  # torch.export | torch.onnx | onnxruntime | tensorrt
    reason: str  # a fragment of the library's own message, which convert must repeat


UPSTREAM: dict[str, Upstream] = {
    # EfficientNet is not here: transformers pools its features with nn.AvgPool2d(hidden_dim, ceil_mode=True),
    # a 320×320 window (1280×1280 in B0) past TensorRT-RTX's kernel-volume limit — the unmodified export
    # does not parse, but the window covers the whole 1×1 map, so convert rewrites it to GlobalAveragePool
    # (PoolToReducePass) and builds. T5 and Swin are not here either: see EXPORTER.
}

#: The export path that writes each model's ONNX file when it is not the plain dynamo exporter, and the
#: plain exporter's failure it gets past (trtready.export.paths; the report's ``export`` says the same).
EXPORTER: dict[str, tuple[str, str]] = {
    # torch.onnx's decomposition drops the contiguous() after T5's and Swin's attention (the fused kernel's
    # meta strides make it look contiguous), its type promotion then re-derives other strides and the view
    # that replaced the reshape fails; an explicit clone keeps it (passes/fx_contiguous_clone.py).
    "t5_encoder": ("dynamo+rewrite:contiguous→clone", "Cannot view a tensor with shape"),
    "swin": ("dynamo+rewrite:contiguous→clone", "Cannot view a tensor with shape"),
    "beit": ("dynamo+rewrite:contiguous→clone", "Cannot view a tensor with shape"),
    # transformers' default experts implementation calls its own op, which has no ONNX function; the op's
    # exact decomposition into aten ops exports (export/paths.py).
    "mixtral": ("dynamo+decompose:transformers::grouped_mm_fallback", "No ONNX function found"),
}

#: Models that fail today because of trtready, with the cause: none. A new entry names the first
#: failure and where in trtready it lies; the test's ``xfail(strict=True)`` turns red when it passes.
XFAIL: dict[str, str] = {}

#: ``fix`` of the older exporter's (``dynamo=False``) file, for the models whose plain dynamo export fails.
LEGACY_XFAIL: dict[str, str] = {}

#: Default mode (``--io keep``): INT64 execution tensors a text model keeps besides its bindings, with why.
DEFAULT_LEFT: dict[str, tuple[int, str]] = {
    # T5 is not here: its relative-position bucket casts a float log to int64 (log(0) = -inf at distance 0),
    # but every element of that branch is read only where where(is_small, …) takes it, so it is bounded
    # there and narrows (intervals/onnx.py, Guards.read_where_taken).
    "clip_text": (1, "the pooled token's index: TopK indices are int64 by the ONNX spec, so TensorRT's parser casts "
                     "its INT32 indices to INT64 once; one Cast to int32 follows"),
    "mixtral": (MIXTRAL_GATHERND, "the experts' token routing of grouped_mm_fallback's decomposition: GatherND "
                                  "indices (int64 by the ONNX spec) and the chains computing them, and index writes "
                                  "(ScatterND) whose range is not proved"),
}

#: ``--io int32`` without hints: INT64 execution tensors left (docs/narrowing.md says why), at most 2 unless
#: the ONNX spec pins them (``SPEC_PINNED``).
INT32_LEFT: dict[str, tuple[int, str]] = {
    "clip_text": DEFAULT_LEFT["clip_text"],
    "mixtral": DEFAULT_LEFT["mixtral"],
}

#: Models whose INT64 execution tensors are mostly demanded by the ONNX spec (GatherND indices and what computes
#: them) rather than left by a gap in trtready's proofs: the cap of 2 does not apply.
SPEC_PINNED = {"mixtral"}

#: ``--io int32`` takes these masks as 0/1 by assumption (stated; intervals/roles.py): the model tests the mask
#: for zero and counts its kept positions (ALiBi's (cumsum(mask) - 1) * mask), and no table bounds the count.
#: Under ``--strict`` (no assumption about valid inputs) it refuses, naming the tensor and the option; with
#: the range stated, ``--strict`` converts like any other.
INT32_ASSUMED_MASK: dict[str, tuple[str, str]] = {
    # OPT's positions, cumsum(mask) * mask - 1, index a table too (a demand of [-134, 134]); the 0/1 mask is the
    # narrower assumption and makes the demand moot (analysis.applied_demands)
    "opt": ("attention_mask:0..1", "positions are cumsum(attention_mask) * attention_mask - 1"),
    "bloom": ("attention_mask:0..1", "ALiBi positions are (cumsum(attention_mask) - 1) * attention_mask"),
    "falcon_alibi": ("attention_mask:0..1", "ALiBi positions are (cumsum(attention_mask) - 1) * attention_mask"),
}

#: Cast layers a converted model may add over the unmodified export, with why (the rule is never more).
MORE_CASTS: dict[str, tuple[int, str]] = {}

#: ``--io int32`` without hints where more than 2 INT64 execution tensors stay, with the cause in trtready;
#: the test's ``xfail(strict=True)`` turns red when it passes.
INT32_XFAIL: dict[str, str] = {}
