"""trtready, trtcheck and Polygraphy on the same ONNX files; writes docs/compare.md.

The corpus is made here, in a work folder (never in the checkout):

- zoo exports: ``trtready export tests.zoo.models:NAME --format onnx`` for a subset of the zoo
  (``--zoo``), with each spec's dynamic bounds kept for the tools that take them;
- ONNX's backend node tests that touch INT64/DOUBLE/UINT64 (the cases tests/conformance runs through
  ``fix``), one case per operator (``--node-per-op``), with their bundled inputs and expected outputs.

Every file goes through each tool's own command line, in a fresh process:

- ``trtready audit FILE --target trt8|trt10|trt-rtx --json`` and ``trtready fix FILE -o OUT --target trt8 --json``;
- ``trtcheck FILE --target-trt 8.6|10.3 --format json`` and ``trtcheck FILE --fix --target-trt 8.6``;
- ``polygraphy check lint`` (onnx.checker and ONNX Runtime), and ``polygraphy convert`` with TensorRT-RTX
  (``POLYGRAPHY_USE_TENSORRT_RTX=1``): a real parse and engine build, which TensorRT-RTX does without a GPU.
  Polygraphy's TensorRT 8/10 paths need the ``tensorrt`` wheel and a GPU: ``--probe`` records what they say.

A fixed node case is then run by ONNX Runtime on the case's bundled inputs and compared with its expected
outputs (as tests/conformance does); a fixed zoo file is compared with its original by ``trtready verify``.

trtcheck and Polygraphy live in a venv of their own (``make compare`` builds ``.venv-compare``); this script
runs under the project's venv and calls them by path, so neither is imported here.

    .venv/bin/python bench/compare.py --tools .venv-compare/bin [--zoo bert,gpt2] [--node-per-op 1]
                                      [--work DIR] [--out docs/compare.md]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "COLUMNS": "200"}
TIMEOUT_S = 600

ZOO_DEFAULT = ("bert", "gpt2", "llama", "clip_text", "t5_encoder", "vit", "resnet")
#: trtready target → the trtcheck --target-trt it is compared with (trtcheck models 8.0, 8.6, 10.0, 10.3).
PAIRS = {"trt8": "8.6", "trt10": "10.3"}
TRTREADY_TARGETS = ("trt8", "trt10", "trt-rtx")
#: outcomes that make a trtready verdict NOT READY (docs/cli.md, "SARIF": level error).
BLOCKING = {"precision_loss", "clamp", "error"}
DEFAULT_OUT = ROOT / "docs" / "compare.md"


# --- results ---------------------------------------------------------------------------------------

@dataclass
class Trtready:
    """One ``trtready audit`` for one target, as its report.json says it."""

    exit: int
    ready: bool | None = None
    confidence: str = ""
    wide: int = 0                      # 64-bit tensor findings (kind wide_dtype)
    blocking: int = 0                  # findings whose outcome for the target blocks readiness
    rules: dict[str, int] = field(default_factory=dict)   # rule id → findings blocking the target
    outcomes: dict[str, int] = field(default_factory=dict)  # outcome → findings (all kinds)
    build_error: bool = False          # some finding's outcome is ``error``: the target cannot build it
    error: str = ""


@dataclass
class Trtcheck:
    """One ``trtcheck --format json`` run."""

    exit: int
    verdict: str = ""
    critical: int = 0
    warning: int = 0
    dtype: int = 0                     # TRT-DTYPE-* issues (INT64/FLOAT64/… inputs, weights, casts)
    rules: dict[str, int] = field(default_factory=dict)
    critical_rules: dict[str, int] = field(default_factory=dict)
    error: str = ""


@dataclass
class Fix:
    """A tool's fix: what it changed, whether a file was written, and the check of that file."""

    exit: int
    written: bool = False
    changes: dict[str, int] = field(default_factory=dict)  # trtready: decision → count; trtcheck: fixer → count
    wide_before: int = 0
    wide_after: int | None = None
    verdict_after: str = ""
    runs_correctly: bool | None = None  # ONNX Runtime on bundled data (node) / trtready verify (zoo)
    error: str = ""


@dataclass
class Polygraphy:
    lint_exit: int = -1
    lint_errors: int = 0
    lint_warnings: int = 0
    lint_first: str = ""               # the first error's message
    build_exit: int = -1
    build_error: str = ""


@dataclass
class Row:
    name: str
    origin: str                         # zoo | node
    path: Path
    dynamic: list[str] = field(default_factory=list)
    shapes: dict[str, tuple[list[int], list[int], list[int]]] = field(default_factory=dict)
    trtready: dict[str, Trtready] = field(default_factory=dict)
    trtcheck: dict[str, Trtcheck] = field(default_factory=dict)
    polygraphy: Polygraphy = field(default_factory=Polygraphy)
    fix_trtready: Fix | None = None
    fix_trtcheck: Fix | None = None
    export_error: str = ""


# --- parsing (pure: tests/test_compare_bench.py feeds it a real report) ----------------------------

def summarize_trtready(report: dict[str, Any], target: str, exit_code: int) -> Trtready:
    """What a trtready report.json says about ``target``: verdict, confidence, findings by rule."""
    rules: collections.Counter[str] = collections.Counter()
    outcomes: collections.Counter[str] = collections.Counter()
    wide = blocking = 0
    build_error = False
    for f in report.get("findings", []):
        outcome = (f.get("predictions") or {}).get(target, {}).get("outcome", "")
        outcomes[outcome] += 1
        if f.get("kind") == "wide_dtype":
            wide += 1
        if outcome in BLOCKING:
            blocking += 1
            rules[f.get("rule", "?")] += 1
        build_error |= outcome == "error"
    verdict = report.get("verdict", {})
    return Trtready(exit_code, bool(verdict.get("ready")), verdict.get("confidence", ""), wide, blocking,
                    dict(rules), dict(outcomes), build_error)


def summarize_trtcheck(report: dict[str, Any], exit_code: int) -> Trtcheck:
    rules = collections.Counter(i.get("rule_id", "?") for i in report.get("issues", []))
    dtype = sum(n for r, n in rules.items() if r.startswith("TRT-DTYPE"))
    critical = collections.Counter(i.get("rule_id", "?") for i in report.get("issues", [])
                                   if i.get("severity") == "critical")
    return Trtcheck(exit_code, report.get("verdict", ""), int(report.get("critical_count", 0)),
                    int(report.get("warning_count", 0)), dtype, dict(rules), dict(critical))


def error_line(text: str) -> str:
    """The line a tool's failure is about: trtready's ``error:`` line, Polygraphy's first ``[E]`` or ``[!]``
    that is not its closing FAILED summary, else the last non-blank line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("trtready: error:"):
            return ln.removeprefix("trtready: error:").strip()
    for ln in lines:
        if (ln.startswith("[E]") or ln.startswith("[!]")) and "FAILED | Runtime" not in ln:
            return re.sub(r"^\[[E!]\]\s*", "", ln)
    return lines[-1] if lines else ""


def build_error_line(text: str) -> str:
    """The reason a TensorRT-RTX parse or build failed: the parser's ``In node … (importer): REASON`` line,
    else its first ``ERROR`` line with the one after it (the assertion), else :func:`error_line`."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("[E] In node"):
            return ln.removeprefix("[E] ")
    for i, ln in enumerate(lines):
        if ln.startswith("[E]") and "ERROR" in ln:
            nxt = lines[i + 1] if i + 1 < len(lines) and not re.match(r"\[[EWIV!]\]", lines[i + 1]) else ""
            return re.sub(r"^\[E\]\s*", "", ln) + (" " + nxt if nxt else "")
    return error_line(text)


# --- the corpus ------------------------------------------------------------------------------------

def wide_tensors(path: Path) -> int:
    """Distinct tensors typed INT64, UINT64 or DOUBLE (I/O, initializers, inferred values, Constant outputs)."""
    import onnx

    wide = {onnx.TensorProto.INT64, onnx.TensorProto.DOUBLE, onnx.TensorProto.UINT64}
    model = onnx.load(str(path))
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - count what the file declares
        pass
    g = model.graph
    names = {v.name for v in list(g.input) + list(g.output) + list(g.value_info)
             if v.type.tensor_type.elem_type in wide}
    names |= {t.name for t in g.initializer if t.data_type in wide}
    for node in g.node:
        for a in node.attribute:
            if node.op_type == "Constant" and a.HasField("t") and a.t.data_type in wide:
                names.update(node.output)
    return len(names)


def zoo_rows(names: list[str], work: Path) -> list[Row]:
    """Export each zoo model with ``trtready export`` (a fresh interpreter each); keep its dynamic bounds
    and the example shapes that give Polygraphy's build a profile."""
    from tests.zoo.models import spec

    from trtready.bounds import parse_dynamic
    from trtready.limits import DEFAULT_LIMITS

    rows = []
    (work / "zoo").mkdir(parents=True, exist_ok=True)
    for name in names:
        s = spec(name)
        path = work / "zoo" / f"{name}.onnx"
        row = Row(name, "zoo", path, list(s.dynamic or []))
        bounds = parse_dynamic(row.dynamic, DEFAULT_LIMITS)
        for inp, tensor in (s.kwargs or {}).items():
            opt = list(tensor.shape)
            lo, hi = list(opt), list(opt)
            for (bname, axis), dim in _axis_bounds(bounds).items():
                if bname == inp:
                    lo[axis], hi[axis] = dim
            row.shapes[inp] = (lo, opt, hi)
        if not path.exists():
            rc, out, err, _ = run([sys.executable, "-m", "trtready", "export", f"tests.zoo.models:{name}",
                                   "-o", str(path), "--format", "onnx"])
            if rc != 0:
                row.export_error = error_line(err or out)
        rows.append(row)
    return rows


def _axis_bounds(bounds: list[Any]) -> dict[tuple[str, int], tuple[int, int]]:
    """``{(input, axis): (min, max)}`` from trtready's parsed ``--dynamic`` bounds."""
    return {(b.input, b.axis): (b.lo, b.hi) for b in bounds}


def node_rows(per_op: int, work: Path) -> tuple[list[Row], dict[str, Any], int]:
    """ONNX's backend node cases that touch a 64-bit type, ``per_op`` per operator (first by name,
    ``_expanded`` function bodies left out): the rows, each case's bundled data, and how many cases
    touch a 64-bit type in all."""
    import onnx
    import onnx.backend.test.case.node as node_cases

    from tests.conformance.test_onnx_backend import _touches_wide

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [c for c in node_cases.collect_testcases(None)
                 if c.model is not None and c.data_sets and _touches_wide(c.model)]
    by_op: dict[str, list[Any]] = collections.defaultdict(list)
    for c in sorted(cases, key=lambda c: c.name):
        if "_expanded" in c.name:
            continue
        nodes = c.model.graph.node if c.model is not None else []
        op = nodes[-1].op_type if nodes else "?"
        by_op[op].append(c)
    (work / "node").mkdir(parents=True, exist_ok=True)
    rows, data = [], {}
    for op in sorted(by_op):
        for c in by_op[op][:per_op]:
            path = work / "node" / f"{c.name}.onnx"
            onnx.save(c.model, str(path))
            rows.append(Row(c.name.removeprefix("test_"), "node", path))
            data[c.name.removeprefix("test_")] = c.data_sets[0]
    return rows, data, len(cases)


# --- running the tools -----------------------------------------------------------------------------

def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str, float]:
    start = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env or ENV, cwd=ROOT)
        return p.returncode, p.stdout, p.stderr, time.perf_counter() - start
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {TIMEOUT_S} s", time.perf_counter() - start


def _trtready(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "trtready", *args]


def _dyn(row: Row) -> list[str]:
    return [a for d in row.dynamic for a in ("--dynamic", d)]


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def audit_trtready(row: Row, target: str, out: Path) -> Trtready:
    js = out / f"{row.name}.trtready.{target}.json"
    rc, so, se, _ = run(_trtready(["audit", str(row.path), "--target", target, "--json", str(js), "--quiet",
                                   *_dyn(row)]))
    report = _load(js)
    if report is None:
        return Trtready(rc, error=error_line(se or so))
    return summarize_trtready(report, target, rc)


def audit_trtcheck(row: Row, version: str, tools: Path, out: Path) -> Trtcheck:
    js = out / f"{row.name}.trtcheck.{version}.json"
    rc, so, se, _ = run([str(tools / "trtcheck"), str(row.path), "--target-trt", version, "--format", "json",
                         "--output", str(js), "--force"])
    report = _load(js)
    if report is None:
        return Trtcheck(rc, error=error_line(se or so))
    return summarize_trtcheck(report, rc)


def lint_and_build(row: Row, tools: Path, out: Path) -> Polygraphy:
    """``polygraphy check lint`` and a TensorRT-RTX engine build through ``polygraphy convert``."""
    res = Polygraphy()
    js = out / f"{row.name}.lint.json"
    res.lint_exit, so, se, _ = run([str(tools / "polygraphy"), "check", "lint", str(row.path), "-o", str(js)])
    lint = _load(js) or {}
    levels = collections.Counter(e.get("level") for e in lint.get("lint_entries", []))
    res.lint_errors = levels.get("error", 0) + levels.get("exception", 0)
    res.lint_warnings = levels.get("warning", 0)
    res.lint_first = next((e.get("message", "") for e in lint.get("lint_entries", [])
                           if e.get("level") != "warning"), "")
    shapes = []
    for flag, k in (("--trt-min-shapes", 0), ("--trt-opt-shapes", 1), ("--trt-max-shapes", 2)):
        if row.shapes:
            shapes += [flag] + [f"{n}:[{','.join(map(str, s[k]))}]" for n, s in row.shapes.items()]
    engine = out / f"{row.name}.rtx.engine"
    res.build_exit, so, se, _ = run([str(tools / "polygraphy"), "convert", str(row.path), "-o", str(engine),
                                     *shapes], env={**ENV, "POLYGRAPHY_USE_TENSORRT_RTX": "1"})
    if res.build_exit != 0:
        res.build_error = build_error_line(so + "\n" + se)
    engine.unlink(missing_ok=True)
    return res


def fix_trtready(row: Row, out: Path) -> Fix:
    dst = out / f"{row.name}.trtready-fixed.onnx"
    js = out / f"{row.name}.trtready.fix.json"
    rc, so, se, _ = run(_trtready(["fix", str(row.path), "-o", str(dst), "--target", "trt8", "--json", str(js),
                                   "--force", *_dyn(row)]))
    res = Fix(rc, written=dst.exists(), wide_before=wide_tensors(row.path))
    report = _load(js)
    if report is not None:
        res.changes = dict(collections.Counter(d["action"] for d in report.get("decisions", [])))
        res.verdict_after = "READY" if report.get("verdict", {}).get("ready") else "NOT READY"
        v = report.get("verification")
        if v is not None:
            res.runs_correctly = bool(v.get("passed"))
    if rc != 0:
        res.error = error_line(se or so)
    if res.written:
        res.wide_after = wide_tensors(dst)
    return res


def fix_trtcheck(row: Row, tools: Path, out: Path) -> Fix:
    dst = out / f"{row.name}.trtcheck-fixed.onnx"
    rc, so, se, _ = run([str(tools / "trtcheck"), str(row.path), "--fix", "--output", str(dst), "--force",
                         "--target-trt", "8.6", "--format", "json"])
    res = Fix(rc, written=dst.exists(), wide_before=wide_tensors(row.path))
    try:
        report = json.loads(so)
    except ValueError:
        report = None
    if report is not None:
        applied = report.get("fixes_applied", [])
        res.changes = dict(collections.Counter(str(a.get("fixer", a.get("name", "?"))) for a in applied))
        remaining = report.get("remaining", [])
        res.verdict_after = ("blocked" if any(i.get("severity") == "critical" for i in remaining)
                             else f"{len(remaining)} remaining")
    elif rc != 0:
        res.error = error_line(se or so)
    if res.written:
        res.wide_after = wide_tensors(dst)
    return res


def check_on_data(original: Path, fixed: Path, data: Any) -> bool | None:
    """The fixed node case on its bundled inputs (cast to the fixed file's input types, as a user would feed
    it) against the bundled expected outputs, compared as tests/conformance compares them."""
    import numpy as np
    import onnxruntime as ort

    from tests.conformance.test_onnx_backend import _same, _session

    inputs, expected = data
    try:
        ref = _session(original)
        if not _same(ref.run(None, {i.name: np.asarray(x) for i, x in zip(ref.get_inputs(), inputs)}),
                     list(expected)):
            return None  # ONNX Runtime disagrees with the bundled outputs on the original: not ours to judge
    except Exception:  # noqa: BLE001 - ONNX Runtime cannot run the original
        return None
    types = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
             "tensor(double)": np.float64}
    try:
        sess = _session(fixed)
        feeds = {}
        for i, x in zip(sess.get_inputs(), inputs):
            a = np.asarray(x)
            feeds[i.name] = a.astype(types[i.type]) if i.type in types and a.dtype.kind in "iuf" else a
        return _same(sess.run(None, feeds), list(expected))
    except (ort.capi.onnxruntime_pybind11_state.Fail, Exception):  # noqa: BLE001 - it does not run: wrong
        return False


def verify_zoo(original: Path, fixed: Path, row: Row) -> bool:
    rc, _, _, _ = run(_trtready(["verify", str(original), str(fixed), "--trials", "3", *_dyn(row)]))
    return rc == 0


def measure(row: Row, tools: Path, out: Path, data: dict[str, Any]) -> Row:
    if row.export_error or not row.path.exists():
        return row
    for target in TRTREADY_TARGETS:
        row.trtready[target] = audit_trtready(row, target, out)
    for version in PAIRS.values():
        row.trtcheck[version] = audit_trtcheck(row, version, tools, out)
    row.polygraphy = lint_and_build(row, tools, out)
    row.fix_trtready = fix_trtready(row, out)
    row.fix_trtcheck = fix_trtcheck(row, tools, out)
    for fix, tag in ((row.fix_trtready, "trtready"), (row.fix_trtcheck, "trtcheck")):
        dst = out / f"{row.name}.{tag}-fixed.onnx"
        if not fix.written or (tag == "trtready" and row.origin == "zoo"):
            continue  # trtready's fix verifies its zoo output itself (report.json's verification)
        if row.origin == "node":
            fix.runs_correctly = check_on_data(row.path, dst, data[row.name])
        else:
            fix.runs_correctly = verify_zoo(row.path, dst, row)
    return row


def probe(tools: Path, sample: Path) -> list[tuple[str, str]]:
    """What Polygraphy's TensorRT (not RTX) paths say here: the command and its error line."""
    cmds = [[str(tools / "polygraphy"), "inspect", "capability", str(sample)],
            [str(tools / "polygraphy"), "run", str(sample), "--trt"]]
    out = []
    for cmd in cmds:
        rc, so, se, _ = run(cmd)
        shown = " ".join(["polygraphy", *cmd[1:]]).replace(str(sample), sample.name)
        out.append((shown, f"exit {rc}: " + error_line(so + "\n" + se)))
    return out


# --- the document ----------------------------------------------------------------------------------

def versions(tools: Path) -> dict[str, str]:
    import onnx
    import onnxruntime

    import trtready

    def first(cmd: list[str]) -> str:
        rc, so, se, _ = run(cmd)
        return (so or se).strip().splitlines()[0] if (so or se).strip() else f"exit {rc}"

    rtx = first([str(tools / "python"), "-c", "import tensorrt_rtx; print(tensorrt_rtx.__version__)"])
    tc = first([str(tools / "trtcheck"), "--version"]).split()[-1]
    pg = re.search(r"Version:\s*(\S+)", first([str(tools / "polygraphy"), "--version"]))
    return {"trtready": trtready.__version__, "trtcheck": tc, "polygraphy": pg[1] if pg else "?",
            "tensorrt_rtx (Polygraphy's)": rtx,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def _tr_cell(t: Trtready | None) -> str:
    if t is None:
        return "–"
    if t.ready is None:
        return f"failed (exit {t.exit}): {_short(t.error)}"
    rules = ", ".join(f"{n} {r}" for r, n in sorted(t.rules.items()))
    return f"{'READY' if t.ready else 'NOT READY'} ({t.wide} wide" + (f"; blocks: {rules}" if rules else "") + ")"


def _tc_cell(t: Trtcheck | None) -> str:
    if t is None:
        return "–"
    if not t.verdict:
        return f"failed (exit {t.exit}): {_short(t.error)}"
    crit = ", ".join(f"{n} {r}" for r, n in sorted(t.critical_rules.items()))
    return f"{t.verdict} ({t.critical} crit, {t.warning} warn; {t.dtype} dtype" + (f"; crit: {crit}" if crit else "") + ")"


def _fix_cell(f: Fix | None) -> str:
    if f is None:
        return "–"
    changes = ", ".join(f"{n} {k}" for k, n in sorted(f.changes.items())) or "no change"
    after = f"{f.wide_before}→{f.wide_after}" if f.wide_after is not None else f"{f.wide_before}→(nothing written)"
    ok = {True: "; runs correctly", False: "; WRONG or does not run", None: ""}[f.runs_correctly]
    err = f"; exit {f.exit}: {_short(f.error)}" if f.error else ""
    verdict = f"; after: {f.verdict_after}" if f.written and f.verdict_after else ""
    return f"{changes}; wide {after}{verdict}{ok}{err}"


def _pg_cell(p: Polygraphy) -> str:
    lint = "lint pass" if p.lint_exit == 0 else f"lint FAIL ({p.lint_errors}: {_short(p.lint_first)})"
    build = "RTX build OK" if p.build_exit == 0 else f"RTX build FAILS: {_short(p.build_error)}"
    return f"{lint}; {build}"


def _short(text: str, n: int = 160) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def agreement(rows: list[Row]) -> dict[str, collections.Counter[str]]:
    """Per comparison, how often the two verdicts agree: ``agree``, or which side said what."""
    out: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in rows:
        for target, version in PAIRS.items():
            a, b = r.trtready.get(target), r.trtcheck.get(version)
            if a is None or b is None or a.ready is None or not b.verdict:
                continue
            tc_ok = b.verdict != "blocked"
            key = f"trtready {target} vs trtcheck {version}"
            out[key]["agree" if a.ready == tc_ok else
                     f"trtready {'READY' if a.ready else 'NOT READY'}, trtcheck {b.verdict}"] += 1
        rtx, build = r.trtready.get("trt-rtx"), r.polygraphy.build_exit
        if rtx is not None and rtx.ready is not None and build >= 0:
            ok = build == 0
            out["trtready trt-rtx 'cannot build' vs RTX build"][
                "agree" if (not rtx.build_error) == ok else
                f"trtready {'predicts a build error' if rtx.build_error else 'predicts it builds'}, "
                f"build {'OK' if ok else 'fails'}"] += 1
            out["trtready trt-rtx verdict vs RTX build"][
                "agree" if rtx.ready == ok else
                f"trtready {'READY' if rtx.ready else 'NOT READY'}, build {'OK' if ok else 'fails'}"] += 1
        tc = r.trtcheck.get("10.3")
        if tc is not None and tc.verdict and build >= 0:
            ok = build == 0
            out["trtcheck 10.3 vs RTX build (nearest version it models)"][
                "agree" if (tc.verdict != "blocked") == ok else
                f"trtcheck {tc.verdict}, build {'OK' if ok else 'fails'}"] += 1
    return out


def render(rows: list[Row], args: argparse.Namespace, vers: dict[str, str], probes: list[tuple[str, str]],
           node_total: int, seconds: float) -> str:
    zoo = [r for r in rows if r.origin == "zoo"]
    node = [r for r in rows if r.origin == "node"]
    lines = [
        "## How it was run",
        "",
        "Every number below is a tool's own output on a file of the corpus, parsed from its JSON.",
        "",
        "- versions: " + "; ".join(f"{k} {v}" for k, v in vers.items()),
        f"- machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, no GPU;"
        f" wall time {seconds / 60:.1f} min",
        f"- command: `{' '.join(['bench/compare.py', *args.argv])}`",
        f"- corpus: {len(zoo)} zoo exports (`trtready export tests.zoo.models:NAME --format onnx`) and "
        f"{len(node)} of ONNX's {node_total} backend node cases that touch INT64/UINT64/DOUBLE "
        f"({args.node_per_op} per operator, `_expanded` bodies left out)",
        "",
        "How each tool ran, per file:",
        "",
        "- **trtready**: `trtready audit FILE --target T --json` for trt8, trt10 and trt-rtx (zoo files with",
        "  the spec's `--dynamic` bounds); `trtready fix FILE -o OUT --target trt8 --json` (verifies itself).",
        "- **trtcheck**: `trtcheck FILE --target-trt V --format json` for 8.6 (beside trt8) and 10.3 (beside",
        "  trt10); `trtcheck FILE --fix --output OUT --target-trt 8.6 --format json`.",
        "- **Polygraphy**: `polygraphy check lint FILE` (onnx.checker and ONNX Runtime) and, with",
        "  `POLYGRAPHY_USE_TENSORRT_RTX=1`, `polygraphy convert FILE -o ENGINE` (zoo files with a profile from",
        "  the spec's bounds): TensorRT-RTX's parser and builder, which build an engine without a GPU. Its",
        "  TensorRT 8/10 paths cannot run here:",
    ]
    lines += [f"  - `{cmd}` → {_md(msg)}" for cmd, msg in probes]
    lines += [
        "- a fixed file is checked independently: a node case by ONNX Runtime on its bundled inputs against",
        "  its bundled expected outputs (integers exactly, floats rtol 1e-4, atol 1e-6 as tests/conformance);",
        "  trtcheck's fixed zoo file by `trtready verify ORIGINAL FIXED --trials 3`. \"wide a→b\" counts",
        "  the distinct INT64/UINT64/DOUBLE tensors of the file before and after the fix.",
        "",
        "trtready's verdict counts *wide* findings (64-bit tensors) and names the rules of those that block",
        "the target (outcome `clamp`, `precision_loss` or `error`). trtcheck's verdict is `blocked` on a",
        "critical issue; `dtype` counts its `TRT-DTYPE-*` issues.",
        "",
        "## Agreement",
        "",
        "| comparison | files | agree | disagreements |",
        "|---|---|---|---|",
    ]
    for origin, subset in (("zoo", zoo), ("node", node)):
        for key, counts in sorted(agreement(subset).items()):
            total = sum(counts.values())
            rest = "; ".join(f"{k}: {n}" for k, n in counts.most_common() if k != "agree") or "–"
            lines.append(f"| {origin}: {key} | {total} | {counts['agree']} ({100 * counts['agree'] / total:.0f} %)"
                         f" | {_md(rest)} |")
    lines += ["", "## Fixes", "", "| | files | wrote a file | changed the graph (a decision other than keep; a fixer applied) | checked correct | wrong or not run |",
              "|---|---|---|---|---|---|"]
    for origin, subset in (("zoo", zoo), ("node", node)):
        for tag in ("trtready", "trtcheck"):
            fixes = [getattr(r, f"fix_{tag}") for r in subset if getattr(r, f"fix_{tag}") is not None]
            if not fixes:
                continue
            lines.append(
                f"| {origin}: {tag} fix | {len(fixes)} | {sum(f.written for f in fixes)} | "
                f"{sum(f.written and any(k != 'keep' for k in f.changes) for f in fixes)} | "
                f"{sum(f.runs_correctly is True for f in fixes)} | {sum(f.runs_correctly is False for f in fixes)} |")
    why: collections.Counter[str] = collections.Counter()
    for r in node:
        f = r.fix_trtready
        if f is not None and not f.written:
            # the reason without the tensor's name or the file's path: one line per kind of refusal
            reason = re.sub(r"tensor \S+ \(", "tensor (", f.error.split(" (if ")[0].split(" (+")[0])
            why[_short(re.sub(r"(/tmp|/\S*/)\S*", "FILE", reason), 120)] += 1
    if why:
        lines += ["", "Why `trtready fix` wrote nothing, node cases:", ""]
        lines += [f"- {n}: {_md(k)}" for k, n in why.most_common()]
    lines += ["", "## What each flags, by rule (node cases)", ""]
    tr_rules: collections.Counter[str] = collections.Counter()
    tc_rules: collections.Counter[str] = collections.Counter()
    for r in node:
        for t in r.trtready.values():
            tr_rules.update({k: 1 for k in t.rules})
        for c in r.trtcheck.values():
            tc_rules.update({k: 1 for k in c.rules})
    lines.append("Files on which a rule fired (trtready: blocking findings, any of its three targets; "
                 "trtcheck: any issue, 8.6 or 10.3):")
    lines.append("")
    lines.append("- trtready: " + (", ".join(f"{k} {n}" for k, n in tr_rules.most_common()) or "none"))
    lines.append("- trtcheck: " + (", ".join(f"{k} {n}" for k, n in tc_rules.most_common()) or "none"))
    lines += ["", "## Where a verdict and the TensorRT-RTX build differ (node cases)", "",
              "Each node case whose RTX build (Polygraphy) disagrees with trtready's trt-rtx prediction or with",
              "trtcheck's 10.3 verdict, with the builder's reason:", "",
              "| case | trtready trt-rtx | trtcheck 10.3 | RTX build |", "|---|---|---|---|"]
    for r in node:
        rtx, tc, built = r.trtready.get("trt-rtx"), r.trtcheck.get("10.3"), r.polygraphy.build_exit == 0
        if rtx is None or tc is None or rtx.ready is None or not tc.verdict or r.polygraphy.build_exit < 0:
            continue
        if rtx.ready != built or (tc.verdict != "blocked") != built:
            reason = "OK" if built else _short(r.polygraphy.build_error, 200)
            lines.append("| " + " | ".join(_md(c) for c in [r.name, _tr_cell(rtx), _tc_cell(tc), reason]) + " |")
    header = ("| file | trtready trt8 | trtcheck 8.6 | trtready trt10 | trtcheck 10.3 | trtready trt-rtx | "
              "Polygraphy | trtready fix (trt8) | trtcheck --fix (8.6) |")
    sep = "|---" * 9 + "|"
    for title, subset in (("Zoo exports", zoo), ("Node cases", node)):
        lines += ["", f"## {title}", "", header, sep]
        for r in subset:
            if r.export_error:
                lines.append(f"| {r.name} | export failed: {_md(r.export_error)} |" + " |" * 7)
                continue
            lines.append("| " + " | ".join(_md(c) for c in [
                r.name, _tr_cell(r.trtready.get("trt8")), _tc_cell(r.trtcheck.get("8.6")),
                _tr_cell(r.trtready.get("trt10")), _tc_cell(r.trtcheck.get("10.3")),
                _tr_cell(r.trtready.get("trt-rtx")), _pg_cell(r.polygraphy),
                _fix_cell(r.fix_trtready), _fix_cell(r.fix_trtcheck)]) + " |")
    return "\n".join(lines) + "\n"


MARKER = "<!-- Everything below is written by bench/compare.py (make compare). Do not edit by hand. -->"


def write_doc(out: Path, generated: str) -> None:
    """Write the generated part below MARKER, keeping the hand-written reading above it."""
    kept = ""
    if out.exists() and MARKER in out.read_text():
        kept = out.read_text().split(MARKER)[0]
    out.write_text(kept + MARKER + "\n\n" + generated)


def load_results(path: Path) -> tuple[list[Row], dict[str, Any]]:
    """Rows saved by an earlier run (``WORK/results.json``), to render again without running the tools."""
    saved = json.loads(path.read_text())
    rows = []
    for d in saved["rows"]:
        row = Row(d["name"], d["origin"], Path(d["path"]), d["dynamic"], d["shapes"], export_error=d["export_error"])
        row.trtready = {k: Trtready(**v) for k, v in d["trtready"].items()}
        row.trtcheck = {k: Trtcheck(**v) for k, v in d["trtcheck"].items()}
        row.polygraphy = Polygraphy(**d["polygraphy"])
        row.fix_trtready = Fix(**d["fix_trtready"]) if d["fix_trtready"] else None
        row.fix_trtcheck = Fix(**d["fix_trtcheck"]) if d["fix_trtcheck"] else None
        rows.append(row)
    return rows, saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tools", type=Path, default=ROOT / ".venv-compare" / "bin",
                        help="the bin folder holding trtcheck, polygraphy and their python")
    parser.add_argument("--zoo", default=",".join(ZOO_DEFAULT), help="zoo models, comma-separated ('' for none)")
    parser.add_argument("--node-per-op", type=int, default=1, help="node cases per operator (0: none)")
    parser.add_argument("--node-limit", type=int, default=0, help="about this many node cases, evenly spaced over the operators (0: all)")
    parser.add_argument("--work", type=Path, default=None, help="keep the corpus and outputs here")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--render", type=Path, default=None,
                        help="write the document from an earlier run's WORK/results.json, running nothing")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.render is not None:
        rows, saved = load_results(args.render)
        args.argv = saved["argv"]
        write_doc(args.out, render(rows, args, saved["versions"], [tuple(p) for p in saved["probes"]],
                                   saved["node_total"], saved["seconds"]))
        return 0
    for tool in ("trtcheck", "polygraphy", "python"):
        if not (args.tools / tool).exists():
            print(f"compare: {args.tools / tool} missing: run `make compare` (it builds .venv-compare)",
                  file=sys.stderr)
            return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="trtready-compare-"))
    out = work / "out"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = zoo_rows([n for n in args.zoo.split(",") if n], work)
    data: dict[str, Any] = {}
    node_total = 0
    if args.node_per_op > 0:
        nrows, data, node_total = node_rows(args.node_per_op, work)
        step = -(-len(nrows) // args.node_limit) if args.node_limit > 0 else 1
        rows += nrows[::step]  # evenly spaced over the operators, not the first ones by name
    print(f"compare: {len(rows)} files in {work}", file=sys.stderr)
    done = 0

    def one(r: Row) -> Row:
        nonlocal done
        measure(r, args.tools, out, data)
        done += 1
        print(f"  [{done}/{len(rows)}] {r.origin} {r.name}", file=sys.stderr)
        return r

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(one, rows))
    sample = next((r.path for r in rows if r.path.exists()), None)
    probes = probe(args.tools, sample) if sample is not None else []
    seconds = time.perf_counter() - start
    saved = {"rows": [asdict(r) for r in rows], "probes": probes, "node_total": node_total,
             "seconds": seconds, "versions": versions(args.tools), "argv": args.argv}
    (work / "results.json").write_text(json.dumps(saved, default=str, indent=1))
    write_doc(args.out, render(rows, args, saved["versions"], probes, node_total, seconds))
    print(f"compare: wrote {args.out}", file=sys.stderr)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
