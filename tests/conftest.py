"""Shared fixtures: CLI runner in a subprocess, tiny BERT built from a config (no downloads)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from tests.tiers import FULL_TIER, full_tier_only
from tests.warm_cli import run_warm

# CI replays the same examples every run (a red CI blocks landing); locally each run explores anew.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
COLD_CLI = FULL_TIER or os.environ.get("TRTREADY_COLD_CLI") == "1"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    """Run ``trtready ARGS`` as a user would: a process of its own, real exit code and streams. In the
    full tier a cold ``python -m trtready``; otherwise forked from a server that imported torch once
    (tests/warm_cli.py)."""
    full_env = {**os.environ, "COLUMNS": "100", **(env or {})}
    if not COLD_CLI:
        return CliResult(*run_warm(list(args), cwd, full_env, timeout=300))
    proc = subprocess.run(
        [sys.executable, "-m", "trtready", *args],
        capture_output=True, text=True, cwd=cwd, env=full_env, timeout=300,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli


def tiny_bert():
    import torch
    from transformers import BertConfig, BertModel

    cfg = BertConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )
    torch.manual_seed(0)
    model = BertModel(cfg).eval()
    ids = torch.randint(0, 128, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    return model, (ids, mask)


@pytest.fixture(scope="session")
def bert_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT exported with dynamic batch x sequence through torch.onnx (dynamo).

    Exported once per run, not once per xdist worker: the workers' temporary folders share a parent
    (this run's own), and the first worker to get there exports under a lock while the others wait
    and read the same file (≈ 6 s of export each saved)."""
    import fcntl

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return _export_bert(tmp_path_factory.mktemp("bert") / "bert.onnx")
    run = tmp_path_factory.getbasetemp().parent  # the folder only the model lives in, lock and mark beside it
    with open(run / "bert-onnx.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = run / "bert-onnx" / "bert.onnx"
        if not (run / "bert-onnx.done").exists():
            path.parent.mkdir(exist_ok=True)
            _export_bert(path)
            (run / "bert-onnx.done").touch()
    return path


def _export_bert(path: Path) -> Path:
    import warnings

    import torch

    model, (ids, mask) = tiny_bert()
    batch = torch.export.Dim("batch", min=1, max=8)
    seq = torch.export.Dim("seq", min=2, max=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(
            model, (ids, mask), dynamo=True, verbose=False,
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
        )
    prog.save(str(path))
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``full_tier(reason)`` are skipped outside the full tier (see ``FULL_TIER``).

    Under pytest-xdist (``--dist loadgroup``), a module whose tests share a module-scoped fixture (a
    Triton server, a local Ray, an exported model) runs on one worker: the fixture is built once, and no
    two servers or clusters start side by side. Every other test is balanced one by one. The group marks
    must be in place before xdist's worker reads them (its own ``pytest_collection_modifyitems`` turns
    them into the ``@group`` suffix of each node id, which the scheduler splits on): hence ``tryfirst``,
    and :class:`_GroupSuffix` after it."""
    for item in items:
        mark = item.get_closest_marker("full_tier")
        if mark is not None:
            item.add_marker(full_tier_only(str(mark.args[0]) if mark.args else "slow"))
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else []
        if any(d and d[-1].scope == "module" for d in defs):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


class _GroupSuffix:
    """Puts ``@group`` at the end of a grouped test's node id where xdist's worker could not.

    pytest-xdist 3.8 writes the suffix to ``item._nodeid``; pytest 9.2 reads a node id from ``item._id``
    (a structured ``NodeId``), so the suffix never reaches the scheduler and ``--dist loadgroup``
    scatters a module's tests over the workers: each builds the module fixture (a fixed model, a built
    engine, a converted repository) again. Here the id is re-made from the suffixed string, as the
    worker meant it; with a pytest that still reads ``_nodeid`` the worker's suffix is there already
    and nothing is done."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not getattr(config.option, "loadgroup", False):
            return
        for item in items:
            names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                            for m in item.iter_markers("xdist_group")})
            suffix = "@" + "_".join(names)
            if names and not item.nodeid.endswith(suffix):
                from _pytest.nodeid import coerce_node_id  # pytest >= 9.2 only, where it is needed

                item._id = coerce_node_id(item.nodeid + suffix)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the one place node ids are grouped
        config.pluginmanager.register(_GroupSuffix(), "trtready-xdist-group-suffix")


FLOOR_FILE = Path(__file__).with_name("collected-floor.txt")


def _check_floor(count: int) -> None:
    floor = int(FLOOR_FILE.read_text().split()[0])
    print(f"\ncollected {count} tests (floor {floor})")
    if count < floor:
        pytest.exit(f"collected {count} tests, fewer than the floor of {floor} in {FLOOR_FILE.name}", returncode=1)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Under ``make test`` (TRTREADY_TEST_FLOOR=1) a collection below the recorded floor fails the run.

    Tests can vanish silently (pytest skips folders named ``build``; an import error in a conftest
    hides a folder); the floor makes that loud. Raise the floor when tests are added. Under pytest-xdist
    the workers collect and the controller counts (the hook below).
    """
    if not os.environ.get("TRTREADY_TEST_FLOOR") or hasattr(session.config, "workerinput"):
        return
    if session.config.pluginmanager.hasplugin("dsession"):  # the xdist controller collects nothing itself
        return
    _check_floor(len(session.items))


_FLOOR_CHECKED: list[int] = []


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    """The xdist controller's view of one worker's collection: every worker collects the whole suite."""
    if os.environ.get("TRTREADY_TEST_FLOOR") and not _FLOOR_CHECKED:
        _FLOOR_CHECKED.append(len(ids))
        _check_floor(len(ids))
