"""``--limit`` values are validated: a limit that is not a positive, finite, representable number is a
usage error (exit 2, one line) — never a deadline that never comes or a bound that bounds nothing."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from trtready.errors import UsageError
from trtready.limits import Limits, parse_limits


@pytest.mark.parametrize("spec", [
    "verify-seconds=nan", "verify-seconds=inf", "verify-seconds=-inf", "verify-seconds=-1", "verify-seconds=0",
    "verify-seconds=1e300", "tensor-elements=0", "tensor-elements=-3", f"tensor-elements={2**63}",
    f"archive-bytes={10**30}", "compression-ratio=nan", "archive-members=1.5",
])
def test_bad_limit_values_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError, match="--limit"):
        parse_limits([spec])


def test_limits_built_in_python_are_validated() -> None:
    for bad in ({"verify_seconds": float("nan")}, {"verify_seconds": float("inf")}, {"tensor_elements": 0},
                {"tensor_elements": 2**64}, {"archive_members": 2.5}):
        with pytest.raises(UsageError):
            Limits(**bad)  # type: ignore[arg-type]
    assert parse_limits([f"tensor-elements={2**63 - 1}", "verify-seconds=2.5"]) == \
        Limits(tensor_elements=2**63 - 1, verify_seconds=2.5)


@pytest.mark.parametrize("spec", ["verify-seconds=nan", "verify-seconds=inf", f"tensor-elements={2**64}"])
def test_bad_limit_on_the_command_line_is_one_line(spec: str) -> None:
    r = run_cli("verify", "trtready.demo:token_model", "trtready.demo:token_model", "--limit", spec)
    assert r.code == 2, (r.code, r.stdout[-300:], r.stderr)
    assert r.stderr.startswith("trtready: error: --limit") and r.stderr.count("\n") == 1, r.stderr


def test_graph_nodes_counts_subgraphs_and_function_bodies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """3 nodes in the main graph, 1 in each If branch, 2 in a function body: 7 in all."""
    import onnx
    from onnx import TensorProto, helper

    branch = [helper.make_graph([helper.make_node("Identity", ["x"], [f"{b}_y"])], b, [],
                                [helper.make_tensor_value_info(f"{b}_y", TensorProto.FLOAT, [2])]) for b in ("then", "else")]
    fn = helper.make_function("local", "Twice", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["t"]),
                                                               helper.make_node("Identity", ["t"], ["b"])],
                              [helper.make_opsetid("", 17)])
    g = helper.make_graph([helper.make_node("If", ["c"], ["i"], then_branch=branch[0], else_branch=branch[1]),
                           helper.make_node("Twice", ["i"], ["j"], domain="local"), helper.make_node("Identity", ["j"], ["y"])],
                          "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                                helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)],
                                functions=[fn]), path)
    r = run_cli("audit", str(path), "--limit", "graph-nodes=6")
    assert r.code == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "7 nodes, over the limit of 6" in r.stderr and "--limit graph-nodes" in r.stderr
    assert run_cli("audit", str(path), "--limit", "graph-nodes=7").code == 0


def test_tensor_rank_is_checked_in_onnx_and_safetensors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import struct

    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1] * 5)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1] * 5)])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    r = run_cli("audit", str(path), "--limit", "tensor-rank=4")
    assert r.code == 2 and "rank 5, over the limit of 4" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert run_cli("audit", str(path), "--limit", "tensor-rank=5").code == 0
    header = json.dumps({"w": {"dtype": "F32", "shape": [1] * 100, "data_offsets": [0, 4]}}).encode()
    st = tmp_path / "w.safetensors"
    st.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))
    r = run_cli("audit", str(st))
    assert r.code == 2 and "rank 100, over the limit of 64" in r.stderr and r.stderr.count("\n") == 1, r.stderr
