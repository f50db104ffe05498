"""``batch``: one verb (``audit`` or ``convert``) over a list of models, one summary.

Each model × target is one job, run by the public verbs (``trtready.audit``, ``trtready.convert``)
exactly as a single run would: a model *file* without ``trust_code`` goes through the same jail as a
single verb (``trtready.jail``: the verb's own command line, run in a confined child that writes only
into an outbox), so a batch reads no model byte with more rights than ``trtready audit FILE`` would.
A job's failure is a row of the summary, never the end of the batch.

The jobs run on a process pool (``concurrent.futures``, spawned workers: a forked copy of a process
holding torch or Ray threads is not safe) or, with ``ray``, one Ray task per job on a Ray cluster.
Either way each job is :func:`run_job`, and the rows come back as plain values.

The output folder is one output of the run (``outputs.py``): checked and locked before the first
job, written in a staging folder and swapped in whole at the end; an existing one is replaced only
with ``force`` and only when trtready wrote it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trtready.errors import BadInputError, MissingLibraryError, TrtReadyError, UsageError, root_cause
from trtready.limits import DEFAULT_LIMITS, Limits
import trtready
from trtready import api, jail
from trtready.load.detect import looks_like_spec
from trtready.outputs import Kind, Output, is_report, session, write_json
from trtready.report.json_report import audit_report_json
from trtready.report.terminal import safe_text
from trtready.version import __version__

VERBS = ("audit", "convert")
SUMMARY_VERSION = "1.0"
_NAME_MAX = 80


@dataclass(frozen=True)
class BatchOptions:
    """What every job of a batch shares: the options of the verb it runs (docs/cli.md, ``batch``)."""

    verb: str = "audit"
    trust_code: bool = False
    limits: Limits = DEFAULT_LIMITS
    # convert only
    io_int32: bool = False
    strict: bool = False
    allow_underflow: bool = False
    build: bool = True
    verify: bool = True
    trials: int = 4
    exporter: str = "auto"


def batch_options(*, verb: str = "audit", trust_code: bool = False, limits: Limits | None = None,
                  io_int32: bool = False, strict: bool = False, allow_underflow: bool = False, build: bool = True,
                  verify: bool = True, trials: int = 4, exporter: str = "auto") -> BatchOptions:
    """``batch``'s options as every job gets them (the API's keyword arguments and the CLI's flags alike)."""
    from trtready.api import exporter_choice

    return BatchOptions(verb=verb, trust_code=trust_code, limits=limits or DEFAULT_LIMITS, io_int32=io_int32,
                        strict=strict, allow_underflow=allow_underflow, build=build, verify=verify, trials=trials,
                        exporter=exporter_choice(exporter))


@dataclass(frozen=True)
class Job:
    """One model for one target: ``spec`` as the list gives it, ``model`` as the worker opens it (a
    path made absolute: a Ray worker need not share the driver's current folder), ``folder`` where
    its outputs go."""

    spec: str
    model: str
    target: str | None
    folder: Path
    name: str  # ``folder`` relative to the batch's output folder
    file: bool  # a model file (not a spec): jailed unless trust_code
    options: BatchOptions


@dataclass
class Row:
    """One job's result: its exit code as the single verb would end, the verdict or the one-line error."""

    spec: str
    target: str | None
    folder: str
    exit_code: int
    status: str  # ready | not ready | failed
    verdict: str | None = None
    error: str | None = None
    report: str | None = None  # report.json, relative to the batch's folder
    jailed: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchResult:
    out: Path
    verb: str
    rows: list[Row]
    executor: dict[str, Any]
    list_path: Path | None = None  # the LIST file, when the models came from one
    written: list[Path] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The worst job's exit code: 0 all ready, 1 some not ready, 2 some could not be done."""
        return max((r.exit_code for r in self.rows), default=0)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.rows if r.status == s) for s in ("ready", "not ready", "failed")}

    def __bool__(self) -> bool:
        return self.exit_code == 0

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SUMMARY_VERSION, "tool_version": __version__, "verb": "batch", "runs": self.verb,
                "list": str(self.list_path) if self.list_path is not None else None, "executor": self.executor,
                "exit_code": self.exit_code, "counts": self.counts(), "models": [r.to_json() for r in self.rows]}


# --- the list ---------------------------------------------------------------------------------------
def read_list(path: str | Path) -> list[str]:
    """The model specs in LIST: one a line; blank lines and ``#`` comments (whole or trailing) ignored."""
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"{p}: model list does not exist")
    if not p.is_file():
        raise BadInputError(f"{p}: model list is not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(f"{p}: cannot read the model list ({getattr(e, 'strerror', None) or e})") from e
    specs = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    specs = [s for s in specs if s]
    if not specs:
        raise BadInputError(f"{p}: the model list names no model (one spec or path a line; # starts a comment)")
    return specs


def folder_names(specs: Sequence[str]) -> list[str]:
    """One folder name per spec: readable, safe on every filesystem, unique in the batch (also when
    only the case differs). A path gives its file name, a spec its ``module-factory``."""
    names: list[str] = []
    taken: set[str] = set()
    for spec in specs:
        base = os.path.basename(spec.rstrip("/\\")) if ("/" in spec or os.sep in spec) else spec.replace(":", "-")
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".-_")[:_NAME_MAX] or "model"
        if base.lower() in {"summary.json", "summary.md"}:
            base = "model-" + base
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name.lower())
        names.append(name)
    return names


def plan_jobs(specs: Sequence[str], targets: Sequence[str | None], root: Path, options: BatchOptions) -> list[Job]:
    """One job per model × target; with several targets each gets ``NAME/TARGET/``."""
    if options.verb not in VERBS:
        raise UsageError(f"batch runs {' or '.join(VERBS)}, not {options.verb!r}")
    targets = list(dict.fromkeys(targets)) or [None]
    jobs = []
    for spec, name in zip(specs, folder_names(specs)):
        file = not looks_like_spec(spec)
        model = os.path.abspath(spec) if file else spec
        for t in targets:
            rel = name if len(targets) == 1 else f"{name}/{t}"
            jobs.append(Job(spec, model, t, root / rel, rel, file, options))
    return jobs


# --- one job ----------------------------------------------------------------------------------------
def _one_line(e: BaseException) -> tuple[int, str]:
    """The exit code and the line a single run would print for ``e`` (``cli/run.py``)."""
    cause = root_cause(e)
    if isinstance(cause, TrtReadyError):
        return cause.exit_code, safe_text(cause)
    if isinstance(cause, MemoryError):
        return 2, "out of memory (the model or its inputs are too large for this machine; see --limit)"
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return 2, f"internal error: {type(e).__name__}: {safe_text(text)}"


def _argv(job: Job) -> list[str]:
    """The single verb's command line for ``job``: what its jailed child runs."""
    o = job.options
    argv = [o.verb, job.model, "--quiet"]
    argv += ["--json", str(job.folder / "report.json")] if o.verb == "audit" else ["-o", str(job.folder)]
    if job.target:
        argv += ["--target", job.target]
    for f in dataclasses.fields(o.limits):
        if getattr(o.limits, f.name) != getattr(DEFAULT_LIMITS, f.name):
            argv += ["--limit", f"{f.name.replace('_', '-')}={getattr(o.limits, f.name)}"]
    if o.verb == "convert":
        argv += ["--io", "int32" if o.io_int32 else "keep", "--trials", str(o.trials), "--exporter", o.exporter]
        argv += [flag for flag, on in (("--strict", o.strict), ("--allow-underflow", o.allow_underflow),
                                       ("--no-build", not o.build), ("--no-verify", not o.verify)) if on]
    return argv


def _run_jailed(job: Job) -> tuple[int, str | None, str | None]:
    """The verb in its jailed child: its exit code, its error line if it printed one, and its last
    line of output (``--quiet``: the verdict, also when nothing was written)."""
    out, err = io.StringIO(), io.StringIO()
    writes = [job.folder / "report.json"] if job.options.verb == "audit" else [job.folder]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):  # carried over, not inherited
        code = jail.run(_argv(job), [Path(job.model)], writes, False)
    said = [ln.strip() for ln in out.getvalue().splitlines() if ln.strip()]
    last = said[-1] if said else None
    lines = [ln[len("trtready: error: "):] for ln in err.getvalue().splitlines() if ln.startswith("trtready: error: ")]
    if lines:
        return code, lines[-1], None
    if code not in (0, 1):
        return code, f"the run stopped with exit code {code}", None
    return code, None, last


def _run_here(job: Job) -> tuple[int, str]:
    """The public verb in this process (a spec, or a file under ``trust_code``): its exit code and
    verdict line; report.json written (by ``convert`` only when it wrote its folder)."""
    o = job.options
    limits = o.limits
    if o.verb == "audit":
        report = api.audit(job.model, target=job.target, trust_code=o.trust_code, limits=limits)
        write_json(audit_report_json(report), job.folder / "report.json")
        return (0 if report.ready else 1), report.verdict()
    result = api.convert(job.model, job.folder, target=job.target, io_int32=o.io_int32, strict=o.strict,
                         allow_underflow=o.allow_underflow, build=o.build, verify=o.verify, trials=o.trials,
                         exporter=o.exporter, trust_code=o.trust_code, limits=limits)
    return (0 if result else 1), result.fix.verdict().line


def run_job(job: Job) -> Row:
    """Run one job as its single verb would; every failure becomes the row's one-line error."""
    import warnings

    start = time.monotonic()
    jailed = job.file and jail.wanted([job.model], job.options.trust_code)
    error = said = None
    try:
        if job.options.verb == "audit":
            job.folder.mkdir(parents=True, exist_ok=True)
        else:  # convert makes the folder itself, only when everything succeeded
            job.folder.parent.mkdir(parents=True, exist_ok=True)
        if jailed:
            code, error, said = _run_jailed(job)
        else:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                code, said = _run_here(job)
    except Exception as e:  # noqa: BLE001 - one model's failure is its row, not the batch's end
        code, error = _one_line(e)
    return _row(job, code, error, said, jailed, time.monotonic() - start)


def _row(job: Job, code: int, error: str | None, said: str | None, jailed: bool, seconds: float) -> Row:
    """The row from the report the job wrote (its verdict is the single verb's); without one (a
    convert whose verification failed writes nothing) the verdict line the verb gave."""
    report = job.folder / "report.json"
    data = json.loads(report.read_text(encoding="utf-8")) if is_report(report) else None
    verdict = data.get("verdict") if isinstance(data, dict) else None
    target = (data.get("target") or {}).get("name") if isinstance(data, dict) else None
    if data is None and job.folder.is_dir() and not any(job.folder.iterdir()):
        job.folder.rmdir()  # a failed audit leaves no empty folder
    status = "ready" if code == 0 else "not ready" if code == 1 else "failed"
    return Row(spec=job.spec, target=target or job.target, folder=job.name, exit_code=code, status=status,
               verdict=verdict.get("line") if isinstance(verdict, dict) else None if error else said, error=error,
               report=f"{job.name}/report.json" if data is not None else None, jailed=jailed,
               seconds=round(seconds, 3))


# --- executors --------------------------------------------------------------------------------------
OnRow = Callable[[Row], None]


def _lost(job: Job, e: BaseException | None = None) -> Row:
    """The row of a job whose worker died under it (run_job itself never raises)."""
    why = f"{type(e).__name__}: " if e is not None else ""
    return Row(job.spec, job.target, job.name, 2, "failed",
               error=f"the worker process running it died ({why}a crash, a kill or out of memory)")


def _pool_round(jobs: list[Job], indices: list[int], workers: int, rows: dict[int, Row],
                on_row: OnRow | None) -> list[int]:
    """Run ``indices`` on a fresh pool; returns those lost with a worker that died.

    A dead worker breaks the whole pool (``BrokenProcessPool``): every job then in flight or still
    queued is lost with it, not only the one that killed it.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    lost: list[int] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_job, jobs[i]): i for i in indices}
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    rows[i] = fut.result()
                except BrokenProcessPool:
                    lost.append(i)
                    continue
                if on_row is not None:
                    on_row(rows[i])
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return sorted(lost)


def _on_pool(jobs: list[Job], workers: int, on_row: OnRow | None) -> list[Row]:
    """All jobs on a pool of ``workers``. Jobs lost with a dead worker run again on a new pool; one lost
    a second time runs alone, and lost alone it is the one that kills its worker: its row says so."""
    rows: dict[int, Row] = {}
    pending, lost_once = list(range(len(jobs))), set()
    while pending:
        shared = [i for i in pending if i not in lost_once]
        lost = _pool_round(jobs, shared, workers, rows, on_row) if shared else []
        for i in (i for i in pending if i in lost_once):
            if _pool_round(jobs, [i], 1, rows, on_row):
                rows[i] = _lost(jobs[i])
                if on_row is not None:
                    on_row(rows[i])
        lost_once |= set(lost)
        pending = lost
    return [rows[i] for i in range(len(jobs))]


def ray_runtime_env() -> dict[str, Any]:
    """Local workers import this trtready (the driver's, also when it is not installed)."""
    root = str(Path(trtready.__file__).resolve().parents[1])
    paths = [root, os.getcwd()] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(os.path.abspath(p) for p in paths)}}


RAY_CONNECT_SECONDS = 10.0


def check_ray_address(address: str) -> None:
    """Refuse an address nothing listens at, in seconds: ``ray.init`` would retry it for many minutes
    before giving up. ``HOST:PORT`` (a cluster's GCS) and ``ray://HOST:PORT`` (Ray Client) are tried
    with one TCP connection; ``auto`` and other forms are left to Ray."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_SECONDS):
            pass
    except OSError as e:
        why = e.strerror or ("timed out" if isinstance(e, TimeoutError) else type(e).__name__)
        raise BadInputError(f"--ray {address}: nothing answers there ({why}); start the cluster with "
                            "`ray start --head`, or give --ray without an address for a local one") from e


def _on_ray(jobs: list[Job], address: str | None, on_row: OnRow | None) -> tuple[list[Row], str]:
    """One Ray task per job; also where they ran: ``address``, ``local`` (a Ray started here and shut
    down after) or ``connected`` (the Ray this process was already connected to, left running)."""
    import logging

    if address:
        check_ray_address(address)
    try:
        import ray
    except ImportError as e:
        raise MissingLibraryError("--ray needs Ray: pip install 'trtready[ray]'") from e
    started = not ray.is_initialized()
    where = "connected"
    if started:
        where = address or "local"
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
            else:
                ray.init(include_dashboard=False, log_to_driver=False, runtime_env=ray_runtime_env(),
                         logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BadInputError(f"--ray {address or '(local)'}: Ray did not start or connect ({first})") from e
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_job)
        refs = [task.remote(job) for job in jobs]
        index = {ref: i for i, ref in enumerate(refs)}
        rows: dict[int, Row] = {}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i = index[ref]
                try:
                    rows[i] = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - the task's worker died
                    rows[i] = _lost(jobs[i], e)
                if on_row is not None:
                    on_row(rows[i])
        return [rows[i] for i in range(len(jobs))], where
    finally:
        if started:
            ray.shutdown()


# --- the batch --------------------------------------------------------------------------------------
def default_jobs() -> int:
    return min(2, os.cpu_count() or 1)


def summary_markdown(result: BatchResult) -> str:
    """summary.md: the summary table for a pull request or a wiki page."""
    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [f"# trtready batch: {result.verb}", "",
             "| model | target | status | exit | verdict or error | folder |", "|---|---|---|---|---|---|"]
    for r in result.rows:
        lines.append("| " + " | ".join(cell(v) for v in (
            f"`{r.spec}`", r.target or "–", r.status, r.exit_code, r.verdict or r.error or "–",
            f"`{r.folder}/`" if r.report else "–")) + " |")
    c = result.counts()
    lines += ["", f"{c['ready']} ready, {c['not ready']} not ready, {c['failed']} failed; "
                  f"exit code {result.exit_code}.", ""]
    return "\n".join(lines)


def run_batch(models: str | Path | Sequence[str], out: str | Path, *, targets: Sequence[str | None] = (),
              options: BatchOptions = BatchOptions(), jobs: int | None = None, ray: str | bool | None = None,
              force: bool = False, on_row: OnRow | None = None) -> BatchResult:
    """Run ``options.verb`` on every model of ``models`` (a LIST file, or the specs themselves) into ``out``.

    ``ray``: ``None``/``False`` for the local process pool of ``jobs`` workers; ``True`` or ``""`` for
    Ray (the cluster this process is connected to, else ``ray.init()`` locally); an address string for
    that cluster. ``out`` gets ``summary.json``, ``summary.md`` and one folder per model.
    """
    inputs: list[Path] = []
    if isinstance(models, (str, Path)):
        inputs.append(Path(models))
        specs = read_list(models)
    else:
        specs = [str(m) for m in models]
        if not specs:
            raise UsageError("batch needs at least one model")
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs {jobs}: give at least 1")
    out = Path(out)

    inputs += [Path(s) for s in specs if not looks_like_spec(s) and os.path.exists(s)]
    with session([Output(out, Kind.FOLDER)], inputs, force) as s:
        staged = s.stage(out)
        planned = plan_jobs(specs, targets, staged, options)
        if ray is not None and ray is not False:
            rows, where = _on_ray(planned, ray if isinstance(ray, str) and ray else None, on_row)
            executor: dict[str, Any] = {"kind": "ray", "address": where}
        else:
            workers = jobs or default_jobs()
            executor = {"kind": "process-pool", "workers": workers}
            rows = _on_pool(planned, workers, on_row)
        listed = Path(models) if isinstance(models, (str, Path)) else None
        result = BatchResult(out, options.verb, rows, executor, listed)
        write_json(result.to_json(), staged / "summary.json")
        (staged / "summary.md").write_text(summary_markdown(result), encoding="utf-8")
        result.written = s.commit(out)
    return result


__all__ = ["BatchOptions", "BatchResult", "Job", "Row", "VERBS", "default_jobs", "folder_names", "plan_jobs",
           "read_list", "run_batch", "run_job"]


def batch(
    models: str | Path | list[str],
    out: str | Path,
    *,
    verb: str = "audit",
    target: str | list[str] | None = None,
    jobs: int | None = None,
    ray: str | bool | None = None,
    io_int32: bool = False,
    strict: bool = False,
    allow_underflow: bool = False,
    build: bool = True,
    verify: bool = True,
    trials: int = 4,
    exporter: str = "auto",
    force: bool = False,
    trust_code: bool = False,
    limits: Limits | None = None,
) -> BatchResult:
    """Run ``audit`` or ``convert`` on every model of ``models`` (a LIST file or the specs) into ``out``.

    Each model (× target) runs as its single verb would, model files in the same jail; one failing is a
    row, not the end. ``jobs`` sizes the local process pool (default min(2, CPUs)); ``ray=True`` runs
    one Ray task per job (this process's Ray, else a local one), ``ray="ADDRESS"`` on that cluster.
    Truthy when every model is ready.
    """
    targets = [target] if isinstance(target, str) or target is None else list(target)
    options = batch_options(verb=verb, trust_code=trust_code, limits=limits, io_int32=io_int32, strict=strict,
                            allow_underflow=allow_underflow, build=build, verify=verify, trials=trials,
                            exporter=exporter)
    return run_batch(models, out, targets=targets, options=options, jobs=jobs, ray=ray, force=force)
