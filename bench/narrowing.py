"""What narrowing buys, over the zoo: the network TensorRT-RTX's ONNX parser builds, before → after.

For each zoo model (``tests/zoo/models.py``, or those named with ``--only``), two runs of
``python -m trtready convert tests.zoo.models:NAME --target trt-rtx --baseline --json …`` in a fresh
interpreter: the default (``--io keep``) and ``--io int32``. From each report: INT64 execution tensors,
INT64 shape tensors, Cast layers and layers in the unmodified export (``build.network_before``) and in
the converted model (``build.network``), whether verification passed, and why each remaining INT64
execution tensor remains (its decision's reason, a kept graph input/output, or a helper TensorRT's
parser inserts). Writes the section between the markers in docs/narrowing.md.

    .venv/bin/python bench/narrowing.py [--only bert,gpt2] [--out docs/narrowing.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "bench")]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "COLUMNS": "200"}
from zoo import versions  # noqa: E402 - the machine and versions line both benchmark docs carry

BEGIN, END = "<!-- bench/narrowing.py: begin -->", "<!-- bench/narrowing.py: end -->"
KEYS = ("int64_execution_tensors", "int64_shape_tensors", "cast_layers", "layers")


def run(name: str, io: str, tmp: Path) -> dict[str, Any]:
    report = tmp / f"{name}-{io}.json"
    cmd = [sys.executable, "-m", "trtready", "convert", f"tests.zoo.models:{name}", "-o", str(tmp / f"{name}-{io}"),
           "--target", "trt-rtx", "--baseline", "--io", io, "--json", str(report), "--quiet"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    out: dict[str, Any] = {"exit": proc.returncode, "seconds": round(time.perf_counter() - t, 1)}
    if proc.returncode != 0:
        out["error"] = next((ln for ln in proc.stderr.splitlines() if ln.startswith("trtready:")),
                            proc.stdout.strip().splitlines()[-1:] or [""])
    if report.is_file():
        r = json.loads(report.read_text())
        build = r.get("build") or {}
        out["before"], out["after"] = build.get("network_before"), build.get("network")
        out["verified"] = (r.get("verification") or {}).get("passed")
        out["decisions"] = dict(Counter(d["action"] for d in r.get("decisions", [])))
        out["why"] = remaining(out["after"], r.get("decisions", []), io) if out["after"] else {}
    return out


def remaining(network: dict[str, Any], decisions: list[dict[str, Any]], io: str) -> dict[str, str]:
    """Why each INT64 execution tensor of the converted network is still INT64."""
    io_names = {t["name"] for t in network["inputs"] + network["outputs"]}
    reasons = {d["finding"].split(":", 1)[1]: d["reason"] for d in decisions if d["action"] == "keep"}
    why = {}
    for name in network["int64_execution_names"]:
        base = name.removesuffix("_output")
        if name in io_names:
            why[name] = "graph I/O kept (--io keep)" if io == "keep" else "graph I/O: range not proved"
        elif base in reasons:
            why[name] = "kept: " + reasons[base]
        elif name.startswith("ONNXTRT_"):
            why[name] = "a helper TensorRT's parser inserts around an int64 value"
        elif name.endswith("_output"):  # TensorRT names a constant's layer output INITIALIZER_output
            why[name] = "a constant read by a node that stays int64"
        else:
            why[name] = "not traced to a decision"
    return why


def _ba(r: dict[str, Any], key: str) -> str:
    if not r.get("before") or not r.get("after"):
        return "–"
    return f"{r['before'][key]} → {r['after'][key]}"


def section(results: dict[str, dict[str, dict[str, Any]]], minutes: float) -> list[str]:
    from tests.zoo.models import ZOO

    lines = [
        BEGIN,
        "",
        f"Measured by `bench/narrowing.py` on {versions()}; {minutes:.0f} min for the whole run.",
        "Every row is `convert tests.zoo.models:NAME --target trt-rtx --baseline`: the unmodified export",
        "(before) against the converted model (after), in the network TensorRT-RTX's parser builds.",
        "",
        "| model | family | INT64 exec (default) | INT64 exec (`--io int32`) | INT64 shape | Cast layers | layers "
        "| verified | decisions narrow / keep / remove |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for name, runs in results.items():
        d, i = runs["keep"], runs["int32"]
        verified = " / ".join({True: "passed", False: "**failed**", None: "–"}[r.get("verified")] for r in (d, i))
        dec = d.get("decisions") or {}
        lines.append(
            f"| {name} | {ZOO[name][1]} | {_ba(d, 'int64_execution_tensors')} | {_ba(i, 'int64_execution_tensors')} "
            f"| {_ba(i, 'int64_shape_tensors')} | {_ba(i, 'cast_layers')} | {_ba(i, 'layers')} | {verified} | "
            f"{dec.get('narrow', 0)} / {dec.get('keep', 0)} / {dec.get('remove', 0)} |")
        for mode, r in (("default", d), ("--io int32", i)):
            if r["exit"] != 0:
                notes.append(f"- **{name}** ({mode}): exit {r['exit']}: `{r.get('error')}`")
        for mode, r in (("default", d), ("`--io int32`", i)):
            left = r.get("why") or {}
            if left:
                notes.append(f"- **{name}**, left by {mode}: " + "; ".join(f"`{n}` — {w}" for n, w in left.items()))
    lines += ["", "INT64 shape tensors, Cast layers and layers are for `--io int32`; verification is",
              "default / `--io int32`. Why each INT64 execution tensor remains:", "", *notes, "", END]
    return lines


def main() -> None:
    from tests.zoo.models import ZOO

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="comma-separated zoo names (default: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "narrowing.md")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    ap.add_argument("--from-json", type=Path, default=None, help="render the doc from an earlier --json, no runs")
    a = ap.parse_args()
    names = a.only.split(",") if a.only else list(ZOO)
    t0 = time.perf_counter()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    if a.from_json:
        results = json.loads(a.from_json.read_text())
        names = []
    with tempfile.TemporaryDirectory() as tmp_s:
        for name in names:
            results[name] = {io: run(name, io, Path(tmp_s)) for io in ("keep", "int32")}
            d, i = results[name]["keep"], results[name]["int32"]
            print(f"{name:16} default {_ba(d, 'int64_execution_tensors'):10} int32 {_ba(i, 'int64_execution_tensors'):10}"
                  f" casts {_ba(i, 'cast_layers'):10} exit {d['exit']}/{i['exit']}", flush=True)
    text = a.out.read_text() if a.out.exists() else ""
    minutes = results.pop("_minutes", None) if a.from_json else (time.perf_counter() - t0) / 60
    block = "\n".join(section(results, float(minutes or 0)))
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    a.out.write_text(text)
    if a.json:
        a.json.write_text(json.dumps({**results, "_minutes": (time.perf_counter() - t0) / 60}, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
