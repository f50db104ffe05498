"""Built-in demo models, each a real 64-bit failure pattern (``trtready.demo:NAME``).

Weights are random (seeded): nothing is downloaded. Each factory returns a :class:`ModelSpec`.
"""

from __future__ import annotations

from trtready.load.spec import ModelSpec

DEMOS: dict[str, str] = {
    "bn_cnn": "nested BatchNorm CNN: int64 num_batches_tracked in every BN (Torch-TRT TS error as reported)",
    "token_model": "Embedding + torch.arange positions + argmax: int64 inputs, index math and outputs",
    "float64_buffer": "float64 normalisation buffers used in forward: silent float32 rounding in TensorRT",
    "hash_model": "feature hashing with a 2**40 modulus: int64 arithmetic beyond int32 (TensorRT 8 clamps)",
}


def bn_cnn() -> ModelSpec:
    import torch

    from trtready.demo.models import BnCnn

    torch.manual_seed(0)
    model = BnCnn().eval()
    return ModelSpec(model, (torch.randn(2, 3, 32, 32),), dynamic=["x:0=batch[1:16]"])


def token_model() -> ModelSpec:
    import torch

    from trtready.demo.models import TokenModel

    torch.manual_seed(0)
    model = TokenModel().eval()
    ids = torch.randint(0, model.vocab, (2, 16))
    return ModelSpec(model, (ids,), dynamic=["input_ids:0=batch[1:8],1=seq[1:64]"])


def float64_buffer() -> ModelSpec:
    import torch

    from trtready.demo.models import Float64Norm

    torch.manual_seed(0)
    return ModelSpec(Float64Norm().eval(), (torch.randn(4, 8),))


def hash_model() -> ModelSpec:
    import torch

    from trtready.demo.models import HashEmbedding

    torch.manual_seed(0)
    model = HashEmbedding().eval()
    ids = torch.randint(0, 2**31 - 1, (2, 12), dtype=torch.int64)
    return ModelSpec(model, (ids,), input_ranges=["ids:0..2147483646"])
