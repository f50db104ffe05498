"""``trtready audit MODEL``: list every 64-bit tensor and what the target does with it."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.html_out import emit_html, html_option, html_outputs
from trtready.cli.json_out import emit_json, report_outputs
from trtready.cli.options import (
    bounds_options,
    model_options,
    output_options,
    target_option,
)
from trtready.cli.run import json_file, run_verb
from trtready.cli.sarif_out import emit_sarif, sarif_option, sarif_outputs
from trtready.limits import parse_limits
from trtready.load.detect import hf_config_path, is_hf
from trtready.load.hf_config import parse_overrides
from trtready.outputs import session
from trtready.report.json_report import audit_report_json
from trtready.report.terminal import console, render_audit


@click.command()
@click.argument("model")
@target_option
@bounds_options
@model_options
@output_options
@html_option
@sarif_option
@click.option("--hf-set", "hf_set", multiple=True, metavar="KEY=VALUE",
              help="For hf: models: set a config field before the build (VALUE read as JSON, else a string), "
                   "e.g. num_hidden_layers=2. May repeat.")
def audit(
    model: str,
    target: str | None,
    dynamic: tuple[str, ...],
    input_range: tuple[str, ...],
    trust_code: bool,
    limit: tuple[str, ...],
    json_path: str | None,
    quiet: bool,
    debug: bool,
    html_path: Path | None,
    sarif_path: Path | None,
    hf_set: tuple[str, ...],
) -> None:
    """Audit MODEL (.onnx, .pt2, TorchScript, checkpoint, .safetensors, package.module:factory, or
    hf:CONFIG — a transformers config.json, its folder or a model type, audited without weights).

    Exit 0 when the model is ready for the target, 1 when it is not, 2 on bad input.
    """
    def body() -> int:
        from trtready.api import prepare_audit, run_audit

        loaded, request = prepare_audit(model, target=target, dynamic=dynamic, input_range=input_range,
                                        trust_code=trust_code, limits=parse_limits(limit),
                                        hf_set=parse_overrides(hf_set))
        with session(report_outputs(json_path) + html_outputs(html_path) + sarif_outputs(sarif_path), loaded.input_paths) as s:
            # the report's data (and the dtype-flow picture in it) is built only for a file that shows it
            request.flow = json_path is not None or html_path is not None or sarif_path is not None
            report = run_audit(loaded, request)
            con = console(stderr=json_path == "-")
            if quiet:
                con.print(report.verdict(), markup=False, overflow="fold")
            else:
                render_audit(report, con)
            if request.flow:
                data = audit_report_json(report)
                emit_json(data, json_path, s)
                emit_html(data, html_path, s)
                emit_sarif(data, sarif_path, s)
        return 0 if report.ready else 1

    read = hf_config_path(model) if is_hf(model) else model  # the config.json an hf: model reads, if any
    run_verb(debug, body, models=[model], reads=[read], writes=[*json_file(json_path), html_path, sarif_path], trust_code=trust_code)
