"""``trtready batch``: every model as its single verb runs it, one failing never stopping the others."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper, save

from tests.conftest import run_cli
from trtready.batch import folder_names, read_list
from trtready.jail import isolation

SPEC_READY = "trtready.demo:token_model"  # READY for trt8: its int64 values are proved to fit
BAD_SPEC = "no.such.module:factory"


def _int64_add(path: Path) -> Path:
    """An ONNX file whose int64 input has no proved range: NOT READY for trt8 (the parser clamps)."""
    w = numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "w")
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, [2])], [w])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]), str(path))
    return path


def make_list(tmp: Path) -> tuple[Path, list[str]]:
    """A LIST of three models, the bad spec first (so it cannot be the last thing that ran), with a
    comment, a blank line and a trailing comment to ignore."""
    onnx_file = _int64_add(tmp / "add.onnx")
    specs = [BAD_SPEC, SPEC_READY, str(onnx_file)]
    listing = tmp / "models.txt"
    listing.write_text(f"# three models\n{specs[0]}\n\n{specs[1]}   # the demo\n  {specs[2]}\n")
    return listing, specs


def single_audit(tmp: Path, spec: str) -> tuple[int, dict | None, str]:
    """What ``trtready audit SPEC --target trt8`` gives alone: exit code, report.json, stderr."""
    report = tmp / f"single-{abs(hash(spec))}.json"
    r = run_cli("audit", spec, "--target", "trt8", "--quiet", "--json", str(report))
    return r.code, json.loads(report.read_text()) if report.exists() else None, r.stderr


def test_batch_audit_matches_single_audits_and_survives_a_bad_spec(tmp_path: Path) -> None:
    listing, specs = make_list(tmp_path)
    out = tmp_path / "out"
    r = run_cli("batch", str(listing), "-o", str(out), "--target", "trt8", "--jobs", "2")
    # the worst model's exit code: the bad spec could not be done
    assert r.code == 2, r.stdout + r.stderr
    assert r.stderr == "", r.stderr  # per-model errors are rows, not lines on stderr
    summary = json.loads((out / "summary.json").read_text())
    assert {k: summary[k] for k in ("verb", "runs", "exit_code", "list")} == {
        "verb": "batch", "runs": "audit", "exit_code": 2, "list": str(listing)}
    assert summary["executor"] == {"kind": "process-pool", "workers": 2}
    assert summary["counts"] == {"ready": 1, "not ready": 1, "failed": 1}
    rows = summary["models"]
    assert [row["spec"] for row in rows] == specs  # the list's order, whatever order they finished in
    assert [row["folder"] for row in rows] == ["no.such.module-factory", "trtready.demo-token_model", "add.onnx"]
    assert [row["target"] for row in rows] == ["trt8"] * 3
    assert [row["jailed"] for row in rows] == [False, False, isolation().available]  # a file, like `audit FILE`
    assert sorted(p.name for p in out.iterdir()) == [".trtready.json", "add.onnx", "summary.json", "summary.md",
                                                     "trtready.demo-token_model"]
    assert sorted(p.name for p in (out / "add.onnx").iterdir()) == ["report.json"]  # no outbox, no lock left
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # nor a staging folder
    for row, spec in zip(rows, specs):
        code, single, stderr = single_audit(tmp_path, spec)
        assert row["exit_code"] == code, (spec, row)
        if single is None:  # the bad spec: the same one line the single run printed, and no folder
            assert row["status"] == "failed" and row["report"] is None and row["verdict"] is None
            assert stderr.strip() == f"trtready: error: {row['error']}"
            assert "no.such.module" in row["error"]
            continue
        batch_report = json.loads((out / row["report"]).read_text())
        assert row["error"] is None and row["verdict"] == single["verdict"]["line"]
        assert row["status"] == ("ready" if single["verdict"]["ready"] else "not ready")
        for key in ("verdict", "findings", "target", "layers", "model"):
            assert batch_report[key] == single[key], (spec, key)
        assert batch_report["environment"]["isolation"] == single["environment"]["isolation"]
    assert [row["status"] for row in rows] == ["failed", "ready", "not ready"]
    md = (out / "summary.md").read_text()
    assert "| `no.such.module:factory` | trt8 | failed | 2 |" in md and "1 ready, 1 not ready, 1 failed" in md
    assert "NOT READY for trt8" in r.stdout and "1 ready, 1 not ready, 1 failed" in r.stdout


@pytest.mark.parametrize("kind", ["missing", "empty", "comments_only", "folder"])
def test_a_bad_list_is_one_line_exit_2(tmp_path: Path, kind: str) -> None:
    listing = tmp_path / "models.txt"
    if kind == "empty":
        listing.write_text("")
    elif kind == "comments_only":
        listing.write_text("# nothing yet\n\n   # still nothing\n")
    elif kind == "folder":
        listing.mkdir()
    r = run_cli("batch", str(listing), "-o", str(tmp_path / "out"))
    assert r.code == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"trtready: error: {listing}: "), r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_an_existing_output_folder_is_replaced_only_when_trtready_wrote_it(tmp_path: Path) -> None:
    listing = tmp_path / "models.txt"
    listing.write_text(f"{BAD_SPEC}\n")  # fails fast: what is tested here is the folder, not the model
    out = tmp_path / "out"
    assert run_cli("batch", str(listing), "-o", str(out)).code == 2
    assert (out / "summary.json").is_file()
    again = run_cli("batch", str(listing), "-o", str(out))
    assert again.code == 2 and "already exists (--force replaces what trtready wrote)" in again.stderr
    assert run_cli("batch", str(listing), "-o", str(out), "--force").code == 2  # ours: replaced
    (out / "mine.txt").write_text("the user's")
    refused = run_cli("batch", str(listing), "-o", str(out), "--force")
    assert refused.code == 2 and "holds files trtready did not write (mine.txt)" in refused.stderr
    assert (out / "mine.txt").read_text() == "the user's"
    inside = run_cli("batch", str(listing), "-o", str(tmp_path), "--force")  # a folder holding the LIST
    assert inside.code == 2 and f"holds the input {listing}" in inside.stderr


def test_convert_options_need_the_convert_verb(tmp_path: Path) -> None:
    listing = tmp_path / "models.txt"
    listing.write_text(f"{SPEC_READY}\n")
    r = run_cli("batch", str(listing), "-o", str(tmp_path / "out"), "--strict")
    assert r.code == 2 and r.stderr.strip() == "trtready: error: --strict applies to --verb convert"


def test_the_list_ignores_blank_lines_and_comments(tmp_path: Path) -> None:
    listing = tmp_path / "models.txt"
    listing.write_text("\n# header\npkg.mod:make  # trailing\n\n  a/model.onnx\n#b.onnx\n")
    assert read_list(listing) == ["pkg.mod:make", "a/model.onnx"]


def test_folder_names_are_safe_and_unique() -> None:
    specs = ["a/model.onnx", "b/model.onnx", "B/MODEL.onnx", "pkg.mod:make", "../.hidden/x y.pt2", "summary.json",
             "c/", "a/model.onnx"]
    assert folder_names(specs) == ["model.onnx", "model.onnx-2", "MODEL.onnx-3", "pkg.mod-make", "x_y.pt2",
                                   "model-summary.json", "c", "model.onnx-4"]


def test_limits_reach_the_jailed_run_as_they_reach_a_single_one(tmp_path: Path) -> None:
    onnx_file = _int64_add(tmp_path / "add.onnx")  # its initializer w has 2 elements
    listing = tmp_path / "models.txt"
    listing.write_text(f"{onnx_file}\n")
    out = tmp_path / "out"
    r = run_cli("batch", str(listing), "-o", str(out), "--target", "trt8", "--limit", "tensor-elements=1")
    single = run_cli("audit", str(onnx_file), "--target", "trt8", "--limit", "tensor-elements=1")
    assert r.code == single.code == 2, r.stdout + r.stderr
    (row,) = json.loads((out / "summary.json").read_text())["models"]
    assert single.stderr.strip() == f"trtready: error: {row['error']}" and "tensor-elements" in row["error"]


def test_batch_convert_writes_what_single_converts_write(tmp_path: Path) -> None:
    listing, specs = make_list(tmp_path)
    out = tmp_path / "out"
    r = run_cli("batch", str(listing), "-o", str(out), "--verb", "convert", "--no-build", "--target", "trt10")
    assert r.code == 2, r.stdout + r.stderr
    rows = json.loads((out / "summary.json").read_text())["models"]
    assert [row["status"] for row in rows] == ["failed", "ready", "ready"]
    assert rows[0]["report"] is None and not (out / rows[0]["folder"]).exists()  # convert writes all or nothing
    for row, spec in zip(rows[1:], specs[1:]):
        single_out = tmp_path / f"single-{row['folder']}"
        single = run_cli("convert", spec, "-o", str(single_out), "--no-build", "--target", "trt10", "--quiet")
        assert single.code == row["exit_code"] == 0, single.stderr
        mine = json.loads((out / row["report"]).read_text())
        theirs = json.loads((single_out / "report.json").read_text())
        for key in ("verdict", "input_verdict", "target", "model"):
            assert mine[key] == theirs[key], (spec, key)
        # the same findings and decisions; the order of the ONNX file's constants is torch.onnx's, which
        # differs between processes, so they are compared as sets
        for key in ("findings", "decisions"):
            assert sorted(map(json.dumps, mine[key])) == sorted(map(json.dumps, theirs[key])), (spec, key)
        assert mine["verification"]["passed"] is theirs["verification"]["passed"] is True
        assert sorted(p.name for p in (out / row["folder"]).iterdir()) == sorted(p.name for p in single_out.iterdir())
        assert row["verdict"] == theirs["verdict"]["line"]


def test_a_model_that_kills_its_worker_takes_no_other_model_with_it(tmp_path: Path) -> None:
    listing = tmp_path / "models.txt"
    # the killer first: the pool breaks while the others are queued or running beside it
    listing.write_text(f"tests.batch_models:kills_its_process\n{SPEC_READY}\n{BAD_SPEC}\n")
    out = tmp_path / "out"
    r = run_cli("batch", str(listing), "-o", str(out), "--target", "trt8", "--jobs", "2")
    assert r.code == 2, r.stdout + r.stderr
    rows = json.loads((out / "summary.json").read_text())["models"]
    assert [row["status"] for row in rows] == ["failed", "ready", "failed"]
    assert rows[0]["error"].startswith("the worker process running it died")
    assert rows[1]["verdict"].startswith("READY for trt8") and (out / rows[1]["report"]).is_file()
    assert "cannot import module 'no.such.module'" in rows[2]["error"]  # its own error, not the dead worker's


def test_an_unreachable_ray_address_is_one_line_in_seconds(tmp_path: Path) -> None:
    """Nothing listens at the port: refused at once with what to do, before any model runs (Ray itself
    would retry the address for minutes)."""
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    listing = tmp_path / "models.txt"
    listing.write_text(f"{SPEC_READY}\n")
    out = tmp_path / "out"
    r = run_cli("batch", str(listing), "-o", str(out), "--ray", f"127.0.0.1:{port}")
    assert r.code == 2 and r.stderr.count("\n") == 1, r.stderr
    assert f"--ray 127.0.0.1:{port}: nothing answers there" in r.stderr and "ray start --head" in r.stderr
    assert not out.exists()
