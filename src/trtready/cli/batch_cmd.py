"""``trtready batch LIST -o DIR``: ``audit`` (or ``convert``) every model of LIST, one summary."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.batch import Row, batch_options, run_batch
from trtready.cli.options import TARGETS, exporter_option, model_options, plan_options
from trtready.cli.run import run_verb, usage_error
from trtready.limits import parse_limits
from trtready.report.terminal import console, render_batch, render_batch_row


@click.command()
@click.argument("models", metavar="LIST", type=click.Path(path_type=Path, dir_okay=True))
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder: summary.json, summary.md and one folder per model (and target).")
@click.option("--verb", type=click.Choice(["audit", "convert"]), default="audit", show_default=True,
              help="What to run on each model.")
@click.option("--target", "target", multiple=True, type=click.Choice(TARGETS),
              help="Target (default: the TensorRT installed; else trt10). May repeat: one run per model and target.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes of the local pool (default: min(2, CPU count)).")
@click.option("--ray", "ray", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
              help="Run one Ray task per model and target: on the cluster at ADDRESS, or a local Ray without one "
                   "(give --ray=ADDRESS or put --ray after LIST).")
@plan_options
@click.option("--no-build", is_flag=True, default=False, help="convert: stop after verification.")
@click.option("--no-verify", is_flag=True, default=False, help="convert: skip verification (not recommended).")
@click.option("--trials", type=click.IntRange(1, 1000), default=4, show_default=True,
              help="convert: seeded verification input sets per model.")
@exporter_option
@click.option("--force", is_flag=True, default=False, help="Replace an output folder trtready wrote.")
@model_options
@click.option("--quiet", is_flag=True, default=False, help="Print only the count line.")
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks on errors.")
def batch(models: Path, out: Path, verb: str, target: tuple[str, ...], jobs: int | None,
          ray: str | None, io: str, strict: bool, allow_underflow: bool, no_build: bool, no_verify: bool,
          trials: int, exporter: str, force: bool, trust_code: bool, limit: tuple[str, ...], quiet: bool,
          debug: bool) -> None:
    """Run VERB on every model of LIST (one spec or path a line; blank lines and # comments ignored).

    Each model is run as `trtready VERB MODEL` would run it — model files in the same jail — into
    DIR/NAME/ (DIR/NAME/TARGET/ with several targets). One model failing is a row of the summary,
    not the end of the batch. Exit: the worst model's code — 0 all ready, 1 some not ready,
    2 some could not be done (or LIST is unusable).
    """
    if verb == "audit":  # an option convert takes, given on the command line, means the user expects convert
        ctx = click.get_current_context()
        for name, flag in (("io", "--io"), ("strict", "--strict"), ("allow_underflow", "--allow-underflow"),
                           ("no_build", "--no-build"), ("no_verify", "--no-verify"), ("trials", "--trials"),
                           ("exporter", "--exporter")):
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                usage_error(f"{flag} applies to --verb convert")
    if ray is not None and jobs is not None:
        usage_error("--jobs sizes the local pool; Ray schedules by the cluster's CPUs: give one of --jobs, --ray")

    def body() -> int:
        con = console()

        def on_row(row: Row) -> None:
            render_batch_row(row.to_json(), con)

        options = batch_options(verb=verb, trust_code=trust_code, limits=parse_limits(limit), io_int32=io == "int32",
                                strict=strict, allow_underflow=allow_underflow, build=not no_build,
                                verify=not no_verify, trials=trials, exporter=exporter)
        result = run_batch(models, out, targets=target, options=options, jobs=jobs, ray=ray,
                           force=force, on_row=None if quiet else on_row)
        render_batch(result.to_json(), con, out, quiet=quiet)
        return result.exit_code

    run_verb(debug, body, writes=[out], force=force)
