"""What ``--json`` may replace, and lock files that never follow links."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.hardening.test_outputs import _onnx, _tree


def test_json_never_replaces_an_engine_manifest_without_force(tmp_path: Path) -> None:
    src = _onnx(tmp_path / "m.onnx")
    engine = tmp_path / "m.engine"
    assert run_cli("build", str(src), "-o", str(engine), "--target", "trt-rtx").code == 0
    manifest = engine.with_name("m.engine.json")
    assert "manifest_version" in json.loads(manifest.read_text())
    before = _tree(tmp_path)
    r = run_cli("audit", str(src), "--json", str(manifest))
    assert r.code == 2, r.stderr
    assert r.stderr.startswith("trtready: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "engine manifest" in r.stderr and "--force" in r.stderr
    assert _tree(tmp_path) == before
    # the engine itself and an ONNX model trtready wrote are never a report's to replace, even with --force
    fixed = tmp_path / "fixed.onnx"
    assert run_cli("fix", str(src), "-o", str(fixed), "--target", "trt-rtx").code == 0
    before = _tree(tmp_path)
    for victim in (engine, fixed, src):
        r = run_cli("audit", str(src), "--json", str(victim))
        assert r.code == 2 and r.stderr.count("\n") == 1, r.stderr
        r = run_cli("fix", str(src), "-o", str(tmp_path / "other.onnx"), "--json", str(victim), "--force")
        assert r.code == 2 and r.stderr.count("\n") == 1, r.stderr
        assert _tree(tmp_path) == before
    r = run_cli("fix", str(src), "-o", str(tmp_path / "other.onnx"), "--json", str(manifest))
    assert r.code == 2 and "engine manifest" in r.stderr and _tree(tmp_path) == before
    # with --force, the manifest is trtready's own file and may be replaced by a report
    r = run_cli("fix", str(src), "-o", str(tmp_path / "other.onnx"), "--json", str(manifest), "--force")
    assert r.code == 0, r.stderr
    assert json.loads(manifest.read_text())["verb"] == "fix"


def test_build_json_report_is_a_report(tmp_path: Path) -> None:
    """``build --json`` writes the manifest's content as a report, marked with its verb: a later run
    replaces it without --force (it is a report, not the manifest)."""
    src = _onnx(tmp_path / "m.onnx")
    report = tmp_path / "build.json"
    assert run_cli("build", str(src), "-o", str(tmp_path / "a.engine"), "--json", str(report)).code == 0
    assert json.loads(report.read_text())["verb"] == "build"
    assert run_cli("build", str(src), "-o", str(tmp_path / "b.engine"), "--json", str(report)).code == 0
    assert json.loads(report.read_text())["engine"]["path"] == "b.engine"


def test_a_symlinked_lock_path_is_never_followed(tmp_path: Path) -> None:
    """``.NAME.trtready.lock`` planted as a link to a user's file (or to where one would be created):
    the run refuses with one line, the file is neither created, changed nor locked, nothing is written."""
    src = _onnx(tmp_path / "m.onnx")
    out = tmp_path / "o.onnx"
    lock = tmp_path / ".o.onnx.trtready.lock"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    missing = tmp_path / "created-by-link"
    for target in (victim, missing):
        lock.symlink_to(target)
        stat_before = victim.stat()
        r = run_cli("fix", str(src), "-o", str(out), "--target", "trt-rtx")
        assert r.code == 2, (r.code, r.stderr)
        assert r.stderr.startswith("trtready: error: ") and r.stderr.count("\n") == 1, r.stderr
        assert "symlink" in r.stderr and ".o.onnx.trtready.lock" in r.stderr
        assert victim.read_text() == "precious" and victim.stat().st_mtime_ns == stat_before.st_mtime_ns
        assert not missing.exists() and not out.exists() and lock.is_symlink()
        lock.unlink()
    assert run_cli("fix", str(src), "-o", str(out), "--target", "trt-rtx").code == 0


def test_a_lock_path_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    import os

    src = _onnx(tmp_path / "m.onnx")
    os.mkfifo(tmp_path / ".o.onnx.trtready.lock")
    r = run_cli("fix", str(src), "-o", str(tmp_path / "o.onnx"), "--target", "trt-rtx")
    assert r.code == 2 and r.stderr.count("\n") == 1 and "not a regular file" in r.stderr, r.stderr
    assert not (tmp_path / "o.onnx").exists()
