"""The zoo through ``trtready convert``, each model as its users call it; writes docs/zoo.md.

For every zoo model (``tests/zoo/models.py``), or those named with ``--only``:

1. ``python -m trtready convert tests.zoo.models:NAME -o TMP --json TMP/report.json --baseline`` in a
   fresh interpreter: exit code, wall time (interpreter start and imports included), decisions
   (narrow / keep / refuse), whether verification passed, INT64 execution tensors / INT64 shape tensors
   / Cast layers before → after (the report's ``build.network_before`` → ``build.network``), and on
   failure the error line.
2. The same steps without trtready (``tests/zoo/upstream.py``, another fresh interpreter):
   ``torch.export.export`` → ``torch.onnx.export(dynamo=True)`` → ONNX Runtime → TensorRT-RTX parse +
   build, and the older exporter (``dynamo=False``).
3. A classification of every failure: *upstream* when the plain step fails too and convert fails for
   the same reason; *trtready* when the plain path works (or convert fails before reaching the step
   that fails upstream — then the upstream failure is named too).

    .venv/bin/python bench/zoo.py [--only bert,gpt2] [--no-upstream] [--out docs/zoo.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

# The children import this worktree's trtready and the zoo (tests/ is a package at the root).
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "COLUMNS": "200"}
TIMEOUT_S = 600


@dataclass
class Convert:
    exit: int
    seconds: float
    error: str = ""
    decisions: dict[str, int] = field(default_factory=dict)
    verified: bool | None = None
    worst: str = ""  # the worst output of a failed comparison: "name max_abs (atol)"
    before: dict[str, int] | None = None
    after: dict[str, int] | None = None
    exporter: str | None = None  # the export path that wrote the ONNX file (report's export.exporter)
    export_line: str = ""  # why: the earlier paths' failures


def error_line(stderr: str, stdout: str = "") -> str:
    """trtready's one error line; its FAILED verdict (exit 1); the last line of a traceback; the first line.

    Warnings are skipped: torch's FutureWarnings reach stderr on success too.
    """
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("trtready:"):
            return ln
    for ln in stdout.splitlines():
        if "FAILED" in ln:
            return ln.strip()
    tb = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception)\b", ln)]
    if tb:
        return tb[-1]
    rest = [ln for ln in lines if "Warning" not in ln and not ln.startswith("return ")]
    return rest[0] if rest else ""


def _network(view: dict[str, Any] | None) -> dict[str, int] | None:
    if not view:
        return None
    return {"exec": view["int64_execution_tensors"], "shape": view["int64_shape_tensors"], "casts": view["cast_layers"]}


def run_convert(spec: str, tmp: Path) -> Convert:
    tmp.mkdir(parents=True, exist_ok=True)
    out, report = tmp / "out", tmp / "report.json"
    cmd = [sys.executable, "-m", "trtready", "convert", spec, "-o", str(out), "--target", "trt-rtx",
           "--json", str(report), "--baseline"]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=TIMEOUT_S)
        code, stderr, stdout = proc.returncode, proc.stderr, proc.stdout
    except subprocess.TimeoutExpired:
        code, stderr, stdout = 124, f"timed out after {TIMEOUT_S} s", ""
    res = Convert(code, round(time.perf_counter() - t, 1))
    if code != 0:
        res.error = error_line(stderr, stdout)
    if report.is_file():
        r = json.loads(report.read_text())
        res.decisions = dict(Counter(d["action"] for d in r.get("decisions", [])))
        res.verified = (r.get("verification") or {}).get("passed")
        for comp in (r.get("verification") or {}).get("comparisons", []):
            bad = [o for o in comp["outputs"] if not o["passed"]]
            if bad and not res.worst:
                o = max(bad, key=lambda o: o.get("max_abs") or 0)
                res.worst = f"{comp['candidate']}: {o['name']} max abs {o.get('max_abs'):.3g} (atol {o.get('atol'):g})"
        export = r.get("export") or {}
        res.exporter = export.get("exporter")
        res.export_line = "; ".join(f"{f['path']} failed: {f['reason']}" for f in export.get("failed", []))
        build = r.get("build") or {}
        res.before, res.after = _network(build.get("network_before")), _network(build.get("network"))
    return res


def run_upstream(name: str, tmp: Path) -> dict[str, Any]:
    """tests.zoo.upstream.check on a fresh interpreter (a crash there must not end the benchmark)."""
    code = ("import json, logging, pathlib, sys, warnings; warnings.simplefilter('ignore'); "
            "logging.disable(logging.WARNING); "
            "from tests.zoo.models import spec; from tests.zoo.upstream import check; "
            f"r = check(spec({name!r}), pathlib.Path({str(tmp)!r})); "
            "print('UPSTREAM ' + json.dumps({**r.as_dict(), 'first_failure': r.first_failure()}))")
    try:
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"crashed": f"timed out after {TIMEOUT_S} s"}
    for ln in proc.stdout.splitlines():
        if ln.startswith("UPSTREAM "):
            return json.loads(ln.removeprefix("UPSTREAM "))
    return {"crashed": error_line(proc.stderr) or f"exit {proc.returncode}"}


# How convert's error line names each upstream step (its own words or the library's exception type).
STEP_WORDS = {
    "torch.export": ("torch.export", "torch._dynamo", "UserError", "Unsupported", "GuardOnDataDependent"),
    "torch.onnx": ("torch.onnx", "ConversionError", "ONNX compatibility", "TorchExportError"),
    "onnxruntime": ("ONNX Runtime", "onnxruntime"),
    "tensorrt": ("tensorrt", "TensorRT"),
}


def _signature(step: str, error: str) -> str:
    """The part of an upstream error that convert's message would repeat (symbolic sizes vary by run)."""
    if step == "tensorrt":
        m = re.search(r"name: (\S+)", error)
        return m[1] if m else error
    text = error.split(": ", 1)[-1]
    return re.split(r"\s*(torch\.Size|\(|\[|s\d)", text, maxsplit=1)[0][:40]


def classify(conv: Convert, up: dict[str, Any], line: str) -> str:
    """pass / upstream: STEP / trtready …, from convert's result and the plain steps' (see the module doc).

    Upstream needs convert to fail where the plain step fails: its error repeats the upstream reason,
    or names the same library. A reason it does not repeat, or an upstream failure shown as trtready's
    "internal error", is noted: the failure is upstream, the report of it is trtready's to fix.
    """
    if conv.exit == 0 and conv.verified:
        return "pass"
    first = up.get("first_failure")
    if first:
        step, err = first
        same_reason = _signature(step, err).lower() in line.lower()
        same_step = any(w.lower() in line.lower() for w in STEP_WORDS[step])
        if same_reason or same_step:
            label = f"upstream: {step}"
            if "internal error" in line:
                label += " (reported as a trtready internal error)"
            elif not same_reason:
                label += " (without the upstream reason)"
            return label
        return f"trtready (before {step}, which fails without trtready too)"
    if "crashed" in up:
        return "trtready? (the plain check crashed: " + up["crashed"] + ")"
    return "trtready"


def _ba(conv: Convert, key: str) -> str:
    if conv.after is None:
        return "–"
    # no baseline: the unmodified model does not parse (what convert's rewrites were for)
    return f"{conv.before[key] if conv.before is not None else '–'} → {conv.after[key]}"


def _dec(conv: Convert) -> str:
    if not conv.decisions:
        return "–"
    cell = " / ".join(str(conv.decisions.get(a, 0)) for a in ("narrow", "keep", "remove"))
    rewrites = conv.decisions.get("rewrite", 0)
    return cell + (f" (+{rewrites} rewrite)" if rewrites else "")


def _ok(step: dict[str, Any]) -> str:
    return {True: "ok", False: "**fails**", None: "–"}[step.get("ok")]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _upstream_cells(up: dict[str, Any]) -> list[str]:
    if "crashed" in up:
        return ["crashed: " + _cell(up["crashed"])] + [""] * 4
    ort = _ok(up["onnxruntime"])
    if up["onnxruntime"].get("ok") and up.get("ort_max_abs") is not None:
        ort = f"ok ({up['ort_max_abs']:.1g})"
    legacy = _ok(up["legacy_onnx"])
    if up["legacy_onnx"].get("ok") and up.get("legacy_ort_max_abs") is not None:
        legacy = f"ok ({up['legacy_ort_max_abs']:.1g})"
    return [_ok(up["torch_export"]), _ok(up["torch_onnx"]), ort, _ok(up["tensorrt"]), legacy]


def table(rows: list[tuple[str, Convert, dict[str, Any], str]], with_upstream: bool) -> list[str]:
    from tests.zoo.models import ZOO

    head = ("| model | family | exit | time (s) | narrow / keep / remove | verified | INT64 exec | INT64 shape "
            "| Cast layers | class |")
    sep = "|---|---|---|---|---|---|---|---|---|---|"
    if with_upstream:
        head += " plain torch.export | plain torch.onnx | plain ORT (max abs) | plain TensorRT-RTX | dynamo=False export (ORT max abs) |"
        sep += "---|---|---|---|---|"
    out = [head, sep]
    notes = []
    for name, conv, up, cls in rows:
        verified = {True: "passed", False: "**failed**", None: "–"}[conv.verified]
        row = (f"| {name} | {ZOO[name][1]} | {conv.exit} | {conv.seconds:.1f} | {_dec(conv)} | {verified} | "
               f"{_ba(conv, 'exec')} | {_ba(conv, 'shape')} | {_ba(conv, 'casts')} | {_cell(cls)} |")
        if with_upstream:
            row += " " + " | ".join(_upstream_cells(up)) + " |"
        out.append(row)
        head: list[str] = []
        if conv.exporter and conv.exporter != "dynamo":
            head.append(f"- **{name}**: written by `{conv.exporter}`: `{_cell(conv.export_line)}`")
        if conv.exit != 0 or not conv.verified:
            why = conv.error or "(no error line)"
            head.append(f"- **{name}**: `{_cell(why)}`" + (f" — {conv.worst}" if conv.worst else ""))
        sub: list[str] = []
        first = up.get("first_failure")
        if with_upstream and first:
            sub.append(f"  - without trtready, {first[0]} fails: `{_cell(first[1])}`")
        if with_upstream and up.get("legacy_onnx", {}).get("ok") is False:
            sub.append(f"  - the dynamo=False export of {name} fails: `{_cell(up['legacy_onnx']['error'])}`")
        if sub and not head:  # the upstream failures trtready gets past, under the model they belong to
            head.append(f"- **{name}**: converts, builds and verifies with trtready")
        notes += head + sub
    return out + ([""] + notes if notes else [])


def versions() -> str:
    import importlib.metadata as md

    def v(p: str) -> str:
        try:
            return md.version(p)
        except md.PackageNotFoundError:
            return "not installed"

    cores = os.cpu_count()
    mem = ""
    try:
        kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return (f"{platform.machine()}, {cores} cores{mem}, no GPU; Python {platform.python_version()}, "
            f"torch {v('torch')}, transformers {v('transformers')}, onnx {v('onnx')}, onnx-ir {v('onnx-ir')}, "
            f"onnxscript {v('onnxscript')}, onnxruntime {v('onnxruntime')}, tensorrt_rtx {v('tensorrt_rtx')}")


def write_doc(path: Path, rows: list[Any], total_s: float) -> None:
    n_pass = sum(1 for r in rows if r[3] == "pass")
    n_up = sum(1 for r in rows if r[3].startswith("upstream"))
    lines = [
        "# The zoo: real architectures through `trtready convert`",
        "",
        "Tiny models of real architectures built from `transformers` config classes with seeded random",
        "weights (nothing downloaded; `tests/zoo/models.py`), called the way their users call them: keyword",
        "inputs (`input_ids=`, `attention_mask=` right-padded with at least one kept token per row,",
        "`pixel_values=`, `input_features=`), batch 2 × sequence 16 examples, dynamic batch `[1:4]` × sequence",
        "`[2:32]` for text, dynamic batch for vision and audio. Decoders use `use_cache=False` (a `DynamicCache`",
        "output is not a registered pytree node, so `torch.export` cannot return it). Vision models come from",
        "`transformers` too: timm imports torchvision, whose PyPI wheel does not load beside `torch==2.13.0+cpu`.",
        "",
        f"Each row: `python -m trtready convert tests.zoo.models:NAME -o DIR --target trt-rtx --json report.json"
        f" --baseline` in a fresh interpreter. **{n_pass} of {len(rows)} pass**, {n_up} fail upstream.",
        "",
        "- *time*: wall time of the whole command, interpreter start and imports included (≈ 4 s of it).",
        "- *narrow / keep / remove*: the decisions in the report (state, PyTorch graph and ONNX graph; remove:",
        "  a tensor a proved rewrite took out).",
        "- *INT64 exec / shape, Cast layers*: in the network TensorRT-RTX's parser builds, unmodified export →",
        "  converted model (`build.network_before` → `build.network`).",
        "- *class*: `pass`; `upstream: STEP` when the same step fails without trtready for the same reason;",
        "  `trtready` when the plain path works (then it is a trtready bug); `trtready (before STEP …)` when",
        "  trtready fails first on a model that an upstream step would stop later.",
        "- *plain …*: the same model without trtready (`tests/zoo/upstream.py`): `torch.export.export(model, (),",
        "  kwargs, dynamic_shapes=…)`, `torch.onnx.export(program, dynamo=True)`, ONNX Runtime on the example",
        "  inputs (max abs difference from PyTorch), TensorRT-RTX parse + build with a profile from the bounds,",
        "  and the older exporter (`torch.onnx.export(..., dynamo=False)`, behind a positional `forward`).",
        "",
        "## Keyword inputs, as users call the models",
        "",
        *table(rows, with_upstream=True),
        "",
    ]
    lines += _causes() + [
        "## How to reproduce",
        "",
        "```bash",
        ".venv/bin/python bench/zoo.py                            # every model, writes docs/zoo.md",
        ".venv/bin/python bench/zoo.py --only bert,gpt2 --out /tmp/zoo.md",
        ".venv/bin/python -m pytest tests/zoo                     # the fast set (part of make test)",
        "TRTREADY_TIER=full .venv/bin/python -m pytest tests/zoo   # every model",
        "```",
        "",
        f"Measured on: {versions()}. Whole run {total_s / 60:.0f} min. Timings on a shared machine vary by ±20 %.",
        "",
    ]
    path.write_text("\n".join(lines))


def _causes() -> list[str]:
    """The causes the tests record (tests/zoo/expectations.py), so the doc and the xfail marks agree."""
    from tests.zoo.expectations import EXPORTER, UPSTREAM, XFAIL

    out = ["## Why, model by model (`tests/zoo/expectations.py`, the tests' xfail reasons)", ""]
    from tests.zoo.models import ZOO

    for name in ZOO:
        parts = []
        if name in UPSTREAM:
            u = UPSTREAM[name]
            parts.append(f"upstream ({u.step}: “{u.reason} …”; `fix` of the dynamo=False export is tested instead)")
        if name in EXPORTER:
            parts.append(f"expected to pass, written by `{EXPORTER[name][0]}` (plain dynamo: “{EXPORTER[name][1]} …”)")
        if name in XFAIL:
            parts.append(f"xfail today: {XFAIL[name]}")
        out.append(f"- **{name}**: " + ("; ".join(parts) if parts else "expected to pass"))
    return out + [""]


def main() -> None:
    from tests.zoo.models import ZOO

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="comma-separated zoo names (default: all)")
    ap.add_argument("--no-upstream", action="store_true", help="skip the plain torch.export/torch.onnx/ORT/TRT checks")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "zoo.md")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    ap.add_argument("--from-json", type=Path, default=None, help="render the doc from an earlier --json, no runs")
    a = ap.parse_args()
    if a.from_json:
        raw = json.loads(a.from_json.read_text())
        minutes = raw.pop("_minutes", 0.0)
        rows = [(n, Convert(**r["convert"]), r["upstream"], r["class"]) for n, r in raw.items()]
        write_doc(a.out, rows, minutes * 60)
        print(f"wrote {a.out}")
        return
    names = a.only.split(",") if a.only else list(ZOO)
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        ap.error(f"not in the zoo: {', '.join(unknown)} (known: {', '.join(ZOO)})")
    t0 = time.perf_counter()
    rows, raw = [], {}
    for name in names:
        with tempfile.TemporaryDirectory() as tmp_s:
            tmp = Path(tmp_s)
            conv = run_convert(f"tests.zoo.models:{name}", tmp / "kw")
            up = {} if a.no_upstream else run_upstream(name, Path(tempfile.mkdtemp(dir=tmp)))
            cls = classify(conv, up, conv.error)
            rows.append((name, conv, up, cls))
            print(f"{name:16} exit {conv.exit} {conv.seconds:6.1f} s  {cls:40} {conv.error[:110]}", flush=True)
            raw[name] = {"convert": conv.__dict__, "upstream": up, "class": cls}
    total = time.perf_counter() - t0
    write_doc(a.out, rows, total)
    if a.json:
        a.json.write_text(json.dumps({**raw, "_minutes": total / 60}, indent=1))
    print(f"wrote {a.out} ({total / 60:.1f} min)")


if __name__ == "__main__":
    main()
