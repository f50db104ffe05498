"""No output ever destroys what the user had: inputs, foreign files, an older output when a run fails."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import run_cli
from trtready.errors import UsageError
from trtready.outputs import Kind, Output, session


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (names relative) with its sha256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _onnx(path: Path) -> Path:
    g = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["y"])], "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor("table", TensorProto.FLOAT, [5, 2], [float(i) for i in range(10)])],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _pt2(path: Path) -> Path:
    import torch

    from tests.hardening.craft import clean_pt2

    del torch
    return clean_pt2(path)


def test_force_never_replaces_a_folder_holding_the_input(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    src = _pt2(folder / "model.pt2")
    (folder / "notes.txt").write_text("mine")
    before = _tree(tmp_path)
    r = run_cli("fix", str(src), "-o", str(folder), "--force")
    assert r.code == 2 and "holds the input" in r.stderr and r.stderr.count("\n") == 1
    assert _tree(tmp_path) == before


def test_force_never_replaces_foreign_files_in_a_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("fix", "trtready.demo:token_model", "-o", str(out), "--target", "trt-rtx").code == 0
    (out / "mine.txt").write_text("mine")
    before = _tree(tmp_path)
    r = run_cli("fix", "trtready.demo:token_model", "-o", str(out), "--target", "trt-rtx", "--force")
    assert r.code == 2 and "did not write (mine.txt)" in r.stderr
    assert _tree(tmp_path) == before


def test_failed_force_run_leaves_the_old_output_intact(tmp_path: Path) -> None:
    out = tmp_path / "hash"
    first = run_cli("convert", "trtready.demo:hash_model", "-o", str(out), "--target", "trt-rtx", "--no-build")
    assert first.code == 0, first.stderr
    before = _tree(out)
    # trt8 must refuse the 2**40 hash: the run fails after the work started, and the old output stays.
    again = run_cli("convert", "trtready.demo:hash_model", "-o", str(out), "--target", "trt8", "--force", "--no-build")
    assert again.code == 2 and "refused" in again.stderr
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hash"]  # no staging or lock files left


def test_successful_force_run_replaces_only_after_completion(tmp_path: Path) -> None:
    src = _onnx(tmp_path / "m.onnx")
    out = tmp_path / "o.onnx"
    assert run_cli("fix", str(src), "-o", str(out)).code == 0
    assert run_cli("fix", str(src), "-o", str(out), "--force").code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "o.onnx"]


@pytest.mark.parametrize("verb", ["audit", "fix", "verify"])
def test_json_path_is_an_output_too(tmp_path: Path, verb: str) -> None:
    src = _onnx(tmp_path / "m.onnx")
    out = tmp_path / "o.onnx"
    before = _tree(tmp_path)
    args = {"audit": ["audit", str(src)], "fix": ["fix", str(src), "-o", str(out)],
            "verify": ["verify", str(src), str(src)]}[verb]
    r = run_cli(*args, "--json", str(src))
    assert r.code == 2 and "is an input" in r.stderr and _tree(tmp_path) == before
    if verb == "fix":
        r = run_cli(*args, "--json", str(out))
        assert r.code == 2 and "collide" in r.stderr and _tree(tmp_path) == before


def test_json_report_replaced_only_when_trtready_wrote_it(tmp_path: Path) -> None:
    src = _onnx(tmp_path / "m.onnx")
    report = tmp_path / "r.json"
    assert run_cli("audit", str(src), "--json", str(report)).code == 0
    assert run_cli("audit", str(src), "--json", str(report)).code == 0  # its own report: replaced
    notes = tmp_path / "notes.json"
    notes.write_text(json.dumps({"mine": True}))
    r = run_cli("audit", str(src), "--json", str(notes))
    assert r.code == 2 and "not a trtready JSON report" in r.stderr and json.loads(notes.read_text()) == {"mine": True}


def test_html_report_replaced_only_when_trtready_wrote_it(tmp_path: Path) -> None:
    src = _onnx(tmp_path / "m.onnx")
    page = tmp_path / "r.html"
    assert run_cli("audit", str(src), "--html", str(page)).code == 0
    first = page.read_bytes()
    assert first.startswith(b"<!DOCTYPE html>") and b"trtready-report" in first
    assert run_cli("audit", str(src), "--html", str(page)).code == 0  # its own page: replaced without --force
    assert page.read_bytes().startswith(b"<!DOCTYPE html>")
    mine = tmp_path / "notes.html"
    mine.write_text("<!DOCTYPE html><p>mine</p>")
    r = run_cli("audit", str(src), "--html", str(mine))
    assert r.code == 2 and "not a trtready HTML report" in r.stderr and mine.read_text() == "<!DOCTYPE html><p>mine</p>"
    before = _tree(tmp_path)
    r = run_cli("audit", str(src), "--html", str(src))
    assert r.code == 2 and "is an input" in r.stderr and _tree(tmp_path) == before


def test_onnx_data_sidecar_is_an_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _onnx(tmp_path / "m.onnx")
    sidecar = tmp_path / "o.onnx.data"
    sidecar.write_bytes(b"someone else's weights")
    for extra in ([], ["--force"]):
        r = run_cli("fix", str(src), "-o", str(tmp_path / "o.onnx"), *extra)
        assert r.code == 2 and "o.onnx.data" in r.stderr
        assert sidecar.read_bytes() == b"someone else's weights" and not (tmp_path / "o.onnx").exists()


def test_engine_manifest_is_an_output(tmp_path: Path) -> None:
    src = _onnx(tmp_path / "m.onnx")
    manifest = tmp_path / "m.engine.json"
    manifest.write_text("{}")
    for extra in ([], ["--force"]):
        r = run_cli("build", str(src), "-o", str(tmp_path / "m.engine"), *extra)
        assert r.code == 2 and "m.engine.json" in r.stderr and manifest.read_text() == "{}"
    assert run_cli("build", str(src), "-o", str(tmp_path / "e.engine")).code == 0
    assert run_cli("build", str(src), "-o", str(tmp_path / "e.engine")).code == 2  # exists: --force needed
    assert run_cli("build", str(src), "-o", str(tmp_path / "e.engine"), "--force").code == 0


def test_demo_keeps_what_the_user_put_in_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    (out / "token_model").mkdir()
    (out / "token_model" / "keep.bin").write_bytes(b"\x00")
    before = _tree(tmp_path)
    r = run_cli("demo", "-o", str(out), "--target", "trt-rtx")
    assert r.code == 2 and "token_model" in r.stderr and "refusing to replace" in r.stderr
    assert _tree(tmp_path) == before  # checked before the first model ran: nothing written at all


def test_second_concurrent_run_refuses(tmp_path: Path) -> None:
    src = _onnx(tmp_path / "m.onnx")
    out = tmp_path / "o.onnx"
    with session([Output(out, Kind.ONNX)], [src]):  # another run is writing o.onnx
        r = run_cli("fix", str(src), "-o", str(out))
        assert r.code == 2 and "another trtready run is writing" in r.stderr
        with pytest.raises(UsageError, match="another trtready run"):
            with session([Output(out, Kind.ONNX)], [src]):
                pass
    assert not out.exists()
    assert run_cli("fix", str(src), "-o", str(out)).code == 0  # the lock went with the first session


def test_output_through_a_link_to_the_input_is_refused(tmp_path: Path) -> None:
    src = _onnx(tmp_path / "m.onnx")
    os.link(src, tmp_path / "hard.onnx")
    (tmp_path / "soft.onnx").symlink_to(src)
    before = _tree(tmp_path)
    for name in ("hard.onnx", "soft.onnx"):
        r = run_cli("fix", str(src), "-o", str(tmp_path / name), "--force")
        assert r.code == 2 and "is an input" in r.stderr
    assert _tree(tmp_path) == before


def test_every_written_file_gets_the_same_mode(tmp_path: Path) -> None:
    out = tmp_path / "conv"
    assert run_cli("convert", "trtready.demo:token_model", "-o", str(out), "--target", "trt-rtx").code == 0
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    umask = os.umask(0)
    os.umask(umask)
    assert set(modes.values()) == {0o644 & ~umask}, modes
