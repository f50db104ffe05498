"""The versioned JSON report (docs/cli.md, "JSON report"); ``report.schema.json`` describes it."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from trtready.environment import environment
from trtready.version import __version__

SCHEMA_VERSION = "1.5"


def schema() -> dict[str, Any]:
    """The JSON Schema every report validates against."""
    loaded: dict[str, Any] = json.loads(resources.files("trtready.report").joinpath("report.schema.json").read_text())
    return loaded


def audit_report_json(report: Any, verb: str = "audit") -> dict[str, Any]:
    res = report.result
    target = report.target
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "verb": verb,
        "model": {"source": res.model, "kind": res.model_kind, "sha256": res.sha256,
                  **({"config_only": res.config_only} if res.config_only is not None else {})},
        "target": {"name": target.name, "title": target.profile.title, "why": target.why,
                   "release": target.release.to_json() if target.release is not None else None},
        "environment": environment(),
        "layers": dict(res.layers),
        "notes": list(res.notes),
        "assumptions": list(res.assumptions),
        "verdict": {"ready": report.ready, "worst": res.worst(target.name).value, "line": report.verdict(),
                    "confidence": confidence(report.ready, None)},
        "findings": [f.to_json() for f in res.findings],
        "flow": res.flow,
        "decisions": [],
        "verification": None,
        "build": None,
    }


def confidence(ready: bool, verification: dict[str, Any] | None) -> str:
    """How far a verdict is established (docs/cli.md, "Confidence"): ``blocked`` when not ready;
    ``verified`` when the written file ran against the original and agreed; ``likely`` when only part of
    the chain ran (ONNX Runtime could not run the file: PyTorch only); ``unverified`` when nothing ran
    (an audit's prediction, ``--no-verify``, ``--dry-run``, a state-only model)."""
    if not ready:
        return "blocked"
    if verification is None or not verification.get("comparisons"):
        return "unverified"
    return "likely" if verification.get("scope") == "pytorch-only" else "verified"


def fix_report_json(result: Any) -> dict[str, Any]:
    """The audit report plus decisions, verification and what was written."""
    data = audit_report_json(result.report, verb="fix")
    data["decisions"] = [d.to_json() for d in result.decisions]
    data["input_verdict"] = data["verdict"]  # the audit of the model given
    data["verdict"] = result.verdict().to_json()  # what fix writes: the line the terminal shows, the exit code
    data["verification"] = (
        {"passed": result.verified, "comparisons": [c.to_json() for c in result.verification],
         "scope": "pytorch-only" if result.unverified else "float32-island" if result.island else "full",
         "island": result.island, "unverified": result.unverified,
         "excused": result.excuses()}
        if result.verification else None
    )
    data["verdict"]["confidence"] = confidence(data["verdict"]["ready"], data["verification"])
    # the findings the output verdict is made of; the others were narrowed, removed or rewritten, or
    # describe a representation the target does not consume
    data["remaining"] = [f.id for f in result.remaining()]
    data["export"] = result.export.to_json() if result.export is not None else None
    data["written"] = [str(p) for p in result.written]
    data["notes"] = data["notes"] + list(result.notes)
    data["dry_run"] = result.dry_run
    return data


def convert_report_json(result: Any) -> dict[str, Any]:
    data = fix_report_json(result.fix)
    data["verb"] = "convert"
    if result.build is not None:
        data["build"] = {
            "library": result.build.library, "version": result.build.version, "engine": str(result.build.engine),
            "manifest": str(result.build.manifest), "seconds": result.build.seconds,
            "profiles": {p.name: p.to_json() for p in result.build.profiles},
            "network": result.build.network.to_json(),
            "network_before": result.baseline.to_json() if result.baseline is not None else None,
            "effect": result.effect,
            "findings": [f.to_json() for f in result.build.findings],
        }
    if getattr(result, "deploy", None) is not None:
        data["deploy"] = result.deploy.to_json()
    return data
