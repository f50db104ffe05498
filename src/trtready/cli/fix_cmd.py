"""``trtready fix MODEL -o OUT``: narrow where proved, keep or refuse the rest, verify, write."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.html_out import emit_html, html_option, html_outputs
from trtready.cli.json_out import emit_json, report_outputs
from trtready.cli.options import (
    bounds_options,
    exporter_option,
    model_options,
    output_options,
    plan_options,
    target_option,
    verify_options,
)
from trtready.cli.run import json_file, run_verb
from trtready.cli.sarif_out import emit_sarif, sarif_option, sarif_outputs
from trtready.fix.dispatch import output_kind
from trtready.limits import parse_limits
from trtready.outputs import Output, session
from trtready.report.terminal import console, render_fix


@click.command()
@click.argument("model")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None,
              help="OUT.onnx for an ONNX model; a folder for a spec or .pt2; a file for TorchScript/state_dict.")
@target_option
@bounds_options
@plan_options
@click.option("--dry-run", is_flag=True, default=False, help="Print the decisions; write nothing.")
@click.option("--no-verify", is_flag=True, default=False, help="Skip verification (not recommended).")
@verify_options
@exporter_option
@click.option("--force", is_flag=True, default=False, help="Overwrite an existing output.")
@model_options
@output_options
@html_option
@sarif_option
def fix(model: str, out: Path | None, target: str | None, dynamic: tuple[str, ...], input_range: tuple[str, ...],
        io: str, strict: bool, allow_underflow: bool, dry_run: bool, no_verify: bool, inputs_npz: str | None,
        trials: int, rtol: tuple[str, ...], atol: tuple[str, ...], exporter: str, force: bool, trust_code: bool,
        limit: tuple[str, ...], json_path: str | None, quiet: bool, debug: bool, html_path: Path | None, sarif_path: Path | None) -> None:
    """Narrow MODEL's int64/float64 tensors where a range proof allows; verify; write OUT.

    Exit 0 when written and verified, 1 on a verification mismatch (nothing written), 2 when a value
    must be refused (named, with its value) or the input is bad.
    """
    def body() -> int:
        from trtready.api import prepare_fix, run_fix
        from trtready.report.json_report import fix_report_json

        loaded, request = prepare_fix(model, out, target=target, dynamic=dynamic, input_range=input_range,
                                      io_int32=io == "int32", strict=strict, allow_underflow=allow_underflow,
                                      dry_run=dry_run, verify=not no_verify, inputs=inputs_npz, trials=trials,
                                      rtol=rtol, atol=atol, exporter=exporter, force=force, trust_code=trust_code,
                                      limits=parse_limits(limit))
        main = [Output(out, output_kind(loaded))] if out is not None and not dry_run else []
        inputs = loaded.input_paths + ([Path(inputs_npz)] if inputs_npz else [])
        with session(main + report_outputs(json_path) + html_outputs(html_path) + sarif_outputs(sarif_path), inputs, force) as s:
            request.session = s  # the output and the reports checked and locked together
            result = run_fix(loaded, request)
            con = console(stderr=json_path == "-")
            render_fix(result, con, quiet=quiet)
            data = fix_report_json(result)
            emit_json(data, json_path, s)
            emit_html(data, html_path, s)
            emit_sarif(data, sarif_path, s)
        return 0 if result else 1

    run_verb(debug, body, models=[model, inputs_npz], reads=[model, inputs_npz], writes=[out, *json_file(json_path), html_path, sarif_path],
             force=force, trust_code=trust_code)
