"""The HTML report: one self-contained file rendered from the report.json dict (docs/cli.md, "HTML report").

One source of truth: :func:`render_html` takes exactly the dict ``report.json`` holds and embeds it
(``<script type="application/json" id="trtready-report">``); the page reads nothing else. No network at
view time: CSS, JS and the pictures are inline, and nothing refers to another file or host.

The dtype-flow picture is laid out by Graphviz (``dot``, through the ``graphviz`` binding) when the report
is written, and inlined as SVG, so the page needs no layout code of its own. ``dot`` comes from the
system's package (Debian ``graphviz``; the Makefile installs it); without it the page says so and
everything else stands. The "after" picture is the same graph with the report's decisions applied:
narrowed values in their new dtype, Casts inserted where a narrowed node reads a kept int64, removed
and refused values marked — what ``fix`` writes, drawn from what it decided.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from trtready.outputs import dumps
from trtready.version import __version__

_DTYPE_COLOURS = {"int64": "#c62828", "float64": "#ef6c00", "int32": "#2e7d32", "float32": "#1565c0",
                  "float16": "#5e35b1", "bfloat16": "#5e35b1", "bool": "#757575"}
_OTHER = "#9e9e9e"
_NARROWED = {"int64": "int32", "float64": "float32"}
_OUTCOMES = ("fine", "cast", "unchecked", "precision_loss", "clamp", "error")


def render_html(data: dict[str, Any], text: str | None = None) -> str:
    """The whole page for one report dict; ``text`` is ``dumps(data)`` when the caller has it already
    (the report.json written beside the page)."""
    target = data["target"]["name"]
    title = f"trtready {data['verb']}: {data['model']['source']}"
    body = "\n".join([
        f"<h1>{_e(title)}</h1>",
        _verdict(data),
        _targets(data),
        _network(data.get("build")),
        _verification(data.get("verification")),
        _flow_section(data),
        _findings(data, target),
    ])
    # "<" only occurs inside JSON strings: as \u003c no "</script>" or "<!--" can end or bend the data block
    payload = (dumps(data) if text is None else text).replace("<", "\\u003c")

    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f"<meta name=\"generator\" content=\"trtready {_e(__version__)}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<link rel=\"icon\" href=\"data:,\">\n"
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style></head>\n<body>\n{body}\n"
        f"<script type=\"application/json\" id=\"trtready-report\">{payload}</script>\n"
        f"<script>{_JS}</script>\n</body></html>\n"
    )


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _verdict(data: dict[str, Any]) -> str:
    v = data.get("verdict") or {}
    ok = "ok" if v.get("ready") else "bad"
    t = data["target"]
    rows = [("model", f"{data['model']['source']} ({data['model']['kind']})"),
            ("target", f"{t['name']} — {t['title']} ({t['why']})"),
            ("layers", ", ".join(f"{k}: {w}" for k, w in (data.get("layers") or {}).items()))]
    if data.get("input_verdict"):
        rows.append(("model as given", data["input_verdict"]["line"]))
    counts = Counter(d["action"] for d in data.get("decisions") or [])
    if counts:
        rows.append(("decisions", ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))))
    extra = "".join(f"<li>{_e(n)}</li>" for n in list(data.get("notes") or []) + list(data.get("assumptions") or []))
    return (f"<section id=\"verdict\"><p class=\"verdict {ok}\">{_e(v.get('line', ''))}</p>"
            + _table(["", ""], rows, head=False)
            + (f"<details><summary>notes and assumptions</summary><ul>{extra}</ul></details>" if extra else "")
            + "</section>")


def _targets(data: dict[str, Any]) -> str:
    """Per target: how many findings get each outcome, and the worst (the order is Outcome's)."""
    per: dict[str, Counter[str]] = {}
    for f in data["findings"]:
        for t, p in f["predictions"].items():
            per.setdefault(t, Counter())[p["outcome"]] += 1
    if not per:
        return "<section id=\"targets\"><h2>Per target</h2><p>No 64-bit tensors.</p></section>"
    rows = []
    for t, c in per.items():
        worst = max(c, key=_OUTCOMES.index)
        mark = " (chosen)" if t == data["target"]["name"] else ""
        rows.append((t + mark, worst, *[str(c.get(o, 0)) for o in _OUTCOMES]))
    return ("<section id=\"targets\"><h2>Per target</h2>"
            + _table(["target", "worst", *_OUTCOMES], rows) + "</section>")


def _network(build: dict[str, Any] | None) -> str:
    """The parsed TensorRT network before → after: INT64 execution/shape tensors, Casts, bindings."""
    if not build or not build.get("network"):
        return ""
    after, before = build["network"], build.get("network_before")

    def row(label: str, key: str) -> tuple[str, str, str]:
        return label, str(before.get(key, "–")) if before else "–", str(after.get(key, "–"))

    def bindings(net: dict[str, Any] | None) -> str:
        if not net:
            return "–"
        return "; ".join(f"{'in' if i < len(net['inputs']) else 'out'} {b['name']}: {b['dtype']}"
                         for i, b in enumerate(net["inputs"] + net["outputs"]))

    rows = [row("INT64 execution tensors", "int64_execution_tensors"), row("INT64 shape tensors", "int64_shape_tensors"),
            row("Cast layers", "cast_layers"), row("Cast layers on the device", "device_casts"), row("layers", "layers"),
            ("bindings", bindings(before), bindings(after))]
    return (f"<section id=\"network\"><h2>TensorRT network before → after</h2>"
            f"<p>{_e(build['library'])} {_e(build['version'])}"
            + (f"; effect: {_e(build['effect'])}" if build.get("effect") else "") + "</p>"
            + _table(["", "before (unmodified model)" if before else "before (not built)", "after"], rows)
            + "</section>")


def _verification(ver: dict[str, Any] | None) -> str:
    if not ver:
        return ""
    rows = []
    for c in ver["comparisons"]:
        for o in c["outputs"]:
            rows.append((c["candidate"], o["name"], f"{o['dtype_before']} → {o['dtype_after']}",
                         "exact" if o["exact"] else f"{o['max_abs']:.3g} / {o['max_rel']:.3g}",
                         "passed" if o["passed"] else "FAILED"))
    return (f"<section id=\"verification\"><h2>Verification ({'passed' if ver['passed'] else 'failed'})</h2>"
            + _table(["candidate", "output", "dtype", "max abs / rel error", "result"], rows) + "</section>")


def _findings(data: dict[str, Any], target: str) -> str:
    decisions = {d["finding"]: d for d in data.get("decisions") or []}
    flow = data.get("flow") or {}
    in_flow = {e["finding"]: e["src"] for e in flow.get("edges", []) if e["finding"]}
    in_flow.update({f["id"]: f["index"]["node"] for f in data["findings"] if f.get("index")
                    and f["layer"] == flow.get("layer")})
    nids = {n["id"]: i for i, n in enumerate(flow.get("nodes", []))}
    rows = []
    for f in data["findings"]:
        p = f["predictions"].get(target, {})
        d = decisions.get(f["id"])
        iv = f.get("interval")
        node = in_flow.get(f["id"])
        link = f" <a href=\"#flow\" class=\"goto\" data-node=\"n{nids[node]}\">in the picture</a>" if node in nids else ""
        prov = [f["where"]] + [x for x in (f.get("source"), f.get("module_type") and f"module {f['module_type']}",
                                           f.get("producer") and f"producer {f['producer']}") if x and x != f["where"]]
        rows.append(
            f"<tr id=\"f-{_e(f['id'])}\" data-outcome=\"{_e(p.get('outcome', ''))}\" data-layer=\"{_e(f['layer'])}\" "
            f"data-dtype=\"{_e(f['dtype'])}\" data-action=\"{_e(d['action'] if d else '')}\">"
            f"<td>{_e(f['id'])}</td><td>{_e(f['layer'])}</td><td>{_e(f['kind'])}</td><td>{_e(f['dtype'])}</td>"
            f"<td>{_e(f['shape'])}</td><td>{_e(_interval(iv))}</td>"
            f"<td class=\"o-{_e(p.get('outcome', ''))}\">{_e(p.get('outcome', ''))}</td>"
            f"<td>{_e(d['action'] if d else '')}</td>"
            f"<td class=\"prov\">{'<br>'.join(_e(x) for x in prov)}{link}</td>"
            f"<td>{_e(d['reason'] if d else p.get('message', ''))}</td></tr>")

    def select(name: str, values: set[str]) -> str:
        opts = "".join(f"<option>{_e(v)}</option>" for v in sorted(values))
        return f"<label>{name} <select id=\"filter-{name}\" data-key=\"{name}\"><option value=\"\">all</option>{opts}</select></label>"

    fs = data["findings"]
    filters = (select("outcome", {f["predictions"].get(target, {}).get("outcome", "") for f in fs} - {""})
               + select("layer", {f["layer"] for f in fs}) + select("dtype", {f["dtype"] for f in fs})
               + "<label>text <input id=\"filter-text\" type=\"search\"></label>")
    heads = ["id", "layer", "kind", "dtype", "shape", "interval", f"outcome ({target})", "decision",
             "provenance", "why"]
    th = "".join(f"<th data-col=\"{i}\">{_e(h)}</th>" for i, h in enumerate(heads))
    return (f"<section id=\"findings\"><h2>Findings (<span id=\"shown\">{len(rows)}</span> of {len(rows)})</h2>"
            f"<div class=\"filters\">{filters}</div>"
            f"<table id=\"findings-table\" class=\"sortable\"><thead><tr>{th}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>")


def _interval(iv: dict[str, Any] | None) -> str:
    return "?" if iv is None else f"[{iv['lo']}, {iv['hi']}]"


def _table(heads: list[str], rows: Sequence[Sequence[Any]], head: bool = True) -> str:
    thead = "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in heads) + "</tr></thead>" if head else ""
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{thead}<tbody>{body}</tbody></table>"


# --- the dtype-flow picture ------------------------------------------------------------------------------
def flow_marks(data: dict[str, Any], after: bool) -> dict[str, Any]:
    """What each node and edge of ``data["flow"]`` shows, before or after the decisions.

    Returns ``{"nodes": {node id: (dtype, [marks])}, "edges": [(dtype, [marks])]}``; marks are
    ``source`` (a 64-bit value starts here), ``spec`` (a spec-pinned int64 slot), ``clamp`` / ``error``
    (what the report's target is predicted to do with a value it cannot hold), ``refused``,
    ``removed``, ``rewritten``, ``index_unproved``, ``narrowed`` and ``cast`` (a Cast to int32 inserted).

    The "after" view follows what ``NarrowInt64Pass`` does with a plan: a node whose 64-bit outputs are
    narrowed (or that has none and reads a narrowed value) reads its kept int64 inputs through one
    inserted Cast to int32 each, and its int64 constants as int32 copies; an input at a spec-pinned slot
    stays int64. Values a ``remove`` rewrite leaves unused are marked removed (:func:`_drop_dead`).
    """
    flow = data["flow"]
    decided = {d["finding"]: d["action"] for d in data.get("decisions") or []}
    findings = {f["id"]: f for f in data["findings"]}
    target = data["target"]["name"]
    kinds = {n["id"]: (n["kind"], n["op"]) for n in flow["nodes"]}
    edges = []
    for e in flow["edges"]:
        action = decided.get(e["finding"] or "")
        marks = []
        dtype = e["dtype"]
        if e["spec_int64"]:
            marks.append("spec")
        if after and action == "narrow" and dtype in _NARROWED:
            dtype = _NARROWED[dtype]
            marks.append("narrowed")
        if action in ("refuse", "remove"):
            marks.append({"refuse": "refused", "remove": "removed"}[action])
        outcome = findings.get(e["finding"] or "", {}).get("predictions", {}).get(target, {}).get("outcome")
        if outcome in ("clamp", "error") and "narrowed" not in marks and "removed" not in marks:
            marks.append(outcome)
        edges.append((dtype, marks))
    if after:
        _drop_dead(flow, edges)
        narrowed_nodes = {e["src"] for e, (_, m) in zip(flow["edges"], edges) if "narrowed" in m}
        wide_out = {e["src"] for e in flow["edges"] if e["dtype"] in _NARROWED}
        # a node without 64-bit outputs that reads a narrowed value joins it (a comparison, an index read)
        narrowed_nodes |= {e["dst"] for e, (_, m) in zip(flow["edges"], edges)
                           if "narrowed" in m and kinds[e["dst"]][0] == "op" and e["dst"] not in wide_out}
        for j, (e, (dtype, marks)) in enumerate(zip(flow["edges"], edges)):
            if dtype != "int64" or e["spec_int64"] or e["dst"] not in narrowed_nodes or "removed" in marks:
                continue
            if kinds[e["src"]][0] == "initializer" or kinds[e["src"]][1] == "Constant":
                edges[j] = ("int32", marks + ["narrowed"])  # the node reads an int32 copy of the constant
            else:
                marks.append("cast")
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[tuple[str, list[str], str | None]]] = {}
    for e, (dtype, marks) in zip(flow["edges"], edges):
        incoming.setdefault(e["dst"], []).append(e["dtype"])
        outgoing.setdefault(e["src"], []).append((dtype, marks, e["finding"]))
    layer = flow["layer"]
    unproved = {f["index"]["node"] for f in findings.values() if f.get("index") and f["layer"] == layer}
    rewritten = {fid.split(":", 2)[2] for fid, a in decided.items() if a == "rewrite" and fid.startswith(f"op:{layer}:")}
    nodes = {}
    for n in flow["nodes"]:
        outs = outgoing.get(n["id"], [])
        if outs:
            dtype = next((d for d, _, fid in outs if fid), outs[0][0])
        else:
            dtype = (incoming.get(n["id"]) or ["?"])[0]
            if after and n["kind"] == "output":
                dtype = next((d for (d, m), e in zip(edges, flow["edges"]) if e["dst"] == n["id"]), dtype)
        marks = []
        if any(e["dtype"] in _NARROWED for e in flow["edges"] if e["src"] == n["id"]) and \
                not any(d in _NARROWED for d in incoming.get(n["id"], [])):
            marks.append("source")
        for _, m, _ in outs:
            marks += [x for x in m if x in ("refused", "clamp", "error", "narrowed") and x not in marks]
        if outs and all("removed" in m for _, m, _ in outs):
            marks.append("removed")  # no longer computed: every use of it is gone
        if any(fid and findings.get(fid, {}).get("spec_int64") for _, _, fid in outs):
            marks.append("spec")
        if n["id"] in unproved or n["op"] in unproved:
            marks.append("index_unproved")
        if n["id"] in rewritten or (after and any("removed" in m for e, (_, m) in zip(flow["edges"], edges)
                                                   if e["dst"] == n["id"] and e["src"] != n["id"])
                                    and not (outs and all("removed" in m for _, m, _ in outs))):
            marks.append("rewritten")  # a node whose input a rewrite removed is itself rewritten
        nodes[n["id"]] = (dtype, marks)
    return {"nodes": nodes, "edges": edges}


def _drop_dead(flow: dict[str, Any], edges: list[tuple[str, list[str]]]) -> None:
    """Mark ``removed`` what a ``remove`` rewrite leaves unused: a node (or constant) all of whose drawn
    uses are removed, when all its uses are drawn — it touches a 64-bit edge (so the neighbourhood holds
    every node reading it) and nothing was cut. Unused nodes are what ``fix`` deletes after the rewrites."""
    if flow["omitted"]["nodes"] or flow["omitted"]["wide_edges"]:
        return
    core = {x for e in flow["edges"] if e["dtype"] in _NARROWED for x in (e["src"], e["dst"])}
    outs: dict[str, list[int]] = {}
    for j, e in enumerate(flow["edges"]):
        outs.setdefault(e["src"], []).append(j)
    changed = True
    while changed:
        changed = False
        dead = {n for n in core if outs.get(n) and all("removed" in edges[j][1] for j in outs[n])}
        for j, e in enumerate(flow["edges"]):
            if e["dst"] in dead and "removed" not in edges[j][1]:
                edges[j][1].append("removed")
                changed = True


def flow_dot(data: dict[str, Any], after: bool) -> Any:
    """The Graphviz graph of one view; node ids are ``<view>_n<i>`` in the SVG, marks are classes."""
    import graphviz

    view = "after" if after else "before"
    flow = data["flow"]
    marks = flow_marks(data, after)
    idx = {n["id"]: i for i, n in enumerate(flow["nodes"])}
    g = graphviz.Digraph(graph_attr={"rankdir": "TB", "fontname": "Helvetica", "bgcolor": "transparent",
                                     "nodesep": "0.25", "ranksep": "0.35"},
                         node_attr={"fontname": "Helvetica", "fontsize": "10", "style": "filled,rounded",
                                    "shape": "box", "height": "0.3"},
                         edge_attr={"fontname": "Helvetica", "fontsize": "8", "arrowsize": "0.6"})
    for n in flow["nodes"]:
        i = idx[n["id"]]
        dtype, m = marks["nodes"][n["id"]]
        colour = _DTYPE_COLOURS.get(dtype, _OTHER)
        label = n["op"] if n["kind"] == "op" else f"{n['kind']}\n{n['op']}"
        shape = {"input": "invhouse", "initializer": "cylinder", "output": "house"}.get(n["kind"], "box")
        attrs = {"id": f"{view}_n{i}", "class": " ".join(["dt-" + dtype] + ["m-" + x for x in m]),
                 "fillcolor": colour + "33", "color": colour, "shape": shape,
                 "tooltip": f"{n['id']} ({dtype}){' ' + n['source'] if n.get('source') else ''}"
                            + ("; " + ", ".join(m) if m else "")}
        if "source" in m:
            attrs["penwidth"] = "2.5"
        if "clamp" in m or "error" in m:
            attrs.update(color="#b71c1c", penwidth="3", peripheries="2")
            label += "\n(" + ("clamped" if "clamp" in m else "build error") + f" on {data['target']['name']})"
        if "refused" in m:
            attrs.update(color="#b71c1c", penwidth="3", peripheries="2")
        if "removed" in m:
            attrs["style"] = "filled,rounded,dashed"
        if "index_unproved" in m:
            attrs.update(style="filled,rounded,dotted", penwidth="2.5", color="#f9a825")
        if "rewritten" in m:
            attrs["style"] = "filled,rounded,dashed"
            label += "\n(rewritten)"
        if "spec" in m:
            label += "\n[spec int64]"
        g.node(f"n{i}", label=label, **attrs)
    casts: dict[str, str] = {}
    for j, (e, (dtype, m)) in enumerate(zip(flow["edges"], marks["edges"])):
        colour = _DTYPE_COLOURS.get(dtype, _OTHER)
        wide = dtype in _NARROWED
        attrs = {"color": colour, "penwidth": "2" if wide else "1", "class": " ".join(["dt-" + dtype] + ["m-" + x for x in m]),
                 "tooltip": f"{e['tensor']}: {dtype}", "id": f"{view}_e{j}"}
        if "removed" in m:
            attrs["style"] = "dashed"
        if wide or "narrowed" in m:
            attrs["label"] = dtype
        if "cast" in m:  # one Cast per value, shared by every narrowed node that reads it
            cid = f"c{idx[e['src']]}_{e['tensor']}"
            if cid not in casts:
                casts[cid] = f"c{len(casts)}"
                g.node(casts[cid], label="Cast\n→ int32", shape="box", style="filled", fillcolor="#fff59d",
                       color="#f57f17", fontsize="8", id=f"{view}_{casts[cid]}",
                       tooltip=f"Cast {e['tensor']} → int32 (inserted)", **{"class": "m-cast dt-int32"})
                g.edge(f"n{idx[e['src']]}", casts[cid], **attrs)
            g.edge(casts[cid], f"n{idx[e['dst']]}", color=_DTYPE_COLOURS["int32"], penwidth="2", label="int32",
                   id=f"{view}_e{j}c", **{"class": "dt-int32 m-cast"})
        else:
            g.edge(f"n{idx[e['src']]}", f"n{idx[e['dst']]}", **attrs)
    return g


def _svg(data: dict[str, Any], after: bool) -> str:
    svg = flow_dot(data, after).pipe(format="svg", encoding="utf-8")
    return re.sub(r"^.*?(?=<svg)", "", svg, flags=re.S)  # the XML prolog and DOCTYPE do not belong inline


def _svgs(data: dict[str, Any], decided: bool) -> tuple[str, str]:
    """Before and after, laid out by two ``dot`` processes at once (each is a process start and a layout)."""
    if not decided:
        return _svg(data, False), ""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        after = pool.submit(_svg, data, True)
        return _svg(data, False), after.result()


def _flow_section(data: dict[str, Any]) -> str:
    flow = data.get("flow")
    head = "<section id=\"flow\"><h2>dtype flow</h2>"
    if not flow:
        return head + "<p>No graph: the model has no graph to draw (state only).</p></section>"
    drawn = {e["finding"] for e in flow["edges"] if e["finding"]}
    elsewhere = [d for d in data.get("decisions") or [] if d["finding"] not in drawn
                 and not d["finding"].startswith(f"op:{flow['layer']}:")]
    aside = (f"<p id=\"flow-elsewhere\">{len(elsewhere)} decisions concern values outside this graph (state, or the"
             " PyTorch graph narrowed before its translation to ONNX): they are in the findings, not drawn.</p>"
             if elsewhere else "")
    if not flow["edges"]:
        return head + (f"<p id=\"flow-empty\">No 64-bit value flows through the {flow['layer']} graph; 64-bit"
                       " values elsewhere (state the forward does not read, or narrowed before the translation)"
                       f" are in the findings.</p>{aside}</section>")
    try:
        decided = data["verb"] != "audit"  # an audit decides nothing: there is no "after" to draw
        before, after = _svgs(data, decided)
    except Exception as e:  # no `dot` on PATH, or it failed: the report stands without the picture
        if isinstance(e, ImportError):
            why = "the graphviz package is not installed (pip install graphviz)"
        elif type(e).__name__ == "ExecutableNotFound":  # graphviz.ExecutableNotFound: `dot` is not on PATH
            why = "Graphviz's dot is not installed (Debian: apt-get install graphviz)"
        else:
            why = f"Graphviz failed: {e}"
        return head + f"<p id=\"flow-missing\">No picture: {_e(why)}. The graph is in the report data (flow).</p></section>"
    om = flow["omitted"]
    cut = (f"<p>Cut for readability: {om['nodes']} more nodes and {om['wide_edges']} 64-bit edges are in the data,"
           " not drawn.</p>") if om["nodes"] or om["wide_edges"] else ""
    legend = "".join(f"<span class=\"sw\" style=\"background:{c}\"></span>{_e(d)} " for d, c in _DTYPE_COLOURS.items())
    return (head + f"<p>The {flow['layer']} graph's 64-bit values and their neighbours: {len(flow['nodes'])} nodes,"
            f" {len(flow['edges'])} edges. Thick border: a 64-bit value starts here; [spec int64]: an int64 the ONNX"
            " spec requires (a pinned input slot or an always-int64 output); yellow Cast → int32 (after): inserted"
            " where a narrowed node reads a kept int64 value; double red border: the target would clamp it or fail"
            " to build (the audit's prediction), or refused; dashed: removed or rewritten; dotted yellow: an index"
            " not proved inside its table.</p>"
            f"<p class=\"legend\">{legend}</p>{cut}{aside}"
            + ("<div class=\"toggle\"><label><input type=\"radio\" name=\"view\" value=\"before\" checked> before</label>"
               "<label><input type=\"radio\" name=\"view\" value=\"after\"> after narrowing</label></div>"
               if decided else "<p id=\"flow-audit\">An audit decides nothing: the reports of fix and convert draw this"
               " graph after narrowing too.</p>")
            + f"<div id=\"flow-before\" class=\"view\">{before}</div>"
            + (f"<div id=\"flow-after\" class=\"view\" hidden>{after}</div>" if decided else "") + "</section>")


_CSS = """
body{font-family:system-ui,Helvetica,Arial,sans-serif;margin:1.5em;color:#222;max-width:110em}
h1{font-size:1.3em;word-break:break-all}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.4em 0}
td,th{border:1px solid #ddd;padding:.2em .45em;text-align:left;vertical-align:top}
th{background:#f3f3f3}table.sortable th{cursor:pointer;user-select:none}
th.asc::after{content:" ▲"}th.desc::after{content:" ▼"}
.verdict{font-weight:bold;padding:.5em;border-radius:4px}.verdict.ok{background:#e8f5e9}.verdict.bad{background:#ffebee}
.filters label{margin-right:1em;font-size:.9em}
.o-clamp,.o-error{color:#b71c1c;font-weight:bold}.o-precision_loss{color:#e65100}.o-unchecked{color:#f57f17}
.prov{font-family:ui-monospace,monospace;font-size:.9em}
.view{overflow:auto;border:1px solid #ddd;max-height:85vh}.toggle label{margin-right:1em}
.sw{display:inline-block;width:.9em;height:.9em;margin:0 .2em 0 .6em;vertical-align:middle}
g.node.hl polygon,g.node.hl path,g.node.hl ellipse{stroke:#000;stroke-width:5}
tr.hl{background:#fffde7}
"""

_JS = r"""
(function(){
  "use strict";
  var table = document.getElementById("findings-table");
  var rows = table ? Array.prototype.slice.call(table.tBodies[0].rows) : [];
  function apply(){
    var want = {};
    document.querySelectorAll(".filters select").forEach(function(s){ want[s.dataset.key] = s.value; });
    var text = (document.getElementById("filter-text") || {value: ""}).value.toLowerCase();
    var shown = 0;
    rows.forEach(function(r){
      var ok = Object.keys(want).every(function(k){ return !want[k] || r.dataset[k] === want[k]; })
               && (!text || r.textContent.toLowerCase().indexOf(text) >= 0);
      r.hidden = !ok; if (ok) shown++;
    });
    var s = document.getElementById("shown"); if (s) s.textContent = String(shown);
  }
  document.querySelectorAll(".filters select, #filter-text").forEach(function(el){
    el.addEventListener("input", apply); el.addEventListener("change", apply);
  });
  if (table) table.tHead.querySelectorAll("th").forEach(function(th){
    th.addEventListener("click", function(){
      var col = Number(th.dataset.col), asc = !th.classList.contains("asc");
      table.tHead.querySelectorAll("th").forEach(function(h){ h.classList.remove("asc", "desc"); });
      th.classList.add(asc ? "asc" : "desc");
      var key = function(r){ return r.cells[col].textContent.trim(); };
      rows.sort(function(a, b){
        var x = key(a), y = key(b), nx = Number(x), ny = Number(y);
        var c = (x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, undefined, {numeric: true});
        return asc ? c : -c;
      });
      rows.forEach(function(r){ table.tBodies[0].appendChild(r); });
    });
  });
  document.querySelectorAll("input[name=view]").forEach(function(radio){
    radio.addEventListener("change", function(){
      document.querySelectorAll(".view").forEach(function(v){ v.hidden = v.id !== "flow-" + radio.value; });
    });
  });
  document.querySelectorAll("a.goto").forEach(function(a){
    a.addEventListener("click", function(){
      document.querySelectorAll("g.node.hl, tr.hl").forEach(function(g){ g.classList.remove("hl"); });
      ["before", "after"].forEach(function(v){
        var g = document.getElementById(v + "_" + a.dataset.node);
        if (g) { g.classList.add("hl"); }
      });
      a.closest("tr").classList.add("hl");
      var shown = document.querySelector(".view:not([hidden]) g.node.hl");
      if (shown && shown.scrollIntoView) shown.scrollIntoView({block: "center", inline: "center"});
    });
  });
  window.trtreadyReport = JSON.parse(document.getElementById("trtready-report").textContent);
})();
"""
