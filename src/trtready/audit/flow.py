"""The dtype flow: the 64-bit subgraph of the analysed graph, with its neighbours, as plain data.

The HTML report draws it (``report/html.py``); ``report.json`` carries it as ``flow`` so the picture and
the JSON are one source. Only edges that carry a 64-bit value are kept, plus the ordinary edges between
the nodes those touch and their direct neighbours (weights left out): a BERT's hundreds of float MatMuls stay out, the shape math and the index paths
stay in. Every edge names the finding of its value (when there is one), so a reader of the data can join
it with ``findings`` and ``decisions`` without re-deriving anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trtready.finding_ids import Layer, tensor_finding_id
from trtready.onnx_slots import input_requires_int64

if TYPE_CHECKING:
    import onnx_ir as ir
    from torch.export import ExportedProgram

    from trtready.analysis import FxAnalysis, OnnxAnalysis

# The picture of a large model is cut here: past this many nodes a drawing no longer reads. What is cut
# is counted in the data (``omitted``), never dropped silently.
MAX_NODES = 400

_WIDE = {"int64", "float64"}


def dtype_flow(onnx_analysis: OnnxAnalysis | None = None, fx_analysis: FxAnalysis | None = None, finding_ids: set[str] | None = None) -> dict[str, Any] | None:
    """The flow of the graph the findings came from (ONNX when the model is ONNX, else torch.export);
    None when there is no graph (a state_dict alone)."""
    ids = finding_ids or set()
    if onnx_analysis is not None:
        nodes, edges = _onnx_graph(onnx_analysis.model, ids)
        layer = "onnx"
    elif fx_analysis is not None:
        nodes, edges = _fx_graph(fx_analysis.program, ids)
        layer = "fx"
    else:
        return None
    return _neighbourhood(layer, nodes, edges)


def _neighbourhood(layer: str, nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    wide = [e for e in edges if e["dtype"] in _WIDE]
    keep: dict[str, None] = {}
    for e in sorted(wide, key=lambda e: e["finding"] is None):  # edges with a finding first when cut
        if len(keep) >= MAX_NODES:
            break
        keep.setdefault(e["src"])
        keep.setdefault(e["dst"])
    core = set(keep)
    for e in edges:  # one hop out: what feeds and what reads the 64-bit nodes (weights stay out)
        if len(keep) >= MAX_NODES:
            break
        if (e["src"] in core) != (e["dst"] in core) and nodes[e["src"]]["kind"] != "initializer":
            keep.setdefault(e["dst"] if e["src"] in core else e["src"])
    kept_edges = [e for e in edges if e["src"] in keep and e["dst"] in keep]
    drawn_wide = sum(1 for e in kept_edges if e["dtype"] in _WIDE)
    return {
        "layer": layer,
        "nodes": [nodes[n] for n in keep],
        "edges": kept_edges,
        "omitted": {"nodes": len(({e["src"] for e in wide} | {e["dst"] for e in wide}) - core),
                    "wide_edges": len(wide) - drawn_wide},
    }


def _node(nid: str, op: str, kind: str, source: str | None = None) -> dict[str, Any]:
    return {"id": nid, "op": op, "kind": kind, "source": source}


def _edge(src: str, dst: str, tensor: str, dtype: str, finding: str | None, slot: int, spec_int64: bool) -> dict[str, Any]:
    return {"src": src, "dst": dst, "tensor": tensor, "dtype": dtype, "finding": finding, "slot": slot,
            "spec_int64": spec_int64}


def _onnx_graph(model: ir.Model, ids: set[str]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The main graph: nodes by name, one edge per (value, use); graph inputs, initializers and outputs
    are nodes of their own so the picture shows where a 64-bit value enters and leaves."""
    from trtready.audit.onnx_graph import _source

    graph = model.graph
    opsets = dict(model.opset_imports)
    nodes: dict[str, dict[str, Any]] = {}
    names: dict[int, str] = {}
    for i, node in enumerate(graph):
        nid = node.name or f"{node.op_type}_{i}"
        names[id(node)] = nid
        nodes[nid] = _node(nid, node.op_type, "op", _source(node))
    edges: list[dict[str, Any]] = []
    outputs = {id(v) for v in graph.outputs}
    values = list(graph.inputs) + list(graph.initializers.values()) + [v for n in graph for v in n.outputs]
    seen: set[int] = set()
    for v in values:
        if id(v) in seen or v is None or not v.name:
            continue
        seen.add(id(v))
        dtype = _ONNX_DTYPES.get(v.dtype.name, v.dtype.name.lower()) if v.dtype is not None else "?"
        producer = v.producer()
        if producer is not None:
            src = names[id(producer)]
        else:
            kind = "initializer" if v.name in graph.initializers else "input"
            src = f"{kind}:{v.name}"
            nodes[src] = _node(src, v.name, kind)
        tid = tensor_finding_id(Layer.ONNX, str(v.name))
        fid = tid if tid in ids else None
        for use in v.uses():
            if id(use.node) not in names:  # a use inside a subgraph: drawn at its If/Loop node
                continue
            spec = input_requires_int64(use.node.op_type, use.node.domain, opsets.get(use.node.domain or "", 1), use.idx)
            edges.append(_edge(src, names[id(use.node)], v.name, dtype, fid, use.idx, spec))
        if id(v) in outputs:
            dst = f"output:{v.name}"
            nodes[dst] = _node(dst, v.name, "output")
            edges.append(_edge(src, dst, v.name, dtype, fid, 0, False))
    return nodes, edges


# onnx-ir's names for the float types differ from the findings' (numpy's): one spelling in the data
_ONNX_DTYPES = {"DOUBLE": "float64", "FLOAT": "float32", "FLOAT16": "float16", "BFLOAT16": "bfloat16"}

_FX_DTYPES = {"torch.int64": "int64", "torch.float64": "float64", "torch.int32": "int32", "torch.float32": "float32",
              "torch.bool": "bool", "torch.float16": "float16", "torch.bfloat16": "bfloat16", "torch.int8": "int8",
              "torch.uint8": "uint8", "torch.int16": "int16"}


def _fx_graph(ep: ExportedProgram, ids: set[str]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The torch.export graph: call_function nodes are ops, placeholders inputs (parameters and buffers
    under their state names, so a buffer's edge joins its ``state:`` finding), the output node one
    output per returned value."""
    import torch

    from trtready.audit.fx import user_frame

    sig = ep.graph_signature
    state = {**sig.inputs_to_parameters, **sig.inputs_to_buffers}
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    for n in ep.graph.nodes:
        if n.op == "placeholder":
            kind = "initializer" if n.name in state or n.name in sig.inputs_to_lifted_tensor_constants else "input"
            nodes[n.name] = _node(n.name, state.get(n.name, n.name), kind)
        elif n.op == "call_function":
            op = str(getattr(n.target, "__name__", n.target)).split(".")[0] if not str(n.target).startswith("aten.") \
                else str(n.target).split(".")[1]
            nodes[n.name] = _node(n.name, op, "op", user_frame(n.meta.get("stack_trace")))
    for n in ep.graph.nodes:
        val = n.meta.get("val")
        if n.name not in nodes or not isinstance(val, torch.Tensor):
            continue
        dtype = _FX_DTYPES.get(str(val.dtype), str(val.dtype).removeprefix("torch."))
        fid = tensor_finding_id(Layer.STATE, state[n.name]) if n.name in state else tensor_finding_id(Layer.FX, n.name)
        fid_or_none = fid if fid in ids else None
        for user in n.users:
            if user.op == "output":
                dst = f"output:{n.name}"
                nodes[dst] = _node(dst, n.name, "output")
                edges.append(_edge(n.name, dst, n.name, dtype, fid_or_none, 0, False))
            elif user.name in nodes:
                slot = user.all_input_nodes.index(n)
                edges.append(_edge(n.name, user.name, n.name, dtype, fid_or_none, slot, False))
    return nodes, edges
