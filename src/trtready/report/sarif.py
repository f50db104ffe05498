"""The SARIF 2.1.0 log of a report (docs/cli.md, "SARIF"): the findings as results a CI tool reads.

Rendered from exactly the dict report.json holds, like the HTML report, so the two cannot disagree.
One ``run``: ``tool.driver.rules`` is the rule registry (``trtready.rules``), one result per finding
under its stable ``ruleId``, plus one per layer that could not be analysed and per failed comparison.
The level follows the verdict: ``error`` for what makes it NOT READY for the target, ``warning`` for an
outcome that needs attention without blocking (``unchecked``), ``note`` for the rest and, after
``fix``/``convert``, for what a decision narrowed, removed or rewrote.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from trtready.audit.findings import Outcome
from trtready.rules import BY_ID, LAYER_NOT_ANALYSED, RULES, VERIFICATION_MISMATCH, Rule
from trtready.version import __version__

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "trtready/finding/v1"  # partialFingerprints key: the finding id and the target


def level(outcome: str) -> str:
    """SARIF level of a prediction: what blocks readiness is an error, ``unchecked`` a warning."""
    o = Outcome(outcome)
    if o.blocks_ready:
        return "error"
    return "warning" if o is Outcome.UNCHECKED else "note"


def render_sarif(data: dict[str, Any], cwd: Path | None = None) -> dict[str, Any]:
    """The SARIF log of a report.json dict; artifact URIs relative to ``cwd`` (default: the current folder)."""
    where = _Locator(data, Path(cwd or os.getcwd()))
    target = data["target"]["name"]
    verdict = data["verdict"]
    rules = [r for r in RULES if not r.retired]
    index = {r.id: i for i, r in enumerate(rules)}
    fixed = data.get("remaining") is not None
    remaining = set(data.get("remaining") or ())
    decisions = {d["finding"]: d for d in data.get("decisions", [])}
    results = []
    built = (data.get("build") or {}).get("findings", [])  # the engine build's log: about the written model
    for f in data["findings"] + built:
        pred = f["predictions"].get(target)
        if pred is None:
            continue
        rule = BY_ID[f["rule"]]
        lvl, text = level(pred["outcome"]), f"{_subject(f)} — on {target}: {pred['outcome']}: {pred['message']}"
        d = decisions.get(f["id"])
        if fixed and f["id"] not in remaining and f["layer"] != "trt":
            lvl = "note"
            other = "the ONNX translation" if f["layer"] in ("state", "fx") else "the narrowed program"
            text = (f"{_subject(f)} — {data['verb']}: {d['action']}: {d['reason']}" if d is not None
                    else f"{_subject(f)} — not part of what {data['verb']} writes for {target}, which consumes {other}")
        elif d is not None:
            text += f" ({data['verb']}: {d['action']}: {d['reason']})"
        props = {"finding": f["id"], "layer": f["layer"], "kind": f.get("kind", "wide_dtype"), "target": target,
                 "outcome": pred["outcome"]}
        if d is not None:
            props["decision"] = d["action"]
        results.append(_result(rule, index, lvl, text, where.of_finding(f), props, f"{f['id']}@{target}"))
    for layer, state in data.get("layers", {}).items():
        if state.startswith("failed:"):
            text = f"the {layer} layer could not be analysed: {state.removeprefix('failed: ')}"
            results.append(_result(LAYER_NOT_ANALYSED, index, "error", text, where.of_model([layer], "module"),
                                   {"layer": layer, "target": target}, f"layer:{layer}@{target}"))
    for c in (data.get("verification") or {}).get("comparisons", []):
        if c["passed"] or c.get("excused"):  # an excused difference is said in the report, not counted
            continue
        bad = [o for o in c["outputs"] if not o["passed"]]
        text = f"{c['candidate']} differs from {c['reference']}: " + "; ".join(
            f"output {o['name']}: {o['message']}" for o in bad)
        results.append(_result(VERIFICATION_MISMATCH, index, "error", text,
                               where.of_model([o["name"] for o in bad], "variable"),
                               {"reference": c["reference"], "candidate": c["candidate"], "target": target},
                               f"verify:{c['candidate']}:{c['reference']}@{target}"))
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "trtready", "version": __version__, "semanticVersion": __version__,
            "rules": [_rule(r) for r in rules],
        }},
        "originalUriBaseIds": {SRCROOT: {"uri": where.root_uri}},
        "results": results,
        "properties": {
            "verb": data["verb"], "target": target, "ready": verdict["ready"], "verdict": verdict["line"],
            "confidence": verdict.get("confidence"), "worst": verdict["worst"],
            "model": data["model"]["source"],
        },
    }
    if where.artifacts:
        run["artifacts"] = where.artifacts
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rule(r: Rule) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "shortDescription": {"text": r.short}, "fullDescription": {"text": r.help},
            "help": {"text": f"{r.short} {r.help} (trtready docs/cli.md, 'Rules')"}}


def _result(rule: Rule, index: dict[str, int], lvl: str, text: str, locations: list[dict[str, Any]],
            props: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    return {"ruleId": rule.id, "ruleIndex": index[rule.id], "level": lvl, "message": {"text": text},
            "locations": locations, "partialFingerprints": {FINGERPRINT: fingerprint}, "properties": props}


def _subject(f: dict[str, Any]) -> str:
    """The finding in words: what it is, its name, shape and values, and where it comes from."""
    kind = f.get("kind", "wide_dtype")
    name = f["tensor"]
    if kind == "op_unsupported":
        head = f"node {name}"
    elif kind == "index_unproved":
        head = f"{f['dtype']} index {name}"
    elif kind == "plugin_boundary":
        head = f"plugin node {name}"
    else:
        head = f"{f['dtype']} {f.get('role') or 'tensor'} {name}"
    if f.get("shape") is not None and kind == "wide_dtype":
        head += f" {list(f['shape'])}"
    iv = f.get("interval")
    if iv is not None and kind != "op_unsupported":
        head += f" (values {iv['lo']}..{iv['hi']})"
    if f.get("where") and f["where"] != name:
        head += f" at {f['where']}"
    return head


class _Locator:
    """Locations: the model file (relative to the current folder when inside it), the user's
    ``file:line`` of a torch.export node, and a logical location naming the node or tensor."""

    def __init__(self, data: dict[str, Any], cwd: Path) -> None:
        self.cwd = cwd.resolve()
        self.root_uri = self.cwd.as_uri() + "/"
        self.artifacts: list[dict[str, Any]] = []
        self._artifact_index: dict[str, int] = {}
        model = data["model"]
        path = None if model["kind"] == "spec" else Path(model["source"])
        self.model = self._artifact(path, sha256=model.get("sha256")) if path is not None else None

    def _artifact(self, path: Path, sha256: str | None = None) -> dict[str, Any]:
        full = path if path.is_absolute() else self.cwd / path
        try:
            loc: dict[str, Any] = {"uri": quote(full.resolve().relative_to(self.cwd).as_posix()), "uriBaseId": SRCROOT}
        except ValueError:  # outside the current folder: an absolute file URI
            loc = {"uri": full.resolve().as_uri()}
        key = loc["uri"]
        if key not in self._artifact_index:
            art: dict[str, Any] = {"location": dict(loc)}
            if sha256:
                art["hashes"] = {"sha-256": sha256}
            self._artifact_index[key] = len(self.artifacts)
            self.artifacts.append(art)
        return {**loc, "index": self._artifact_index[key]}

    def _source(self, source: str | None) -> dict[str, Any] | None:
        """``file:line`` as a physical location, when the file exists."""
        if not source:
            return None
        file, _, line = source.rpartition(":")
        if not file or not line.isdigit() or not Path(file).is_file():
            return None
        return {"artifactLocation": self._artifact(Path(file)), "region": {"startLine": max(int(line), 1)}}

    def _model_location(self) -> dict[str, Any] | None:
        # A model file is binary: line 1 stands for the whole file (code scanning wants a line).
        return None if self.model is None else {"artifactLocation": dict(self.model), "region": {"startLine": 1}}

    def of_finding(self, f: dict[str, Any]) -> list[dict[str, Any]]:
        kind = f.get("kind", "wide_dtype")
        node = kind in ("op_unsupported", "plugin_boundary")
        logical = {"name": f["tensor"], "fullyQualifiedName": f"{f['layer']}:{f['tensor']}",
                   "kind": "function" if node else "variable"}
        loc: dict[str, Any] = {"logicalLocations": [logical]}
        physical = self._model_location() or self._source(f.get("source"))
        if physical is not None:
            loc["physicalLocation"] = physical
        return [loc]

    def of_model(self, names: list[str], kind: str) -> list[dict[str, Any]]:
        """The model file, and a logical location per name (a layer, or the outputs that differ)."""
        loc: dict[str, Any] = {"logicalLocations": [{"name": n, "kind": kind} for n in names]}
        physical = self._model_location()
        if physical is not None:
            loc["physicalLocation"] = physical
        return [loc]
