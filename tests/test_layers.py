"""The import-layer contract (pyproject.toml, ``[tool.importlinter]``; docs/design.md "Layers").

``make test`` runs ``lint-imports`` on the package; these tests prove the contract can fail: a copy of
the package with one planted import back up must break it, naming the import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("importlinter")


def _lint(tmp_path: Path, plant: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the project's contracts on a copy of ``src/trtready``, ``plant`` added to it."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "trtready", src / "trtready",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for rel, line in (plant or {}).items():
        path = src / "trtready" / rel
        path.write_text(path.read_text() + "\n" + line + "\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--no-cache", "--no-logo"], cwd=tmp_path,
                          env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_layers(tmp_path: Path) -> None:
    run = _lint(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 3 kept, 0 broken." in run.stdout
    assert "ignored imports" not in run.stdout  # no arrow runs back up, not even an excused one


def test_a_back_import_breaks_the_contract(tmp_path: Path) -> None:
    # the audit reaching up to the engine, even from inside a function, is an arrow back up
    run = _lint(tmp_path, {"audit/state.py": "def _planted() -> None:\n    from trtready.engine import manifest"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "trtready.audit is not allowed to import trtready.engine" in run.stdout
    assert "trtready.audit.state -> trtready.engine.manifest" in run.stdout


def test_a_back_import_through_the_public_verbs_breaks_the_contract(tmp_path: Path) -> None:
    # the report reading the version from the package root imports every verb with it (the old circle)
    run = _lint(tmp_path, {"report/terminal.py": "from trtready import __version__"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "trtready.report is not allowed to import" in run.stdout


def test_a_command_importing_the_group_breaks_the_cli_contract(tmp_path: Path) -> None:
    # the circle of the CLI: a command taking its plumbing from the group that registers it
    run = _lint(tmp_path, {"cli/fix_cmd.py": "from trtready.cli.main import run_verb  # noqa"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "trtready.cli.fix_cmd is not allowed to import trtready.cli.main" in run.stdout


def test_a_command_importing_another_command_breaks_the_cli_contract(tmp_path: Path) -> None:
    # convert once took export's private name parser: commands share plumbing through cli/options.py
    run = _lint(tmp_path, {"cli/convert_cmd.py": "from trtready.cli.export_cmd import export  # noqa"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "trtready.cli.convert_cmd is not allowed to import trtready.cli.export_cmd" in run.stdout


def test_the_package_importing_the_demo_models_breaks_the_contract(tmp_path: Path) -> None:
    # the built-in models are reached through a spec string; nothing below the CLI imports them
    run = _lint(tmp_path, {"load/spec.py": "def _planted() -> None:\n    from trtready.demo import DEMOS"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "trtready.load is not allowed to import trtready.demo" in run.stdout


def test_export_deciding_state_of_its_own_breaks_the_contract(tmp_path: Path) -> None:
    # export once audited, planned and narrowed a module's state itself; that stage is the pipeline's
    run = _lint(tmp_path, {"export/exporter.py": "def _planted() -> None:\n    from trtready.plan.state_plan import plan_state"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "trtready.export is not allowed to import trtready.plan.state_plan" in run.stdout
