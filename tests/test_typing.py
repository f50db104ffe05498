"""Graph objects carry their real types: no ``Any`` for a node, value, model, graph, program or analysis.

mypy checks the package with --strict's flags, but an ``Any`` switches the check off for everything
that flows through it: a node typed ``Any`` lets a misspelt attribute or a protobuf passed where an
onnx-ir node is expected through unseen. The names say what a thing holds, so the names are the rule:
a parameter, an annotated assignment or field, or a function's return whose name ends in one of the
words below (``node``, ``onnx_model``, ``ref_value``, ``analyses``…) must not be annotated ``Any``,
``Any | None``, nor a container of ``Any`` (``list[Any]``, ``dict[ir.Value, Any]``, ``tuple[Any, ...]``).
``dict[str, Any]`` is a JSON object (a drawn node of the report's dtype-flow picture, a .pt2's JSON
payload), so it passes.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "trtready"

# The last word of a name says what it holds: ``onnx_model`` is a model, ``model_info`` is not.
GRAPH_WORDS = frozenset({"node", "nodes", "value", "values", "model", "models", "graph", "graphs",
                         "program", "programs", "analysis", "analyses"})


def _holds_graph_object(name: str) -> bool:
    return name.strip("_").lower().rsplit("_", 1)[-1] in GRAPH_WORDS


def _is_any(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "Any") or (
        isinstance(node, ast.Attribute) and node.attr == "Any")


def _any_in(ann: ast.expr) -> bool:
    """``Any`` itself, in a union (``Any | None``, ``Optional[Any]``) or as an element of a subscripted
    type (``list[Any]``, ``dict[str, Any]``, ``Iterator[tuple[str, Any]]``). A string annotation is parsed."""
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        try:
            return _any_in(ast.parse(ann.value, mode="eval").body)
        except SyntaxError:
            return False
    if _is_any(ann):
        return True
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        return _any_in(ann.left) or _any_in(ann.right)
    if isinstance(ann, ast.Subscript):
        if (isinstance(ann.value, ast.Name) and ann.value.id in ("dict", "Mapping") and isinstance(ann.slice, ast.Tuple)
                and len(ann.slice.elts) == 2 and isinstance(ann.slice.elts[0], ast.Name)
                and ann.slice.elts[0].id == "str" and _is_any(ann.slice.elts[1])):
            return False  # dict[str, Any]: a JSON object (a report's node, a .pt2's payload), not a graph object
        return _any_in(ann.slice)
    if isinstance(ann, ast.Tuple):
        return any(_any_in(e) for e in ann.elts)
    return False


def graph_objects_typed_any(source: str, filename: str) -> list[str]:
    """``file:line: what`` for every parameter, annotated assignment (fields included) and return whose
    name says it holds a graph object and whose annotation is or holds ``Any``."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            for arg in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x is not None]:
                if arg.annotation is not None and _holds_graph_object(arg.arg) and _any_in(arg.annotation):
                    out.append((arg.lineno, f"{filename}:{arg.lineno}: parameter {arg.arg!r} of {node.name}() "
                                            f"is typed {ast.unparse(arg.annotation)}"))
            if node.returns is not None and _holds_graph_object(node.name) and _any_in(node.returns):
                out.append((node.lineno, f"{filename}:{node.lineno}: {node.name}() returns {ast.unparse(node.returns)}"))
        elif isinstance(node, ast.AnnAssign):
            target = node.target
            name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
            if name and _holds_graph_object(name) and _any_in(node.annotation):
                out.append((node.lineno, f"{filename}:{node.lineno}: {name!r} is typed {ast.unparse(node.annotation)}"))
    return [msg for _, msg in sorted(out, key=lambda hit: hit[0])]


def test_no_graph_object_is_typed_any() -> None:
    found = [hit for path in sorted(PACKAGE.rglob("*.py"))
             for hit in graph_objects_typed_any(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not found, "graph objects typed Any (give them their onnx_ir / onnx / torch / trtready type):\n" + \
        "\n".join(found)


def test_the_rule_names_each_kind_of_annotation() -> None:
    # one case per way an Any hides a graph object, and the names and types the rule leaves alone
    src = '''
from typing import Any, Iterator, Optional
def f(node: Any, onnx_model: "Any", ref_value: Any | None = None, *, narrowed_program: Optional[Any] = None) -> None:
    seen_nodes: set[Any] = set()
def labeled_nodes(model: object) -> Iterator[tuple[str, Any]]: ...
class C:
    onnx_analysis: Any = None
    model_info: dict[str, Any]
    nodes: dict[str, dict[str, Any]]
    values: dict[Any, int]
    shape: Any
def g(graph: "ir.Graph", values: dict[str, int], nodeish: Any) -> Any: ...
'''
    found = graph_objects_typed_any(src, "planted.py")
    assert found == [
        "planted.py:3: parameter 'node' of f() is typed Any",
        "planted.py:3: parameter 'onnx_model' of f() is typed 'Any'",
        "planted.py:3: parameter 'ref_value' of f() is typed Any | None",
        "planted.py:3: parameter 'narrowed_program' of f() is typed Optional[Any]",
        "planted.py:4: 'seen_nodes' is typed set[Any]",
        "planted.py:5: labeled_nodes() returns Iterator[tuple[str, Any]]",
        "planted.py:7: 'onnx_analysis' is typed Any",
        "planted.py:10: 'values' is typed dict[Any, int]",
    ]
