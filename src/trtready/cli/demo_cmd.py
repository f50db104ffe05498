"""``trtready demo``: run the pipeline on the built-in demo models and summarise."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.audit.findings import Outcome
from trtready.cli.json_out import emit_json
from trtready.cli.options import target_option
from trtready.cli.run import run_verb
from trtready.demo import DEMOS
from trtready.errors import BadInputError, UnsafeNarrowingError
from trtready.outputs import Kind, Output, session
from trtready.report.json_report import audit_report_json
from trtready.report.terminal import console, esc, render_audit, render_convert
from trtready.targets import TARGET_NAMES, resolve_target

_SHORT = {
    Outcome.FINE: "fine",
    Outcome.CAST: "cast",
    Outcome.UNCHECKED: "index",
    Outcome.PRECISION_LOSS: "f64→f32",
    Outcome.CLAMP: "clamp",
    Outcome.ERROR: "error",
}


@click.command()
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True, help="Folder for the reports, converted models and engines.")
@target_option
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks on errors.")
def demo(out_dir: Path, target: str | None, debug: bool) -> None:
    """Audit and convert every built-in demo model (trtready.demo:NAME), then summarise.

    Each model is audited for every target and converted for the chosen one into OUTPUT/NAME/ —
    narrowed, verified, an engine built and its network compared with the unmodified export's, with
    report.json and report.html (a refusal is shown, not fatal: that is what the demo demonstrates).
    """
    def body() -> int:
        from rich.table import Table

        from trtready.api import can_build_for, prepare_audit, prepare_convert, run_audit, run_convert

        con = console()
        reports = {}
        rows: dict[str, list[str]] = {}
        if out_dir.exists() and not out_dir.is_dir():
            raise BadInputError(f"{out_dir}: exists and is not a folder")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInputError(f"{out_dir}: cannot create the folder ({e.strerror})") from e
        resolved = resolve_target(target)
        missing = can_build_for(resolved.name)
        can_build = missing is None
        if missing is not None:
            con.print(f"[yellow]engines are not built: {esc(missing)}[/]")
        # The demo replaces what an earlier demo run wrote there, and nothing else: every output is
        # checked (and locked) before the first model runs.
        outputs = [Output(out_dir / p, k) for n in DEMOS for p, k in ((f"{n}.audit.json", Kind.REPORT), (n, Kind.FOLDER))]
        with session(outputs, force=True) as s:
            for name, what in DEMOS.items():
                con.rule(f"[bold]trtready.demo:{name}[/] — {what}")
                spec = f"trtready.demo:{name}"
                loaded, audit_req = prepare_audit(spec, target=resolved.name)
                report = run_audit(loaded, audit_req)
                render_audit(report, con)
                emit_json(audit_report_json(report, verb="demo"), str(out_dir / f"{name}.audit.json"), s)
                reports[name] = report
                # the audited model converts: its capture is reused (the request's own load is not)
                _, req = prepare_convert(spec, out_dir / name, target=resolved.name, build=can_build,
                                         baseline=can_build, force=True)
                req.fix.session = s
                try:
                    result = run_convert(loaded, req, console=con)
                except UnsafeNarrowingError as e:
                    con.print(f"[bold red]{esc(e)}[/]")
                    rows[name] = ["[red]refused[/]", "–", "–", "–", "–"]
                    continue
                render_convert(result, con, quiet=True)
                c = result.fix.counts()
                b, a = result.baseline, result.build.network if result.build else None
                rows[name] = [
                    f"{c['narrow']}/{c['keep']}/{c['refuse']}",
                    "[green]✓[/]" if result.fix and result.fix.verification else "[red]✗[/]",
                    "[green]✓[/]" if result.build else "–",
                    f"{len(b.int64_execution)}→{len(a.int64_execution)}" if b and a else "–",
                    f"{b.cast_layers}→{a.cast_layers} ({b.device_casts}→{a.device_casts})" if b and a else "–",
                ]
        table = Table(title="Audit: worst outcome per target (✓ ready, ✗ not ready)", title_justify="left")
        table.add_column("model", no_wrap=True)
        table.add_column("64-bit", justify="right", no_wrap=True, min_width=6)
        for t in TARGET_NAMES:
            table.add_column(t.replace("torch-trt-", "torch-trt\n"), no_wrap=True)
        for name, report in reports.items():
            cells = []
            for t in TARGET_NAMES:
                worst = report.result.worst(t)
                mark = "[green]✓[/]" if report.result.ready(t) else "[red]✗[/]"
                cells.append(f"{mark} {_SHORT[worst]}")
            table.add_row(name, str(sum(1 for f in report.findings if not f.is_index)), *cells)
        con.print(table)
        conv = Table(title=f"convert for {resolved.name}: decisions, verification, engine, network before → after",
                     title_justify="left")
        for col in ("model", "narrow/keep/\nrefuse", "verified", "engine", "INT64 exec\ntensors", "Cast layers\n(device)"):
            conv.add_column(col, no_wrap=True)
        for name, cells in rows.items():
            conv.add_row(name, *cells)
        con.print(conv)
        con.print(f"Audit reports in {out_dir}/NAME.audit.json; converted models and engines in {out_dir}/NAME/, "
                  f"with report.json and report.html (open it in a browser: the dtype flow before and after)")
        return 0

    run_verb(debug, body)
