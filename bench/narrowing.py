"""Measure what narrowing buys in the network TensorRT-RTX's ONNX parser builds.

For each model: the unmodified ONNX export (torch.onnx, dynamo, dynamic shapes) against the output of
``trtready fix``; counts INT64 execution tensors, INT64 shape tensors, Cast layers (all, and those
converting device-side tensors). Prints a Markdown table (used in docs/narrowing.md).

    .venv/bin/python bench/narrowing.py
"""

from __future__ import annotations

import platform
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import trtready  # noqa: E402
from trtready.bounds import parse_dynamic  # noqa: E402
from trtready.engine.network import inspect_network  # noqa: E402
from trtready.export.onnx_export import translate  # noqa: E402
from trtready.load.capture import capture  # noqa: E402


def tiny_bert():
    from transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    model = BertModel(cfg).eval()
    args = (torch.randint(0, 128, (2, 16)), torch.ones(2, 16, dtype=torch.int64))
    return trtready.ModelSpec(model, args, dynamic=["input_ids:0=batch[1:8],1=seq[2:64]",
                                                    "attention_mask:0=batch[1:8],1=seq[2:64]"])


def main() -> None:
    import onnx_ir as ir

    from trtready.demo import token_model

    cases = {"demo token_model (dynamic batch×seq)": token_model(), "tiny BERT (dynamic batch×seq)": tiny_bert()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, spec in cases.items():
            bounds = parse_dynamic(spec.dynamic)
            base = Path(tmp) / "base.onnx"
            ir.save(translate(capture(spec.module, spec.args, {}, bounds), bounds), str(base))
            out = Path(tmp) / label.split()[1]
            result = trtready.fix(spec, out, target="trt-rtx")
            before, after = inspect_network(base), inspect_network(out / "model.onnx")
            rows.append((label, before, after, bool(result)))
    print(f"Machine: {platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}, "
          f"{before.library} {before.version}\n")
    print("| model | INT64 execution tensors | INT64 shape tensors | Cast layers (all) | device-side type-changing Casts | verified |")
    print("|---|---|---|---|---|---|")
    for label, b, a, ok in rows:
        print(f"| {label} | {len(b.int64_execution)} → {len(a.int64_execution)} | {b.int64_shape} → {a.int64_shape} | "
              f"{b.cast_layers} → {a.cast_layers} | {b.device_casts} → {a.device_casts} | {'exact' if ok else 'FAILED'} |")


if __name__ == "__main__":
    main()
