"""The TensorRT-RTX op facts in ``targets/ops.py``, measured again with the installed ``tensorrt_rtx``:
one single-node ONNX model per entry (opset 20) must fail to parse or build, the pooling windows must
stop exactly at the recorded limits, and what the rewrites produce (Where, GlobalAveragePool,
Reshape + ReduceMean) must build. Skipped when tensorrt_rtx is not installed."""

from __future__ import annotations

import math

import onnx_ir as ir
import pytest

from trtready.errors import BadInputError
from trtready.targets import PROFILES
from trtready.targets.ops import TRT_RTX_POOL_WINDOW, TRT_RTX_UNSUPPORTED

pytest.importorskip("tensorrt_rtx")

HEAD = '<ir_version: 10, opset_import: ["" : 20]>\n'

# One graph per TRT_RTX_UNSUPPORTED entry (the key, or its op for the ":variant" forms).
GRAPHS: dict[str, str] = {
    "NonZero": "g (bool[2, 3] x) => (int64[2, N] y) { y = NonZero(x) }",
    "DFT": "g (float[1, 8, 1] x) => (float[1, 8, 2] y) { y = DFT(x) }",
    "ScatterND:reduction": "g (float[4] x, int64[2, 1] i, float[2] u) => (float[4] y) "
                           "{ y = ScatterND<reduction=\"add\">(x, i, u) }",
    "ScatterElements:reduction": "g (float[4, 3] x, int64[2, 3] i, float[2, 3] u) => (float[4, 3] y) "
                                 "{ y = ScatterElements<reduction=\"max\">(x, i, u) }",
    "MaxPool:indices": "g (float[1, 1, 4, 4] x) => (float[1, 1, 2, 2] y, int64[1, 1, 2, 2] i) "
                       "{ y, i = MaxPool<kernel_shape=[2, 2], strides=[2, 2]>(x) }",
    "NonMaxSuppression": "g (float[1, 4, 4] b, float[1, 1, 4] s) => (int64[N, 3] y) <int64[1] m = {2}> "
                         "{ y = NonMaxSuppression(b, s, m) }",
    "Unique": "g (float[6] x) => (float[N] y) { y = Unique<sorted=1>(x) }",
    "Compress": "g (float[6] x, bool[6] c) => (float[N] y) { y = Compress<axis=0>(x, c) }",
    "BitwiseAnd": "g (int32[6] a, int32[6] b) => (int32[6] y) { y = BitwiseAnd(a, b) }",
    "BitwiseOr": "g (int32[6] a, int32[6] b) => (int32[6] y) { y = BitwiseOr(a, b) }",
    "BitwiseXor": "g (int32[6] a, int32[6] b) => (int32[6] y) { y = BitwiseXor(a, b) }",
    "BitwiseNot": "g (int32[6] a) => (int32[6] y) { y = BitwiseNot(a) }",
    "BitShift": "g (uint8[6] a, uint8[6] b) => (uint8[6] y) { y = BitShift<direction=\"LEFT\">(a, b) }",
    "Det": "g (float[2, 3, 3] x) => (float[2] y) { y = Det(x) }",
    "Bernoulli": "g (float[2, 3] x) => (float[2, 3] y) { y = Bernoulli(x) }",
    "Multinomial": "g (float[2, 3] x) => (int32[2, 2] y) { y = Multinomial<sample_size=2>(x) }",
    "MaxUnpool": "g (float[1, 1, 2, 2] x, int64[1, 1, 2, 2] i) => (float[1, 1, 4, 4] y) "
                 "{ y = MaxUnpool<kernel_shape=[2, 2], strides=[2, 2]>(x, i) }",
    "MaxRoiPool": "g (float[1, 1, 8, 8] x, float[2, 5] r) => (float[2, 1, 2, 2] y) "
                  "{ y = MaxRoiPool<pooled_shape=[2, 2]>(x, r) }",
    "Col2Im": "g (float[1, 4, 4] x) => (float[1, 1, 3, 3] y) <int64[2] s = {3, 3}, int64[2] b = {2, 2}> "
              "{ y = Col2Im(x, s, b) }",
    "AffineGrid": "g (float[1, 2, 3] t) => (float[1, 4, 4, 2] y) <int64[4] s = {1, 1, 4, 4}> "
                  "{ y = AffineGrid(t, s) }",
    "CenterCropPad": "g (float[4, 4] x) => (float[2, 2] y) <int64[2] s = {2, 2}> { y = CenterCropPad(x, s) }",
    "MatMulInteger": "g (uint8[2, 3] a, uint8[3, 2] b) => (int32[2, 2] y) { y = MatMulInteger(a, b) }",
    "ConvInteger": "g (uint8[1, 1, 4, 4] x, uint8[1, 1, 2, 2] w) => (int32[1, 1, 3, 3] y) { y = ConvInteger(x, w) }",
    "QLinearConv": "g (uint8[1, 1, 4, 4] x, uint8[1, 1, 2, 2] w) => (uint8[1, 1, 3, 3] y) "
                   "<float s = {0.1}, uint8 z = {0}> { y = QLinearConv(x, s, z, w, s, z, s, z) }",
    "QLinearMatMul": "g (uint8[2, 3] a, uint8[3, 2] b) => (uint8[2, 2] y) <float s = {0.1}, uint8 z = {0}> "
                     "{ y = QLinearMatMul(a, s, z, b, s, z, s, z) }",
    "DynamicQuantizeLinear": "g (float[4] x) => (uint8[4] y, float s, uint8 z) { y, s, z = DynamicQuantizeLinear(x) }",
    "NegativeLogLikelihoodLoss": "g (float[2, 3] x, int64[2] t) => (float y) { y = NegativeLogLikelihoodLoss(x, t) }",
    "SoftmaxCrossEntropyLoss": "g (float[2, 3] x, int64[2] t) => (float y) { y = SoftmaxCrossEntropyLoss(x, t) }",
    "MelWeightMatrix": "g (int64 n) => (float[9, 8] y) <int64 d = {16}, int64 r = {16000}, float lo = {0.0}, "
                       "float hi = {8000.0}> { y = MelWeightMatrix(n, d, r, lo, hi) }",
    "TfIdfVectorizer": "g (int32[6] x) => (float[1] y) { y = TfIdfVectorizer<mode=\"TF\", min_gram_length=1, "
                       "max_gram_length=1, max_skip_count=0, ngram_counts=[0], ngram_indexes=[0], pool_int64s=[1]>(x) }",
    "SequenceConstruct": "g (float[2] a, float[2] b) => (float[2] y) <int64 p = {0}> "
                         "{ s = SequenceConstruct(a, b)\n y = SequenceAt(s, p) }",
    "SequenceEmpty": "g (float[2] a) => (int64 y) { s = SequenceEmpty()\n y = SequenceLength(s) }",
    "SequenceAt": "g (float[2] a, float[2] b) => (float[2] y) <int64 p = {0}> "
                  "{ s = SequenceConstruct(a, b)\n y = SequenceAt(s, p) }",
    "SplitToSequence": "g (float[4] x) => (float[1] y) <int64 p = {0}> { s = SplitToSequence(x)\n y = SequenceAt(s, p) }",
    "ConcatFromSequence": "g (float[2] a, float[2] b) => (float[4] y) "
                          "{ s = SequenceConstruct(a, b)\n y = ConcatFromSequence<axis=0>(s) }",
    "Optional": "g (float[2] x) => (bool y) { o = Optional(x)\n y = OptionalHasElement(o) }",
    "StringNormalizer": "g (string[3] x) => (string[3] y) { y = StringNormalizer(x) }",
}

# What the rewrites write instead: it must build.
BUILDS: dict[str, str] = {
    "Where (MaskedAssignmentPass)": "g (bool[2, 5, 4] m, float[2, 5, 4] x) => (float[2, 5, 4] y) <float v = {0.0}> "
                                    "{ y = Where(m, v, x) }",
    "GlobalAveragePool (PoolToReducePass)": "g (float[2, 320, 1, 1] x) => (float[2, 320, 1, 1] y) "
                                            "{ y = GlobalAveragePool(x) }",
    "GlobalMaxPool on 2000×2000": "g (float[1, 3, 2000, 2000] x) => (float[1, 3, 1, 1] y) { y = GlobalMaxPool(x) }",
    "Reshape + ReduceMean (PoolToReducePass)": "g (float[1, 2, 800, 800] x) => (float[1, 2, 2, 2] y) "
                                               "<int64[6] s = {0, 0, 2, 400, 2, 400}, int64[2] a = {3, 5}> "
                                               "{ b = Reshape(x, s)\n y = ReduceMean<keepdims=0>(b, a) }",
}


def _builds(graph: str) -> bool:
    from trtready.engine.network import parse_network

    model = ir.from_onnx_text(HEAD + graph)
    data = ir.serde.serialize_model(model).SerializeToString()
    try:
        _trt, builder, network = parse_network(data, "tensorrt_rtx")
    except BadInputError:
        return False
    return builder.build_serialized_network(network, builder.create_builder_config()) is not None


def test_every_trt_rtx_entry_is_measured_here() -> None:
    assert set(GRAPHS) == set(TRT_RTX_UNSUPPORTED)
    assert PROFILES["trt-rtx"].unsupported_ops is TRT_RTX_UNSUPPORTED


@pytest.mark.parametrize("key", sorted(GRAPHS))
def test_trt_rtx_cannot_build_it(key: str) -> None:
    assert not _builds(GRAPHS[key])


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_what_the_rewrites_write_builds(name: str) -> None:
    assert _builds(BUILDS[name])


def _pool(op: str, kernel: list[int]) -> str:
    dims = ", ".join(map(str, kernel))
    out = ", ".join("1" for _ in kernel)
    return (f"g (float[1, 1, {dims}] x) => (float[1, 1, {out}] y) "
            f"{{ y = {op}<kernel_shape=[{dims}], strides=[{', '.join('1' for _ in kernel)}]>(x) }}")


@pytest.mark.parametrize("op", ["AveragePool", "MaxPool", "LpPool"])
@pytest.mark.parametrize("spatial", [1, 2, 3])
def test_pooling_windows_stop_at_the_recorded_limit(op: str, spatial: int) -> None:
    """Largest window that builds: limit - 1 elements; at the limit the parser rejects it."""
    if (op, spatial) == ("LpPool", 1):
        assert not _builds(_pool(op, [2]))  # a 1-D LpPool does not build at any size (torch never writes one)
        return
    limit = TRT_RTX_POOL_WINDOW[spatial]
    # kernels with exactly limit - 1 and limit elements, each dim at most 100 000 (the stride limit)
    shapes = {1: ([99_999], [100_000]), 2: ([99_999, 1], [400, 250]), 3: ([3, 235, 44_855], [2, 194, 81_502])}
    below, at = shapes[spatial]
    assert (math.prod(below), math.prod(at)) == (limit - 1, limit)
    assert _builds(_pool(op, below)) and not _builds(_pool(op, at))
