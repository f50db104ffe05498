"""Oracle, dynamo frontend (``--target torch-trt-dynamo``) and trtready's ``--frontend torch-trt-dynamo``
adapter, against the real ``torch_tensorrt.dynamo`` up to the engine build (``dynamo_cpu`` in conftest).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import trtready
import trtready.demo
from tests.oracle.conftest import DynamoRun, NetLayer, dynamo_compile
from trtready.audit.findings import Outcome, Prediction

TARGET = "torch-trt-dynamo"
NO_DOUBLE = "TensorRT does not support float64 (double) precision"


def predict(model: nn.Module, example: tuple[torch.Tensor, ...], **options):
    return trtready.audit(trtready.ModelSpec(model.eval(), example), target=TARGET, **options)


def prediction(report, finding_id: str) -> Prediction:
    return next(f.predictions[TARGET] for f in report.findings if f.id == finding_id)


def short(p: Prediction) -> str:
    """The prediction without its closing ``[release; facts]``."""
    return f"{p.outcome.value}: {p.message.rsplit(' [', 1)[0] if p.message.endswith(']') else p.message}"


def engines_text(run: DynamoRun) -> str:
    return "; ".join(
        f"engine {i}: " + ", ".join(f"{n} {d}" for n, d in e.inputs) + " -> " + ", ".join(f"{n} {d}" for n, d in e.outputs)
        for i, e in enumerate(run.engines)
    )


def attempt(ep, example, **options) -> str | None:
    """None when every engine built; else the error's first line."""
    try:
        dynamo_compile(ep, example, **options)
    except Exception as e:  # the library's own exception types differ by stage
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0]}"
    return None


# --- float64 ------------------------------------------------------------------------------------------
class DoubleScale(nn.Module):
    """A float64 buffer; ``to_float`` decides whether the graph output is float32 or float64."""

    def __init__(self, to_float: bool) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.register_buffer("scale", torch.full((4,), 0.1, dtype=torch.float64))
        self.to_float = to_float

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x).double() * self.scale
        return y.float() if self.to_float else y


@pytest.mark.parametrize("to_float", [True, False], ids=["float64 buffer", "float64 output"])
def test_float64_needs_truncate_double(to_float: bool, dynamo_cpu: DynamoRun, oracle) -> None:
    torch.manual_seed(0)
    m = DoubleScale(to_float).eval()
    x = torch.randn(2, 4)
    report = predict(m, (x,))
    p = prediction(report, "state:scale")
    ep = torch.export.export(m, (x,))
    plain = attempt(ep, (x,))
    dynamo_cpu.engines.clear()
    truncated = attempt(ep, (x,), truncate_double=True)
    dtypes = {d for e in dynamo_cpu.engines for _, d in e.inputs + e.outputs}
    real = (f"truncate_double=False: {plain or 'built'}; truncate_double=True: "
            f"{truncated or 'built'} ({engines_text(dynamo_cpu)})")
    agree = ("needs truncate_double" in p.message and p.outcome is not Outcome.FINE
             and plain is not None and NO_DOUBLE in plain and truncated is None)
    case = "float64 buffer, float32 output" if to_float else "float64 buffer and float64 output"
    oracle(case, TARGET, short(p), real, agree)
    assert agree
    assert dynamo_cpu.engines and dtypes == {"FLOAT"}  # no DOUBLE binding survives truncation
    if not to_float:  # the graph output is a finding of its own, with the same prediction
        out = next(f for f in report.findings if f.role.value == "output")
        assert "needs truncate_double" in out.predictions[TARGET].message


def test_dryrun_reports_coverage_but_not_the_float64_failure(dynamo_cpu: DynamoRun) -> None:
    m = DoubleScale(to_float=False).eval()
    x = torch.randn(2, 4)
    ep = torch.export.export(m, (x,))
    assert attempt(ep, (x,), dryrun=True) is None  # dryrun passes ...
    assert dynamo_cpu.coverage is not None and dynamo_cpu.coverage.total_ops_in_graph > 0 and not dynamo_cpu.engines
    assert NO_DOUBLE in attempt(ep, (x,))  # ... the real conversion does not


# --- int64 index math -------------------------------------------------------------------------------
class TokensAndPositions(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tok = nn.Embedding(10, 4)
        self.pos = nn.Embedding(16, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.tok(ids) + self.pos(positions)


class MaskPositions(nn.Module):
    """Positions derived from the attention mask, the way padded batches count them."""

    def __init__(self) -> None:
        super().__init__()
        self.tok = nn.Embedding(10, 4)
        self.pos = nn.Embedding(16, 4)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        return self.tok(ids) + self.pos(positions)


def test_embedding_with_arange_is_native_int64(dynamo_cpu: DynamoRun, oracle) -> None:
    torch.manual_seed(0)
    m = TokensAndPositions().eval()
    ids = torch.randint(0, 10, (2, 5))
    report = predict(m, (ids,))
    p_ids, p_arange = prediction(report, "fx:ids"), prediction(report, "fx:arange")
    ep = torch.export.export(m, (ids,))
    error = attempt(ep, (ids,), dryrun=True) or attempt(ep, (ids,))
    cov = dynamo_cpu.coverage
    agree = (p_ids.outcome is Outcome.FINE and p_arange.outcome is Outcome.FINE and error is None
             and not cov.unsupported_ops and ("ids", "INT64") in dynamo_cpu.engines[0].inputs)
    oracle("int64 token ids + arange positions into nn.Embedding", TARGET,
           f"ids {short(p_ids)}; arange {short(p_arange)}",
           f"{error or 'built'}: {cov.supported_ops_in_graph}/{cov.total_ops_in_graph} ops in TensorRT; "
           f"{engines_text(dynamo_cpu)}", agree)
    assert agree


def test_mask_cumsum_positions_run_in_pytorch(dynamo_cpu: DynamoRun, oracle) -> None:
    torch.manual_seed(0)
    m = MaskPositions().eval()
    ids, mask = torch.randint(0, 10, (2, 5)), torch.ones(2, 5, dtype=torch.int64)
    report = predict(m, (ids, mask))
    p = prediction(report, "fx:cumsum")
    ep = torch.export.export(m, (ids, mask))
    error = attempt(ep, (ids, mask))
    cov = dynamo_cpu.coverage
    in_torch = sorted(str(k).removeprefix("torch.ops.") for k in cov.unsupported_ops)
    agree = (p.outcome is Outcome.CAST and "runs in PyTorch" in p.message and error is None
             and in_torch == ["aten.cumsum.default"] and dynamo_cpu.engines)
    oracle("attention-mask positions via cumsum", TARGET, short(p),
           f"{error or 'built'}: runs in PyTorch: {', '.join(in_torch)}; "
           f"{cov.supported_ops_in_graph}/{cov.total_ops_in_graph} ops in TensorRT; {engines_text(dynamo_cpu)}", agree)
    assert agree
    # only cumsum leaves TensorRT; the positions' unproved index into the table is a finding of its own
    others = {f.id: f.predictions[TARGET].outcome for f in report.findings if f.id != "fx:cumsum" and not f.is_index}
    assert all(o is Outcome.FINE for o in others.values()), others


# --- INT64 operands the converters cast to INT32 ------------------------------------------------------
_CONVERTER = re.compile(r"\]-\[\w+_ops\.([\w.]+)\]-\[")  # "[SELECT]-[aten_ops.where.self]-[/where_select]"
HASHES = (2**40, 2**40 + 3)  # hash-like values: beyond int32
WRAPPING = (2**32, 2**32 + 3)  # indices that an int32 cast turns into 0..3, valid rows of a 4-row axis


def narrowing_casts(run: DynamoRun) -> list[str]:
    """Each INT64 → INT32 Cast layer in the networks built, named by the layer that reads its result, the
    input slot it feeds and that layer's converter: ``SELECT[1] where.self``."""
    out = []
    for engine in run.engines:
        readers: dict[str, list[tuple[int, NetLayer]]] = {}
        for layer in engine.layers:
            for slot, (name, _) in enumerate(layer.inputs):
                readers.setdefault(name, []).append((slot, layer))
        for layer in engine.layers:
            if layer.type == "CAST" and [d for _, d in layer.inputs] == ["INT64"] and \
                    [d for _, d in layer.outputs] == ["INT32"]:
                for slot, reader in readers.get(layer.outputs[0][0], []):
                    m = _CONVERTER.search(reader.name)
                    out.append(f"{reader.type}[{slot}] {m.group(1) if m else '?'}")
    return out


def index_reads(run: DynamoRun) -> list[str]:
    """The dtype of each GATHER/SCATTER layer's index input (slot 1), with its converter."""
    out = []
    for layer in (layer for e in run.engines for layer in e.layers if layer.type in ("GATHER", "SCATTER")):
        m = _CONVERTER.search(layer.name)
        if m and len(layer.inputs) > 1:
            out.append(f"{layer.type} {m.group(1)} index {layer.inputs[1][1]}")
    return out


class HashWhere(nn.Module):
    """A hash-like id kept where a mask is set: ``where`` with two int64 branches."""

    def forward(self, mask: torch.Tensor, hashes: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, hashes, torch.zeros_like(hashes))


class HashMaskedFill(nn.Module):
    def forward(self, mask: torch.Tensor, hashes: torch.Tensor) -> torch.Tensor:
        return hashes.masked_fill(mask, 0)


class Gather(nn.Module):
    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return torch.gather(x, 1, index)


class Scatter(nn.Module):
    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return x.scatter(1, index, torch.ones_like(x))


class ScatterAdd(nn.Module):
    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return x.scatter_add(1, index, torch.ones_like(x))


class IndexPut(nn.Module):
    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        y[index] = 1.0
        return y


class IndexCopy(nn.Module):
    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return x.index_copy(0, index, x[:2])


class IndexSelect(nn.Module):
    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return x.index_select(1, index[0])


def _mask_and(values: tuple[int, int]) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    v = torch.randint(values[0], values[1] + 1, (2, 4))
    return v > values[0] + 1, v


def _rows_and(values: tuple[int, int], shape: tuple[int, ...] = (4, 4)) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    return torch.randn(4, 4), torch.randint(values[0], values[1] + 1, shape)


def _rows_and_two(values: tuple[int, int]) -> tuple[torch.Tensor, ...]:
    return _rows_and(values, (2,))


# (case, module, inputs, int64 input, its values, predicted outcome, the Cast's reader the network must show)
OPERAND_CASES = [
    ("where, int64 hashes beyond int32", HashWhere(), _mask_and, "hashes", HASHES, Outcome.CLAMP,
     "SELECT[1] where.self"),
    ("where, int64 values proved in int32", HashWhere(), _mask_and, "hashes", (0, 3), Outcome.CAST,
     "SELECT[1] where.self"),
    ("masked_fill on int64 hashes beyond int32", HashMaskedFill(), _mask_and, "hashes", HASHES, Outcome.CLAMP,
     "SELECT[2] where.self"),
    ("gather, int64 index beyond int32", Gather(), _rows_and, "index", WRAPPING, Outcome.CLAMP,
     "GATHER[1] gather.default"),
    ("scatter, int64 index beyond int32", Scatter(), _rows_and, "index", WRAPPING, Outcome.CLAMP,
     "SCATTER[1] scatter.src"),
    ("scatter_add, int64 index beyond int32", ScatterAdd(), _rows_and, "index", WRAPPING, Outcome.CLAMP,
     "SCATTER[1] scatter.src"),
    ("index_put (y[index] = v), int64 index beyond int32", IndexPut(), _rows_and_two, "index", WRAPPING, Outcome.CLAMP,
     "SCATTER[1] index_put.default"),
    ("index_copy, int64 index beyond int32", IndexCopy(), _rows_and_two, "index", WRAPPING, Outcome.CLAMP,
     "SCATTER[1] index_put.default"),
]


@pytest.mark.parametrize(("case", "module", "inputs", "name", "values", "outcome", "reader"), OPERAND_CASES,
                         ids=[c[0] for c in OPERAND_CASES])
def test_converter_casts_int64_operand_to_int32(case: str, module: nn.Module, inputs, name: str,
                                                values: tuple[int, int], outcome: Outcome, reader: str,
                                                dynamo_cpu: DynamoRun, oracle) -> None:
    example = inputs(values)
    report = predict(module, example, input_range=[f"{name}:{values[0]}..{values[1]}"])
    p = prediction(report, f"fx:{name}")
    ep = torch.export.export(module.eval(), example)
    error = attempt(ep, example)
    casts = narrowing_casts(dynamo_cpu)
    op = reader.split()[1].split(".")[0]
    agree = (error is None and p.outcome is outcome and reader in casts
             and "cast to INT32" in p.message and "no range check" in p.message) if outcome is Outcome.CLAMP else \
        (error is None and p.outcome is outcome and reader in casts and "exact" in p.message)
    oracle(f"{case} ({name} in [{values[0]}, {values[1]}])", TARGET, short(p),
           f"{error or 'built'}: INT64→INT32 Cast layers read by {', '.join(casts) or 'none'}; "
           f"{engines_text(dynamo_cpu)}", agree)
    assert agree, (p, casts, error)
    assert op in p.message or type(module).__name__ in ("HashMaskedFill", "IndexCopy", "ScatterAdd")


def test_index_select_keeps_int64_indices(dynamo_cpu: DynamoRun, oracle) -> None:
    """index_select (and index, embedding) hand INT64 indices to TensorRT's gather layer: no converter cast."""
    module, example = IndexSelect(), _rows_and(WRAPPING)
    report = predict(module, example, input_range=[f"index:{WRAPPING[0]}..{WRAPPING[1]}"])
    p = prediction(report, "fx:select")  # index[0]: the row of indices index_select reads
    ep = torch.export.export(module.eval(), example)
    error = attempt(ep, example)
    casts, reads = narrowing_casts(dynamo_cpu), index_reads(dynamo_cpu)
    agree = error is None and p.outcome is Outcome.FINE and not casts and \
        reads == ["GATHER index_select.default index INT64"]
    oracle(f"index_select, int64 index beyond int32 (index in [{WRAPPING[0]}, {WRAPPING[1]}])", TARGET, short(p),
           f"{error or 'built'}: no INT64→INT32 Cast layer; {', '.join(reads)}; {engines_text(dynamo_cpu)}", agree)
    assert agree, (p, casts, reads, error)


def test_scatter_of_a_python_float_needs_truncate_double(dynamo_cpu: DynamoRun, oracle) -> None:
    """``scatter.value`` fills with ``src * np.ones(...)``, a float64 array: a constant TensorRT refuses."""

    class ScatterValue(nn.Module):
        def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            return x.scatter(1, index, 1.0)

    module, example = ScatterValue(), _rows_and((0, 3))
    report = predict(module, example, input_range=["index:0..3"])
    ep = torch.export.export(module.eval(), example)
    plain, truncated = attempt(ep, example), attempt(ep, example, truncate_double=True)
    oracle("scatter of a Python float (scatter.value)", TARGET, report.verdict(),
           f"truncate_double=False: {plain or 'built'}; truncate_double=True: {truncated or 'built'}",
           agree=report.ready == (plain is None),
           gap="the float64 constant is made inside the scatter converter (impl/select.py scatter: src * "
               "np.ones(...)); the program has no float64 tensor to flag. trtready's own adapter sets "
               "truncate_double=True")
    assert report.ready and plain is not None and NO_DOUBLE in plain and truncated is None


# --- Python int operands outside int32 -----------------------------------------------------------------
OVERFLOW = "value cannot be converted to type int32 without overflow"


class HashOffset(nn.Module):
    """A hash offset beyond int32, as a Python int (``ids + 2**40``) or as an int64 buffer."""

    def __init__(self, as_buffer: bool) -> None:
        super().__init__()
        self.as_buffer = as_buffer
        self.register_buffer("offset", torch.tensor(2**40))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return ids + (self.offset if self.as_buffer else 2**40)


@pytest.mark.parametrize("as_buffer", [False, True], ids=["Python int", "int64 buffer"])
def test_python_int_beyond_int32_fails_the_conversion(as_buffer: bool, dynamo_cpu: DynamoRun, oracle) -> None:
    torch.manual_seed(0)
    m, ids = HashOffset(as_buffer).eval(), torch.randint(0, 10, (2, 4))
    report = predict(m, (ids,), input_range=["ids:0..9"])
    p = prediction(report, "fx:add")
    error = attempt(torch.export.export(m, (ids,)), (ids,))
    if as_buffer:
        agree = p.outcome is Outcome.FINE and error is None and ("output0", "INT64") in dynamo_cpu.engines[0].outputs
    else:
        agree = p.outcome is Outcome.ERROR and OVERFLOW in p.message and error is not None and OVERFLOW in error
    what = "an int64 buffer of 2**40" if as_buffer else "the Python int 2**40"
    real = "; ".join(filter(None, [error or "built", engines_text(dynamo_cpu)]))
    oracle(f"int64 ids + {what}", TARGET, short(p), real, agree)
    assert agree, (p, error)


def test_demo_hash_model_fails_the_conversion(dynamo_cpu: DynamoRun, oracle) -> None:
    """The demo's feature hashing, ``(ids * 2654435761) % 2**40``: both Python ints are beyond int32."""
    spec = trtready.demo.hash_model()
    report = trtready.audit(spec, target=TARGET)
    p = prediction(report, "fx:mul")
    error = attempt(torch.export.export(spec.module.eval(), spec.args), spec.args)
    agree = (p.outcome is Outcome.ERROR and "Python int 2654435761" in p.message and not report.ready
             and error is not None and OVERFLOW in error)
    oracle("demo hash_model: (ids * 2654435761) % 2**40", TARGET, f"mul {short(p)}", error or "built", agree)
    assert agree, (p, error)


def test_python_int_beyond_int32_in_a_comparison_is_not_flagged(dynamo_cpu: DynamoRun, oracle) -> None:
    """``ids == 2**40`` fails the same way, but its result is bool: no 64-bit finding carries the scalar."""

    class Match(nn.Module):
        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return (ids == 2**40).to(torch.int32)

    ids = torch.randint(0, 10, (2, 4))
    report = predict(Match(), (ids,), input_range=["ids:0..9"])
    p = prediction(report, "fx:ids")
    error = attempt(torch.export.export(Match().eval(), (ids,)), (ids,))
    flagged = not report.ready
    oracle("int64 ids == the Python int 2**40", TARGET, f"{report.verdict()}; ids {short(p)}", error or "built",
           agree=flagged == (error is not None),
           gap="the comparison's result is bool and the Python int is no tensor: no 64-bit finding carries it")
    assert error is not None and OVERFLOW in error and not flagged  # the gap is real: fix it, then move the row


# --- the adapter (convert --frontend torch-trt-dynamo) ----------------------------------------------
def test_adapter_options_are_real_parameters() -> None:
    import torch_tensorrt

    from trtready.adapters.torch_tensorrt import dynamo_options, unapplied_options
    from trtready.bounds import parse_dynamic

    compile_fn = torch_tensorrt.dynamo.compile
    opts = dynamo_options(compile_fn, torch_tensorrt, {"input_ids": torch.zeros(2, 16, dtype=torch.int64)},
                          parse_dynamic(["input_ids:1=seq[1:64]"]), ["logits"])
    params = inspect.signature(compile_fn).parameters
    assert set(opts) <= {n for n, p in params.items() if p.kind is not p.VAR_KEYWORD}
    (inp,) = opts["arg_inputs"]
    assert isinstance(inp, torch_tensorrt.Input) and inp.dtype.to(torch.dtype) == torch.int64
    assert inp.name == "input_ids" and inp.shape == {"min_shape": (2, 1), "opt_shape": (2, 16), "max_shape": (2, 64)}
    assert opts["truncate_double"] is True
    settings = torch_tensorrt.dynamo.CompilationSettings(truncate_double=opts["truncate_double"])
    assert settings.truncate_double is True
    assert unapplied_options(compile_fn, ["logits"]) and not unapplied_options(compile_fn, None)


class TokenClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tok = nn.Embedding(32, 8)
        self.pos = nn.Embedding(16, 8)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 3)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        h = self.norm(self.tok(input_ids) + self.pos(positions))
        return self.head(torch.relu(h)).argmax(-1)


def test_convert_with_the_dynamo_frontend_builds(tmp_path: Path, dynamo_cpu: DynamoRun, oracle) -> None:
    from trtready.bounds import parse_dynamic
    from trtready.fix import FixRequest
    from trtready.load import load_model
    from trtready.pipeline import convert
    from trtready.plan import PlanOptions
    from trtready.targets import resolve_target

    torch.manual_seed(0)
    ids = torch.randint(0, 32, (2, 8))
    spec = trtready.ModelSpec(TokenClassifier().eval(), (ids,))
    report = trtready.audit(spec, target=TARGET)
    req = FixRequest(tmp_path / "out", resolve_target(TARGET), PlanOptions(), parse_dynamic([]),
                     output_names=["labels"])
    result = convert(load_model(spec), req, frontend="torch-trt-dynamo")
    assert result and result.adapter is not None and dynamo_cpu.engines
    engine = dynamo_cpu.engines[0]
    trt_modules = [m for m in result.adapter.modules() if hasattr(m, "input_binding_names")]
    names = (trt_modules[0].input_binding_names, trt_modules[0].output_binding_names)
    agree = report.ready and engine.inputs == [("input_ids", "INT64")] and names == (["input_ids"], ["output0"])
    oracle("convert --frontend torch-trt-dynamo (trtready's adapter)", TARGET,
           f"{report.verdict()}", f"built: {engines_text(dynamo_cpu)}; bindings {names[0]} -> {names[1]}", agree)
    assert agree
    assert any("--output-names not applied" in n for n in result.notes)
