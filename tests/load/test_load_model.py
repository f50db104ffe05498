"""load_model: every MODEL form, pickles carrying code refused, specs validated."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

from trtready.errors import BadInputError, UnsafeInputError
from trtready.load import ModelKind, ModelSpec, load_model


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.fixture
def spec_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throw-away importable module with factories in every accepted (and one rejected) form."""
    (tmp_path / "userzoo.py").write_text(textwrap.dedent("""
        import torch
        from trtready import ModelSpec

        def pair():
            return torch.nn.Linear(3, 2), (torch.randn(1, 3),)

        def triple():
            return torch.nn.Linear(3, 2), (torch.randn(1, 3),), {}

        def spec():
            return ModelSpec(torch.nn.Linear(3, 2), (torch.randn(1, 3),), dynamic=["input:0=b[1:4]"])

        def wrong():
            return 42

        def boom():
            raise ValueError("no weights here")

        def not_module():
            return object(), ()
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "userzoo"
    sys.modules.pop("userzoo", None)


@pytest.mark.parametrize("factory", ["pair", "triple", "spec"])
def test_spec_forms(spec_pkg: str, factory: str) -> None:
    loaded = load_model(f"{spec_pkg}:{factory}")
    assert loaded.kind is ModelKind.SPEC
    assert isinstance(loaded.module, torch.nn.Linear)
    assert loaded.args[0].shape == (1, 3)
    assert [e.name for e in loaded.state] == ["weight", "bias"]
    assert loaded.dynamic == (["input:0=b[1:4]"] if factory == "spec" else [])


@pytest.mark.parametrize(
    "factory, message",
    [("wrong", "must return"), ("boom", "raised ValueError: no weights here"), ("not_module", "not a torch.nn.Module"),
     ("absent", "no callable")],
)
def test_bad_factories(spec_pkg: str, factory: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        load_model(f"{spec_pkg}:{factory}")


def test_unimportable_spec() -> None:
    with pytest.raises(BadInputError, match="cannot import"):
        load_model("no_such_pkg_xyz.mod:factory")


def test_model_spec_object_is_accepted() -> None:
    loaded = load_model(ModelSpec(torch.nn.BatchNorm1d(4), (torch.randn(2, 4),)))
    assert {e.name: e.dtype for e in loaded.state}["num_batches_tracked"] == "int64"


def test_checkpoint_with_code_is_refused_and_trust_code_loads_it(tmp_path: Path, capsys) -> None:
    p = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "x": _Evil()}, str(p))
    with pytest.raises(UnsafeInputError, match="--trust-code"):
        load_model(str(p))
    assert "pwned" not in capsys.readouterr().out
    loaded = load_model(str(p), trust_code=True)
    assert "pwned" in capsys.readouterr().out  # the payload ran: that is what trust means
    assert [e.name for e in loaded.state] == ["w"]


def test_whole_pickled_module_needs_trust_code(tmp_path: Path) -> None:
    p = tmp_path / "whole.pt"
    torch.save(torch.nn.Sequential(torch.nn.BatchNorm1d(2)), str(p))
    with pytest.raises(UnsafeInputError):
        load_model(str(p))
    loaded = load_model(str(p), trust_code=True)
    assert loaded.module is not None
    assert "0.num_batches_tracked" in [e.name for e in loaded.state]


def test_state_dict_nested_containers_are_flattened(tmp_path: Path) -> None:
    p = tmp_path / "ckpt.pt"
    torch.save({"model": {"bn.num_batches_tracked": torch.tensor(3)}, "epoch": 7}, str(p))
    loaded = load_model(str(p))
    assert loaded.kind is ModelKind.CHECKPOINT
    assert [e.name for e in loaded.state] == ["model.bn.num_batches_tracked"]
    assert any("no graph" in n for n in loaded.notes)


def test_pt2_and_torchscript_and_safetensors(tmp_path: Path) -> None:
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)).eval()
    x = torch.randn(3, 2)
    torch.export.save(torch.export.export(m, (x,)), str(tmp_path / "m.pt2"))
    torch.jit.trace(m, x).save(str(tmp_path / "m.ts"))
    from safetensors.torch import save_file

    save_file(dict(m.state_dict()), str(tmp_path / "m.safetensors"))
    pt2 = load_model(str(tmp_path / "m.pt2"))
    assert pt2.exported is not None and pt2.sha256 and len(pt2.sha256) == 64
    ts = load_model(str(tmp_path / "m.ts"))
    assert {e.name: e.dtype for e in ts.state}["1.num_batches_tracked"] == "int64"
    st = load_model(str(tmp_path / "m.safetensors"))
    entry = {e.name: e for e in st.state}["1.num_batches_tracked"]
    assert entry.dtype == "int64" and int(entry.read()) == 0
