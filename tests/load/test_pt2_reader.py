"""The data-only ``.pt2`` reader: the same program torch's loader gives, without torch's loader.

Each legitimate archive is read both ways — ``torch.export.load`` (what ``--trust-code`` does) and
trtready's reader — and the two programs must agree node for node, weight for weight (exactly), in
their symbolic ranges, call layout and outputs. Hostile strings are refused naming the field.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from tests.conftest import tiny_bert
from tests.hardening import craft
from tests.hardening.craft import rewrite_zip
from trtready.errors import BadInputError
from trtready.load.pt2 import read_pt2, read_pt2_contents


def _token(path: Path) -> Path:
    from trtready.demo import token_model

    spec = token_model()
    seq = torch.export.Dim("seq", min=2, max=64)
    torch.export.save(torch.export.export(spec.module, tuple(spec.args), dynamic_shapes=({1: seq},)), str(path))
    return path


def _bert_keywords(path: Path) -> Path:
    model, (ids, mask) = tiny_bert()
    b, s = torch.export.Dim("batch", min=1, max=8), torch.export.Dim("seq", min=2, max=64)
    ep = torch.export.export(model, (), {"input_ids": ids, "attention_mask": mask},
                             dynamic_shapes={"input_ids": {0: b, 1: s}, "attention_mask": {0: b, 1: s}})
    from trtready.export.exporter import portable

    torch.export.save(portable(ep), str(path))
    return path


def _cond(path: Path) -> Path:
    return craft.clean_cond_pt2(path)  # torch.cond subgraphs, a keyword input, an int64 buffer


PROGRAMS: dict[str, Callable[[Path], Path]] = {"token": _token, "bert-keywords": _bert_keywords, "cond": _cond}


def _nodes(ep: Any) -> list[tuple[str, str, str]]:
    return [(n.name, n.op, str(n.target)) for n in ep.graph.nodes]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_reader_matches_torch_loader(tmp_path: Path, name: str) -> None:
    path = PROGRAMS[name](tmp_path / f"{name}.pt2")
    theirs = torch.export.load(str(path))
    ours, notes = read_pt2(path)
    assert _nodes(ours) == _nodes(theirs)
    assert str(ours.call_spec.in_spec) == str(theirs.call_spec.in_spec)
    assert str(ours.call_spec.out_spec) == str(theirs.call_spec.out_spec)
    assert list(ours.graph_signature.user_inputs) == list(theirs.graph_signature.user_inputs)
    assert {str(k): (int(v.lower), int(v.upper)) for k, v in ours.range_constraints.items()} == {
        str(k): (int(v.lower), int(v.upper)) for k, v in theirs.range_constraints.items()}
    assert sorted(ours.state_dict) == sorted(theirs.state_dict)
    for key, value in theirs.state_dict.items():
        assert ours.state_dict[key].dtype == value.dtype and torch.equal(ours.state_dict[key], value), key
    assert sorted(ours.constants) == sorted(theirs.constants)
    # the stand-in example inputs have the recorded shapes; both programs compute the same outputs
    args, kwargs = theirs.example_inputs
    assert [t.shape for t in torch.utils._pytree.tree_leaves((ours.example_inputs))] == [
        t.shape for t in torch.utils._pytree.tree_leaves((args, kwargs))]
    assert any("example inputs in the archive not read" in n for n in notes)
    with torch.no_grad():
        got = torch.utils._pytree.tree_leaves(ours.module()(*args, **kwargs))
        want = torch.utils._pytree.tree_leaves(theirs.module()(*args, **kwargs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and torch.equal(g, w)  # same weights, same kernels: bit-identical


def test_audit_is_the_same_read_either_way(tmp_path: Path) -> None:
    import trtready

    path = _bert_keywords(tmp_path / "bert.pt2")
    data_only = trtready.audit(str(path), target="trt8")
    trusted = trtready.audit(str(path), target="trt8", trust_code=True)
    assert [f.to_json() for f in data_only.findings] == [f.to_json() for f in trusted.findings]
    assert any(f.source and f.source.endswith(".py:" + f.source.rsplit(":", 1)[1]) for f in data_only.findings
               if f.layer.value == "fx")


def _edit_program(src: Path, dest: Path, fn: Callable[[dict[str, Any]], None]) -> Path:
    def edit(tail: str, data: bytes) -> bytes:
        if tail != "models/model.json":
            return data
        program = json.loads(data)
        fn(program)
        return json.dumps(program).encode()

    return rewrite_zip(src, dest, edit)


def _first_param(p: dict[str, Any]) -> dict[str, Any]:
    return next(s["parameter"] for s in p["graph_module"]["signature"]["input_specs"] if "parameter" in s)


@pytest.mark.parametrize("what, edit, message", [
    ("parameter name with a quote", lambda p: _first_param(p).update(parameter_name="lin.weight\")#"),
     "not a dotted name"),
    ("node target outside torch.ops", lambda p: p["graph_module"]["graph"]["nodes"][0].update(target="builtins.eval"),
     "not a tensor operation"),
    ("operator that writes files",
     lambda p: p["graph_module"]["graph"]["nodes"][0].update(target="torch.ops.aten.from_file.default"), "touches files"),
    ("value name with a quote", lambda p: p["graph_module"]["graph"]["nodes"][0].update(name="x'];import os;#"),
     "is not a name"),
    ("forward argument name", lambda p: p["graph_module"]["module_call_graph"][0]["signature"].update(
        forward_arg_names=["x=open('m','w')"]), "is not a name"),
    ("pytree spec with a class", lambda p: p["graph_module"]["module_call_graph"][0]["signature"].update(
        in_spec=json.dumps([1, {"type": "os.system", "context": "null", "children_spec": []}])), "pytree"),
    ("range symbol name", lambda p: p.update(range_constraints={"__import__('os')": {"min_val": 1, "max_val": 2}}),
     "size symbol"),
    ("verifier dialect", lambda p: p.update(verifiers=["os"]), "unknown dialect"),
])
def test_hostile_strings_are_refused_naming_the_field(tmp_path: Path, what: str, edit: Any, message: str) -> None:
    path = _edit_program(_cond(tmp_path / "clean.pt2"), tmp_path / "evil.pt2", edit)
    with pytest.raises(BadInputError, match=message):
        read_pt2(path)


def test_guards_and_node_metadata_never_reach_torch(tmp_path: Path) -> None:
    """guards_code and metadata torch would parse are dropped; stack frames come back re-printed."""
    marker = tmp_path / "PWNED"

    def edit(p: dict[str, Any]) -> None:
        p["guards_code"] = [f"open({str(marker)!r}, 'w') is None"]
        node = p["graph_module"]["graph"]["nodes"][0]
        node["metadata"] = {"stack_trace": 'File "/a/b.py", line 3, in forward\n    x = 1\n', "torch_fn": "x;y",
                            "custom": "{\"a\": 1}", "nn_module_stack": "L__self__,,m.M;k,lin,torch.nn.Linear"}
        p["graph_module"]["metadata"] = {"custom": "{}"}

    path = _edit_program(_cond(tmp_path / "clean.pt2"), tmp_path / "evil.pt2", edit)
    contents = read_pt2_contents(path)
    assert contents.program["guards_code"] == [] and contents.program["graph_module"]["metadata"] == {}
    assert all(n["metadata"] == {} for n in contents.program["graph_module"]["graph"]["nodes"])
    ep, _ = read_pt2(path)
    ep.module()(torch.randn(2, 4), scale=torch.ones(4))
    assert not marker.exists()
    first = next(n for n in ep.graph.nodes if n.op == "call_function")
    assert first.meta["stack_trace"] == 'File "/a/b.py", line 3, in forward'
    assert first.meta["nn_module_stack"]["k"] == ("lin", "torch.nn.Linear")


def test_string_constants_cannot_leave_a_literal(tmp_path: Path) -> None:
    """A string operator argument or constant input is kept only without quotes or backslashes."""
    def edit(p: dict[str, Any]) -> None:
        p["graph_module"]["graph"]["nodes"][0]["inputs"].append(
            {"name": "rounding_mode", "arg": {"as_string": "floor'+__import__('os').getcwd()+'"}, "kind": 2})

    path = _edit_program(_cond(tmp_path / "clean.pt2"), tmp_path / "evil.pt2", edit)
    with pytest.raises(BadInputError, match="string value"):
        read_pt2(path)


@pytest.mark.parametrize("member, message", [
    ("models/model.JSON", "unexpected member"),
    ("models/other.json", "2 programs"),
    ("data/aotinductor/model/x.so", "AOTInductor"),
])
def test_archive_members_are_read_by_exact_name(tmp_path: Path, member: str, message: str) -> None:
    clean = _cond(tmp_path / "clean.pt2")
    program = zipfile.ZipFile(clean).read("clean/models/model.json")
    path = rewrite_zip(clean, tmp_path / "evil.pt2", lambda tail, data: data, extra={member: program})
    with pytest.raises(BadInputError, match=message):
        read_pt2(path)


def test_weights_out_of_their_record_are_refused(tmp_path: Path) -> None:
    def edit(tail: str, data: bytes) -> bytes:
        if not tail.endswith("_weights_config.json"):
            return data
        cfg = json.loads(data)
        meta = cfg["config"]["lin.weight"]["tensor_meta"]
        meta["storage_offset"] = {"as_int": 10_000}
        return json.dumps(cfg).encode()

    path = rewrite_zip(_cond(tmp_path / "clean.pt2"), tmp_path / "evil.pt2", edit)
    with pytest.raises(BadInputError, match="reaches element"):
        read_pt2(path)


def test_strides_that_do_not_match_the_sizes_are_refused(tmp_path: Path) -> None:
    """Found by the archive fuzzer: an empty stride list on a 2-D weight reached ``torch.as_strided``."""
    def edit(tail: str, data: bytes) -> bytes:
        if not tail.endswith("_weights_config.json"):
            return data
        cfg = json.loads(data)
        cfg["config"]["lin.weight"]["tensor_meta"]["strides"] = []
        return json.dumps(cfg).encode()

    path = rewrite_zip(_cond(tmp_path / "clean.pt2"), tmp_path / "evil.pt2", edit)
    with pytest.raises(BadInputError, match="2 sizes and 0 strides"):
        read_pt2(path)


def test_stand_in_example_sizes_are_limited(tmp_path: Path) -> None:
    """The archive's size hints shape the stand-in inputs: a hint of 10**12 is refused, not allocated."""
    def huge_hints(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("hint"), dict):
                node["hint"] = {"as_int": 10**12}
            for v in node.values():
                huge_hints(v)
        elif isinstance(node, list):
            for v in node:
                huge_hints(v)

    def edit(p: dict[str, Any]) -> None:
        huge_hints(p)
        for r in p["range_constraints"].values():
            r["max_val"] = 10**13

    path = _edit_program(_token(tmp_path / "token.pt2"), tmp_path / "huge.pt2", edit)
    with pytest.raises(BadInputError, match="example input input_ids: declares 2000000000000 elements"):
        read_pt2(path)


def test_node_count_is_limited(tmp_path: Path) -> None:
    from trtready.limits import Limits

    path = _token(tmp_path / "token.pt2")
    nodes = len(json.loads(zipfile.ZipFile(path).read("token/models/model.json"))["graph_module"]["graph"]["nodes"])
    read_pt2(path, Limits(graph_nodes=nodes))
    with pytest.raises(BadInputError, match=f"past {nodes - 1} nodes"):
        read_pt2(path, Limits(graph_nodes=nodes - 1))
