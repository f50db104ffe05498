"""``trtready demo``: run the pipeline on the built-in demo models and summarise."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.audit.findings import Outcome
from trtready.cli.options import target_option

_SHORT = {
    Outcome.FINE: "fine",
    Outcome.CAST: "cast",
    Outcome.PRECISION_LOSS: "f64→f32",
    Outcome.CLAMP: "clamp",
    Outcome.ERROR: "error",
}


@click.command()
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True, help="Folder for the JSON reports.")
@target_option
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks on errors.")
def demo(out_dir: Path, target: str | None, debug: bool) -> None:
    """Audit and fix every built-in demo model (trtready.demo:NAME), then summarise.

    Each model is audited for every target and fixed for the chosen one into OUTPUT/NAME/
    (a refusal is shown, not fatal: that is what the demo demonstrates).
    """
    from trtready.cli.main import run_verb

    def body() -> int:
        from rich.markup import escape
        from rich.table import Table

        import trtready
        from trtready.demo import DEMOS
        from trtready.report.json_report import audit_report_json, write_json_atomic
        from trtready.report.terminal import console, render_audit
        from trtready.targets import TARGET_NAMES

        import shutil

        from trtready.errors import UnsafeNarrowingError
        from trtready.report.terminal import render_fix

        con = console()
        reports = {}
        fixes: dict[str, str] = {}
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, what in DEMOS.items():
            con.rule(f"[bold]trtready.demo:{name}[/] — {what}")
            report = trtready.audit(f"trtready.demo:{name}", target=target)
            render_audit(report, con)
            write_json_atomic(audit_report_json(report, verb="demo"), out_dir / f"{name}.audit.json")
            reports[name] = report
            dest = out_dir / name
            if dest.exists():
                shutil.rmtree(dest)  # the demo's own output from an earlier run
            try:
                result = trtready.fix(f"trtready.demo:{name}", dest, target=target)
            except UnsafeNarrowingError as e:
                con.print(f"[bold red]fix {escape(str(e))}[/]")
                fixes[name] = "[red]refused[/]"
                continue
            render_fix(result, con, quiet=True)
            c = result.counts()
            verified = "verified ✓" if result and result.verification else "[red]mismatch[/]"
            fixes[name] = f"{c['narrow']}/{c['keep']}/{c['refuse']} {verified}"
        table = Table(title="Demo summary: worst outcome per target (✓ ready, ✗ not ready)", title_justify="left")
        table.add_column("model", no_wrap=True)
        table.add_column("64-bit", justify="right", no_wrap=True, min_width=6)
        for t in TARGET_NAMES:
            table.add_column(t.replace("torch-trt-", "torch-trt\n"), no_wrap=True)
        table.add_column(f"fix {reports[next(iter(reports))].target.name}\nnarrow/keep/refuse", no_wrap=True)
        for name, report in reports.items():
            cells = []
            for t in TARGET_NAMES:
                worst = report.result.worst(t)
                mark = "[green]✓[/]" if report.result.ready(t) else "[red]✗[/]"
                cells.append(f"{mark} {_SHORT[worst]}")
            table.add_row(name, str(len(report.findings)), *cells, fixes[name])
        con.print(table)
        con.print(f"Audit reports in {out_dir}/NAME.audit.json; fixed models in {out_dir}/NAME/")
        return 0

    run_verb(debug, body)
