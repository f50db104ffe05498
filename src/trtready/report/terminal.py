"""Terminal view of reports with rich: tables grouped by severity that fit 100 columns."""

from __future__ import annotations

from typing import Any

from trtready.audit.findings import Finding, Outcome
from trtready.dim_fixes import APPLIED

WIDTH = 100

_STYLE = {
    Outcome.ERROR: "bold red",
    Outcome.CLAMP: "red",
    Outcome.PRECISION_LOSS: "yellow",
    Outcome.UNCHECKED: "magenta",
    Outcome.CAST: "cyan",
    Outcome.FINE: "green",
}
_TITLE = {
    Outcome.ERROR: "fails to convert or build",
    Outcome.CLAMP: "values clamped: wrong results, no error",
    Outcome.PRECISION_LOSS: "float64 rounded to float32",
    Outcome.UNCHECKED: ("not checked before the build: an index out of range reads zero rows; a plugin must accept "
                        "INT64; Gather indices are cast to INT32"),
    Outcome.CAST: "cast inserted or converted exactly (speed cost)",
    Outcome.FINE: "handled natively",
}


_INVISIBLE = {0x7F, *range(0x80, 0xA0), 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF}


def safe_text(text: object) -> str:
    """``text`` with control and bidi characters shown as escapes (``\\x1b``): names come from model
    files, and a tensor name must not move the cursor, clear the screen or break a one-line error."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if code < 0x20 or code in _INVISIBLE:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def esc(text: object) -> str:
    """Safe for a rich markup string: escapes shown visibly, ``[`` never read as markup."""
    from rich.markup import escape

    return escape(safe_text(text))


def console(stderr: bool = False) -> Any:
    """A rich console at most 100 columns wide (the tables are laid out for that)."""
    import shutil

    from rich.console import Console

    return Console(stderr=stderr, width=min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns), highlight=False)


def _num(v: int | float) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _values(f: Finding) -> str:
    if f.interval is None:
        return "?"
    lo, hi = _num(f.interval.lo), _num(f.interval.hi)
    return lo if f.interval.lo == f.interval.hi else f"{lo}..{hi}"


def _shape(f: Finding) -> str:
    return "?" if f.shape is None else "[" + ",".join(str(s) for s in f.shape) + "]"


def _why(target: Any) -> str:
    """Why this target, and the library release its predictions assume where that matters."""
    release = getattr(target, "release", None)
    return target.why if release is None else f"{target.why}; assumes {release}"


def render_audit(report: Any, con: Any) -> None:
    """Findings grouped by their outcome on the report's target, worst group first, then the verdict."""
    from rich.table import Table

    target = report.target.name
    con.print(
        f"[bold]{esc(report.result.model)}[/] ({report.result.model_kind}) — target [bold]{target}[/] "
        f"({esc(_why(report.target))})"
    )
    for layer, status in report.result.layers.items():
        if status != "done":
            con.print(f"  [dim]{layer} layer {esc(status)}[/]")
    for note in report.result.notes:
        con.print(f"  [dim]{esc(note)}[/]")
    render_assumptions(report.result.assumptions, con)
    groups: dict[Outcome, list[Finding]] = {}
    for f in report.findings:
        groups.setdefault(f.predictions[target].outcome, []).append(f)
    for outcome in sorted(groups, key=lambda o: -o.severity):
        items = groups[outcome]
        # One message for the whole group when only the tensor name differs: said once, not per row.
        generic = {f.predictions[target].message.replace(f"'{f.tensor}'", "named in the tensor column") for f in items}
        shared = generic.pop() if len(generic) == 1 and len(items) > 1 else None
        table = Table(
            title=f"[{_STYLE[outcome]}]{outcome.value.replace('_', ' ').upper()}[/] — {_TITLE[outcome]} ({len(items)})",
            title_justify="left",
            caption=esc(shared) if shared else None,
            caption_justify="left",
            expand=False,
            pad_edge=False,
        )
        table.add_column("layer", no_wrap=True)
        table.add_column("tensor", overflow="fold", min_width=16, ratio=2)
        table.add_column("dtype / op" if any(f.is_op for f in items) else "dtype", no_wrap=True)
        table.add_column("shape", overflow="fold", max_width=12)
        table.add_column("values", overflow="fold", max_width=14)
        table.add_column("where" if shared else "where / what happens", overflow="fold", ratio=3)
        for f in items:
            spec = " [magenta](int64 by ONNX spec)[/]" if f.spec_int64 else ""
            src = f" [dim]{esc(f.source)}[/]" if f.source and f.source != f.where else ""
            what = "" if shared else f"\n[dim]{esc(f.predictions[target].message)}[/]"
            table.add_row(
                f.layer.value, esc(f.tensor), esc(f.producer) if f.is_op else f.dtype, esc(_shape(f)), _values(f),
                f"{esc(f.where)}{spec}{src}{what}",
            )
        con.print(table)
    verdict = report.verdict()
    style = "bold green" if report.ready else "bold red"
    con.print(f"[{style}]{esc(verdict)}[/]", overflow="fold")


def render_assumptions(lines: list[str], con: Any) -> None:
    """What the intervals assume of valid inputs (demanded ranges, 0/1 masks); ``--strict`` assumes none."""
    for line in lines:
        con.print(f"  [yellow]assumes[/] {esc(line)}", overflow="fold")
    if lines:
        con.print("  [dim]--strict makes no assumption about valid inputs[/]")


def render_comparison(cmp: Any, con: Any, quiet: bool = False) -> None:
    """Per output: dtype before → after, exact or tolerance, worst error; then a verdict line."""
    from rich.table import Table

    if not quiet:
        table = Table(title=f"{esc(cmp.candidate)} vs {esc(cmp.reference)}", title_justify="left", pad_edge=False)
        for col in ("output", "dtype", "compare", "max abs", "max rel", "result"):
            table.add_column(col, overflow="fold")
        for o in cmp.worst_per_output():
            how = "exact" if o.exact else f"rtol {o.rtol:g} atol {o.atol:.2g}" + (" (scaled)" if o.atol_basis != "given" else "")
            dtype = o.dtype_ref if o.dtype_ref == o.dtype_cand else f"{o.dtype_ref}→{o.dtype_cand}"
            res = "[green]ok[/]" if o.passed else (
                f"[yellow]differs at padded positions only[/] {esc(o.message)}" if o.padded_only
                else f"[red]MISMATCH[/] {esc(o.message)}")
            table.add_row(esc(o.name), dtype, how, f"{o.max_abs:.3g}", f"{o.max_rel:.3g}", res)
        con.print(table)
        for note in cmp.notes:
            con.print(f"  [dim]{esc(note)}[/]")
        if any(o.atol_basis != "given" for o in cmp.outputs):
            basis = next(o.atol_basis for o in cmp.worst_per_output() if o.atol_basis != "given")
            con.print(f"  [dim]float atol {esc(basis)}; --atol sets it[/]")
    if cmp.excused and not cmp.passed:
        con.print(f"  [yellow]mismatch not counted: {esc(cmp.excused)}[/]")
    ok = bool(cmp)
    con.print(f"[{'bold green' if ok else 'bold red'}]{'MATCH' if ok else 'MISMATCH'}: "
              f"{esc(cmp.candidate)} vs {esc(cmp.reference)} over {cmp.trials} trial(s)[/]")


def render_fix(result: Any, con: Any, quiet: bool = False) -> None:
    """Decisions grouped by action and reason, verification, and what was written."""
    from rich.table import Table

    target = result.report.target
    if not quiet:
        con.print(f"[bold]{esc(result.report.result.model)}[/] — target [bold]{target.name}[/] ({esc(_why(target))})")
        render_assumptions(result.report.result.assumptions, con)
        groups: dict[tuple[str, str], list[str]] = {}
        for d in result.decisions:
            groups.setdefault((d.action.value, d.reason), []).append(d.finding.split(":", 1)[1])
        table = Table(title="Decisions", title_justify="left", pad_edge=False)
        table.add_column("action", no_wrap=True)
        table.add_column("n", justify="right")
        table.add_column("tensors", overflow="fold", ratio=2)
        table.add_column("reason", overflow="fold", ratio=3)
        order = {"refuse": 0, "keep": 1, "rewrite": 2, "narrow": 3, "remove": 4}
        style = {"refuse": "red", "keep": "yellow", "rewrite": "green", "narrow": "green", "remove": "green"}
        for (action, reason), names in sorted(groups.items(), key=lambda kv: order[kv[0][0]]):
            shown = ", ".join(names[:4]) + (f", … (+{len(names) - 4})" if len(names) > 4 else "")
            table.add_row(f"[{style[action]}]{action}[/]", str(len(names)), esc(shown), esc(reason))
        con.print(table)
        for cmp in result.verification:
            render_comparison(cmp, con)
        for note in result.notes:
            con.print(f"  [dim]{esc(note)}[/]")
        render_export(result, con, excuses=False)  # render_comparison said them
        for p in result.written:
            con.print(f"  wrote {esc(str(p))}")
    counts = result.counts()
    summary = f"{counts['narrow']} narrowed, {counts['keep']} kept, {counts['refuse']} refused"
    if counts["remove"]:
        summary += f", {counts['remove']} removed by rewrites"
    if counts["rewrite"]:
        summary += f", {counts['rewrite']} op(s) rewritten for the target"
    verdict = result.verdict()  # the same verdict report.json holds and the exit code follows
    if result.dry_run:
        con.print(f"[bold]DRY RUN for {target.name}: {summary}; nothing written[/]")
        con.print(f"[{'green' if verdict.ready else 'red'}]{esc(verdict.line)}[/]", overflow="fold")
    elif not result.verified:
        con.print(f"[bold red]VERIFICATION FAILED for {target.name}: {summary}; nothing written[/]")
    elif not verdict.ready:
        con.print(f"[bold red]{esc(verdict.line)}[/]", overflow="fold")
        con.print(f"[bold red]FIXED but NOT READY for {target.name}: {summary}[/]")
    else:
        # table indices not proved inside, plugin boundaries: ready, but said even where the line is short
        unchecked = any((f.is_index or f.is_plugin) and target.name in f.predictions for f in result.remaining())
        if not quiet or unchecked:
            con.print(f"[{'yellow' if unchecked else 'green'}]{esc(verdict.line)}[/]", overflow="fold")
        con.print(f"[bold green]FIXED for {target.name}: {summary}; {esc(verdict_of_verification(result))}[/]")


def verdict_of_verification(result: Any) -> str:
    """``verified``; ``verified in PyTorch only: …``; ``verified (… excused)``; ``not verified``."""
    if not result.verification:
        return "not verified" + (f": {result.unverified.split(':', 1)[0]}" if result.unverified else "")
    if result.unverified:
        return f"verified in PyTorch only: {result.unverified.split(':', 1)[0]}"
    said = []
    if result.island:
        ops = result.island.split(":", 1)[0].replace("ONNX Runtime has no kernel for ", "")
        said.append(f"ONNX Runtime ran {ops} in float32")
    excused = [c for c in result.verification if c.excused and not c.passed]
    if excused:
        kinds = sorted({"differences at padded positions" if "mask pads" in (c.excused or "") else "differences"
                        for c in excused})
        said.append(f"{' and '.join(kinds)} excused")
    return f"verified ({'; '.join(said)})" if said else "verified"


def render_export(result: Any, con: Any, excuses: bool = True) -> None:
    """Which export path wrote the ONNX file and why earlier ones were left; what verification excused
    (unless the comparison tables above said it) or could not run. Printed by fix and convert alike:
    none of it is left to report.json alone."""
    for note in result.report.result.notes:
        if note.startswith(APPLIED):
            con.print(f"  [yellow]{esc(note)}[/]", overflow="fold")
    record = getattr(result, "export", None)
    if record is not None and (record.exporter or record.failed):
        style = "yellow" if record.failed else "dim"
        con.print(f"  [{style}]{esc(record.line())}[/]", overflow="fold")
        for note in record.notes:
            con.print(f"  [dim]{esc(note)}[/]", overflow="fold")
    for cmp in result.verification if excuses else []:
        if cmp.excused and not cmp.passed:
            con.print(f"  [yellow]excused: {esc(cmp.candidate)} vs {esc(cmp.reference)}: {esc(cmp.excused)}[/]",
                      overflow="fold")
    if result.unverified:
        con.print(f"  [yellow]not run: {esc(result.unverified)}[/]", overflow="fold")
    if getattr(result, "island", None):
        con.print(f"  [yellow]float32 island: {esc(result.island)}[/]", overflow="fold")


def render_views(views: list[Any], con: Any, labels: list[str] | None = None) -> None:
    """One column per network, headed by ``labels`` (the file names) or before → after."""
    from rich.table import Table

    table = Table(title="TensorRT network", title_justify="left", pad_edge=False)
    table.add_column("")
    for i, (_, v) in enumerate(views):
        if labels is not None:
            head = esc(labels[i])
        else:
            head = ["before", "after"][i] if len(views) > 1 else f"{v.library} {v.version}"
        table.add_column(head, overflow="fold")
    rows = [
        ("layers", [str(v.layers) for _, v in views]),
        ("INT64 execution tensors", [str(len(v.int64_execution)) for _, v in views]),
        ("INT64 shape tensors", [str(v.int64_shape) for _, v in views]),
        ("Cast layers", [str(v.cast_layers) for _, v in views]),
        ("device-side Casts", [str(v.device_casts) for _, v in views]),
        ("tensors by dtype", [", ".join(f"{k} {n}" for k, n in sorted(v.tensors_by_dtype.items())) for _, v in views]),
        ("inputs", ["\n".join(f"{i['name']} {i['dtype']} {i['shape']}" for i in v.inputs) for _, v in views]),
        ("outputs", ["\n".join(f"{o['name']} {o['dtype']} {o['shape']}" for o in v.outputs) for _, v in views]),
    ]
    for label, cells in rows:
        table.add_row(label, *["\n".join(esc(line) for line in c.split("\n")) for c in cells])
    con.print(table)
    for source, _ in views:
        con.print(f"  [dim]{esc(source)}[/]")


def render_build(result: Any, con: Any, quiet: bool = False, view: bool = True) -> None:
    
    if not quiet:
        if view:
            render_views([(f"parsed with {result.library} {result.version}", result.network)], con)
        for p in result.profiles:
            con.print(f"  profile {esc(p.name)}: min {list(p.min)} opt {list(p.opt)} max {list(p.max)}")
        for f in result.findings:
            pred = next(iter(f.predictions.values()))
            con.print(f"  [yellow]{esc(f.tensor)}[/]: {esc(pred.message)}")
    con.print(f"[bold green]BUILT {esc(str(result.engine))}[/] with {result.library} {result.version} "
              f"in {result.seconds:.2f} s; manifest {esc(result.manifest.name)}")


def render_verification_summary(result: Any, con: Any) -> None:
    """One line per comparison — who against whom, trials and dims, the tolerance and how it was
    chosen — then the export path and every excuse (convert shows this instead of the full tables)."""
    for cmp in result.verification:
        mark = "[green]✓[/]" if cmp.passed else ("[yellow]~[/]" if cmp else "[red]✗[/]")
        dims = sorted({tuple(sorted(o.dims.items())) for o in cmp.outputs if o.dims}, key=str)
        sizes = f", dims {'; '.join(', '.join(f'{k}={v}' for k, v in d) for d in dims)}" if dims else ""
        scaled = next((o.atol_basis for o in cmp.worst_per_output() if not o.exact and o.atol_basis != "given"), None)
        tol = f"; float atol {scaled}" if scaled else ""
        con.print(f"  {mark} {esc(cmp.candidate)} vs {esc(cmp.reference)}: {cmp.trials} trial(s){esc(sizes)}"
                  f"[dim]{esc(tol)}[/]", overflow="fold")
        for o in cmp.worst_per_output():
            if not o.passed:
                con.print(f"      {esc(o.name)}: {esc(o.message)}", overflow="fold")
        for name in cmp.vanished():
            con.print(f"      [yellow]{esc(name)}: 0 everywhere in the reference on every trial — equal zeros "
                      "prove little[/]", overflow="fold")
    for note in result.notes:
        con.print(f"  [dim]{esc(note)}[/]", overflow="fold")
    render_export(result, con)


def render_convert(result: Any, con: Any, quiet: bool = False) -> None:
    """The pipeline's steps, what it assumed of valid inputs, the fix summary, the network and the build."""
    if not quiet:
        render_verification_summary(result.fix, con)
        render_assumptions(result.fix.report.result.assumptions, con)
    render_fix(result.fix, con, quiet=True)
    if result.build is not None:
        shown = result.baseline is not None and not quiet
        if shown:
            render_views([("before: the unmodified export", result.baseline),
                          ("after: the converted model", result.build.network)], con)
        render_build(result.build, con, quiet=quiet, view=not shown)
    if result.adapter is not None:
        con.print("[bold green]COMPILED with Torch-TensorRT (dynamo)[/]")
    for note in result.notes:
        con.print(f"  [dim]{esc(note)}[/]")


_BATCH_STYLE = {"ready": "green", "not ready": "red", "failed": "bold red"}


def render_batch_row(row: dict[str, Any], con: Any) -> None:
    """One line as a batch job ends (the table comes when all have)."""
    status = row["status"]
    target = f" [dim]({esc(row['target'])})[/]" if row.get("target") else ""
    # emoji=False: a spec such as ``pkg:factory:`` is a name, never ``:factory:``'s emoji
    con.print(f"  [{_BATCH_STYLE[status]}]{status.upper()}[/] {esc(row['spec'])}{target}", overflow="fold",
              emoji=False)


def render_batch(summary: dict[str, Any], con: Any, out: Any, quiet: bool = False) -> None:
    """The batch's summary table (``summary.json`` as read back), then one count line."""
    from rich.table import Table
    from rich.text import Text

    def cell(markup: str) -> Text:  # no emoji codes: a spec's ``:factory:`` is a name
        return Text.from_markup(markup, emoji=False)

    counts = summary["counts"]
    line = (f"{summary['runs']} of {len(summary['models'])} run(s): {counts['ready']} ready, "
            f"{counts['not ready']} not ready, {counts['failed']} failed; summary in {esc(out)}/summary.json")
    if quiet:
        con.print(line, markup=False, overflow="fold")
        return
    table = Table(title=f"batch {summary['runs']} ({summary['executor']['kind']})", title_justify="left",
                  expand=False, pad_edge=False)
    table.add_column("model", overflow="fold", ratio=2)
    table.add_column("target", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("verdict or error", overflow="fold", ratio=4)
    table.add_column("folder", overflow="fold", ratio=1)
    for row in summary["models"]:
        status = row["status"]
        text = esc(row["verdict"] or "") if row["error"] is None else f"[red]{esc(row['error'])}[/]"
        table.add_row(cell(esc(row["spec"])), cell(esc(row["target"] or "–")),
                      cell(f"[{_BATCH_STYLE[status]}]{status}[/]"), cell(text),
                      cell(esc(row["folder"] + "/") if row["report"] else "–"))
    con.print(table)
    con.print(line, overflow="fold")
