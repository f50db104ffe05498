"""State narrowing on nested modules; TorchScript trace without int64; original checkpoints load."""

from __future__ import annotations

import warnings

import pytest
import torch

from trtready.audit.state import audit_state
from trtready.demo.models import BnCnn
from trtready.load.state import entries_from_module
from trtready.passes.narrow_state import narrow_module_state
from trtready.plan.state_plan import plan_state
from trtready.plan import Action, PlanOptions
from trtready.targets import PROFILES


def _narrowed(m: torch.nn.Module, target: str = "torch-trt-ts", **opts):
    decisions = plan_state(audit_state(entries_from_module(m)), PROFILES[target], PlanOptions(**opts))
    return narrow_module_state(m, decisions), decisions


def test_nested_buffers_are_narrowed_on_their_owner_and_input_untouched() -> None:
    m = BnCnn().eval()
    narrowed, decisions = _narrowed(m)
    assert all(d.action is Action.NARROW for d in decisions) and len(decisions) == 5
    assert narrowed.layer1[0].bn1.num_batches_tracked.dtype == torch.int32
    assert m.layer1[0].bn1.num_batches_tracked.dtype == torch.int64  # a copy was narrowed


def test_traced_narrowed_module_has_no_int64_buffers() -> None:
    narrowed, _ = _narrowed(BnCnn().eval())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(narrowed, (torch.randn(1, 3, 8, 8),))
    assert not [n for n, b in traced.named_buffers() if b.dtype == torch.int64]
    assert any(b.dtype == torch.int32 for _, b in traced.named_buffers())


def test_original_int64_checkpoint_loads_into_narrowed_module() -> None:
    m = BnCnn()
    m.train()
    m(torch.randn(2, 3, 8, 8))  # num_batches_tracked becomes 1
    ckpt = m.state_dict()
    narrowed, _ = _narrowed(BnCnn().eval())
    narrowed.load_state_dict(ckpt)
    buf = narrowed.layer1[0].bn1.num_batches_tracked
    assert buf.dtype == torch.int32 and int(buf) == 1
    narrowed.load_state_dict(ckpt, assign=True)  # documented: assign brings int64 back
    assert narrowed.layer1[0].bn1.num_batches_tracked.dtype == torch.int64


def test_int64_beyond_int32_is_kept_or_refused_by_target() -> None:
    m = torch.nn.Module()
    m.register_buffer("h", torch.tensor([2**40]))
    _, d = _narrowed(m, target="trt-rtx")
    assert d[0].action is Action.KEEP and "1099511627776" in d[0].reason
    _, d = _narrowed(m, target="trt8")
    assert d[0].action is Action.REFUSE


def test_float64_underflow_refused_unless_allowed() -> None:
    m = torch.nn.Module()
    m.register_buffer("eps", torch.tensor([1e-60, 0.5], dtype=torch.float64))
    _, d = _narrowed(m, target="trt-rtx")
    assert d[0].action is Action.REFUSE and "underflow" in d[0].reason
    narrowed, d = _narrowed(m, target="trt-rtx", allow_underflow=True)
    assert d[0].action is Action.NARROW and narrowed.eps.dtype == torch.float32


@pytest.mark.parametrize("train", [False, True])
def test_plan_state_keeps_meta_tensors(train: bool) -> None:
    with torch.device("meta"):
        m = BnCnn().train(train)
    _, d = _narrowed(m, target="trt-rtx")
    assert all(x.action is Action.KEEP and "meta" in x.reason for x in d)


class _Float64Head(torch.nn.Module):
    """A float64 Linear inside a submodule, then BatchNorm: nested state of both 64-bit kinds."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(2, 2).double(), torch.nn.BatchNorm1d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body[1](self.body[0](x).float())


def test_a_loaded_torchscript_module_is_narrowed_on_a_copy() -> None:
    # A ScriptModule has no get_submodule: its nested state is reached by name. The archive it came
    # from is what fix reads, so the loaded module itself must stay as it was.
    import io

    torch.manual_seed(0)
    x = torch.randn(3, 2, dtype=torch.float64)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(_Float64Head().eval(), (x,)), buf)
        buf.seek(0)
        scripted = torch.jit.load(buf)
    decisions = plan_state(audit_state(entries_from_module(scripted)), PROFILES["torch-trt-ts"], PlanOptions())
    assert {d.finding: d.action for d in decisions} == {
        "state:body.0.weight": Action.NARROW, "state:body.0.bias": Action.NARROW,
        "state:body.1.num_batches_tracked": Action.NARROW}
    narrowed = narrow_module_state(scripted, decisions)
    assert isinstance(narrowed, torch.jit.ScriptModule)
    dtypes = {n: t.dtype for n, t in [*narrowed.named_parameters(), *narrowed.named_buffers()]}
    assert dtypes["body.0.weight"] == dtypes["body.0.bias"] == torch.float32
    assert dtypes["body.1.num_batches_tracked"] == torch.int32
    before = {n: t.dtype for n, t in [*scripted.named_parameters(), *scripted.named_buffers()]}
    assert before["body.0.weight"] == torch.float64 and before["body.1.num_batches_tracked"] == torch.int64
    # the trace casts the Linear's output to float32 anyway; float32 weights round each product once:
    # inputs and weights of order 1, so 1e-5 absolute covers it (float64 vs float32 accumulation)
    torch.testing.assert_close(narrowed(x.float()), scripted(x), rtol=0, atol=1e-5)
