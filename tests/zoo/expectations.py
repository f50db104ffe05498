"""What each zoo model does under ``trtready convert`` today, and why: one table for the tests and docs.

``UPSTREAM``: models an upstream library cannot take — the same step fails without trtready
(``tests/zoo/upstream.py``; measured by ``bench/zoo.py``). ``convert`` must fail with that library's
reason; ``fix`` of the older exporter's file is exercised instead.

``XFAIL``: models that fail today because of trtready, with the cause and where it lies in trtready's
code. The tests mark them ``xfail(strict=True)``: a model that starts to pass turns its test red, and
its entry is removed with the fix. Each reason names the first failure and, after "then", what the
probe ``tests.zoo.positional`` (``bench/zoo.py --probe``) shows behind it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Upstream:
    """A failure upstream of trtready: the step that fails without trtready too, and its reason."""

    step: str  # torch.export | torch.onnx | onnxruntime | tensorrt
    reason: str  # a fragment of the library's own message, which convert must repeat


UPSTREAM: dict[str, Upstream] = {
    # torch.onnx's decomposition of a transpose-then-view (T5's attention output, Swin's window merge)
    # under dynamic shapes; the older exporter takes both.
    "t5_encoder": Upstream("torch.onnx", "Cannot view a tensor with shape"),
    "swin": Upstream("torch.onnx", "Cannot view a tensor with shape"),
    # transformers pools EfficientNet's features with nn.AvgPool2d(hidden_dim, ceil_mode=True): a 320×320
    # window here (1280×1280 in B0), past TensorRT's kernel-volume limit; the parser rejects the node.
    "efficientnet": Upstream("tensorrt", "node_avg_pool2d"),
}

KWARGS = ("keyword inputs dropped by verification: verify/inputs.py torch_input_specs() pairs "
          "graph_signature.user_inputs with the positional args only (kwargs ignored), and "
          "verify/runners.py TorchRunner.run() calls module(*args) → \"no value for input 'input_ids'\" (or "
          "'pixel_values', 'input_features')")
CAUSAL = ("then verification fails (exit 1, logits max abs 0.03–0.3 in ONNX Runtime): fx_input_roles() "
          "(intervals/roles.py) recognises only aten.embedding indices, so attention_mask is 'unknown' and "
          "verify/inputs.py generate() fills it with 0..9; where position 0 draws 0, query row 0 has every key "
          "masked, and the unmodified export differs from PyTorch there the same way (verify/compare.py does "
          "not judge degenerate rows)")
TO_ASSERT = ("RobertaEmbeddings reads self.token_type_ids.to(...), which leaves aten._assert_tensor_metadata"
             "(dtype=int64) in the program; the state decision narrows that buffer to int32 and "
             "fix/torch_fix.py _narrow_program() → load/capture.py capture() re-exports → \"internal error: "
             "AssertionError: Tensor dtype mismatch! Expected: torch.int64, Got: torch.int32\"")
INTERNAL = ("the upstream torch.onnx failure is reported as \"trtready: internal error: ConversionError: Failed "
            "to decompose the FX graph …\" (ANSI escapes included) without torch.onnx's reason: "
            "export/onnx_export.py translate() lets torch.onnx's exception through and cli/main.py run_verb() "
            "prints any non-TrtReadyError as an internal error")

XFAIL: dict[str, str] = {
    "bert": KWARGS,
    "roberta": f"{TO_ASSERT}; then {KWARGS}",
    "distilbert": KWARGS,
    "albert": KWARGS,
    "electra": KWARGS,
    "deberta_v2": KWARGS,
    "gpt2": f"{KWARGS}; {CAUSAL}",
    "llama": f"{KWARGS}; {CAUSAL}",
    "qwen2": f"{KWARGS}; {CAUSAL}",
    "mistral": f"{KWARGS}; {CAUSAL}",
    "phi": f"{KWARGS}; {CAUSAL}",
    "gpt_neox": f"{KWARGS}; {CAUSAL}",
    "t5_encoder": INTERNAL,
    "bart_encoder": KWARGS,
    "whisper_encoder": KWARGS,
    "vit": KWARGS,
    "swin": INTERNAL,
    "convnext": KWARGS,
    "resnet": KWARGS,
    "mobilenet_v2": KWARGS,
    "efficientnet": f"{KWARGS} (before the upstream TensorRT failure can show)",
}

#: ``convert --no-build`` where TensorRT rejects the model: everything before the build must work.
NO_BUILD_XFAIL: dict[str, str] = {"efficientnet": KWARGS}

#: ``fix`` of the older exporter's file, for the upstream failures (all pass today).
LEGACY_XFAIL: dict[str, str] = {}

CONSOLE_SCRIPT = ("the current folder is not importable for specs unless the interpreter put it on sys.path: "
                  "load/torch_side.py load_spec() calls importlib.import_module() as is, so the `trtready` "
                  "console script says \"cannot import module 'tests.zoo.models' (No module named 'tests')\"")
