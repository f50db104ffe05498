"""``trtready verify REFERENCE CANDIDATE``: run both on the same inputs; integers compared exactly."""

from __future__ import annotations

import click

from trtready.cli.json_out import emit_json, report_outputs
from trtready.cli.options import (
    bounds_options,
    model_options,
    output_options,
    verify_options,
)
from trtready.cli.run import json_file, run_verb
from trtready.limits import parse_limits
from trtready.outputs import session
from trtready.report.terminal import console, render_comparison
from trtready.version import __version__


@click.command()
@click.argument("reference")
@click.argument("candidate")
@bounds_options
@verify_options
@model_options
@output_options
def verify(reference: str, candidate: str, dynamic: tuple[str, ...], input_range: tuple[str, ...],
           inputs_npz: str | None, trials: int, rtol: tuple[str, ...], atol: tuple[str, ...], trust_code: bool,
           limit: tuple[str, ...], json_path: str | None, quiet: bool, debug: bool) -> None:
    """Compare CANDIDATE against REFERENCE (ONNX in ONNX Runtime; specs and .pt2 in PyTorch).

    Exit 0 when every output matches (integers exactly, floats within tolerance), 1 on a mismatch.
    """
    def body() -> int:
        from pathlib import Path

        from trtready.api import prepare_verify, run_verify

        ref, cand, request = prepare_verify(reference, candidate, dynamic=dynamic, input_range=input_range,
                                            inputs=inputs_npz, trials=trials, rtol=rtol, atol=atol,
                                            trust_code=trust_code, limits=parse_limits(limit))
        inputs = ref.input_paths + cand.input_paths + ([Path(inputs_npz)] if inputs_npz else [])
        with session(report_outputs(json_path), inputs) as s:
            cmp = run_verify(ref, cand, request)
            con = console(stderr=json_path == "-")
            render_comparison(cmp, con, quiet=quiet)
            emit_json({"schema_version": "1.0", "tool_version": _version(), "verb": "verify",
                       "verification": cmp.to_json()}, json_path, s)
        return 0 if cmp else 1

    run_verb(debug, body, models=[reference, candidate, inputs_npz], reads=[reference, candidate, inputs_npz],
             writes=json_file(json_path), trust_code=trust_code)


def _version() -> str:
    return __version__
