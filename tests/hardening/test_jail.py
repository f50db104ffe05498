"""The jail: code that slips past the data-only readers still cannot touch the user's files.

The decisive test runs a deliberately unfiltered payload inside a jailed run: a spec's factory
(code the jail treats like any other code in the child) calls plain ``torch.export.load`` on a live
pickled-weight payload, then tries every way out by hand. The payload must run — and fail to write,
link, change, signal or connect outside the jail.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.hardening import craft
from trtready import jail
from trtready.outputs import is_html_report


def test_this_machine_can_jail() -> None:
    """CI runs where Landlock and seccomp exist; a regression here silently drops a defence."""
    iso = jail.isolation()
    assert iso.available, iso.why_not
    assert iso.landlock_abi >= 2  # REFER (moving files inside the jail's folders) needs ABI 2


def _exec_payload(code: str) -> bytes:
    import pickle

    class P:
        def __reduce__(self):  # noqa: D105 - unpickling runs ``code``
            return (exec, (code,))

    return pickle.dumps(P(), protocol=2)


def _live_pickled_weight(tmp: Path, code: str) -> Path:
    """craft.pt2_pickled_weight with an exec payload: torch.export.load runs ``code``."""
    import zipfile

    clean = craft.clean_pt2(tmp / "clean_src.pt2")
    weight = "data/weights/model_weights_config.json"

    def edit(tail: str, data: bytes) -> bytes:
        if tail == weight:
            cfg = json.loads(data)
            cfg["config"]["lin.weight"]["use_pickle"] = True
            return json.dumps(cfg).encode()
        return data

    name = json.loads(zipfile.ZipFile(clean).read(f"clean_src/{weight}"))["config"]["lin.weight"]["path_name"]
    out = craft.rewrite_zip(clean, tmp / "evil.pt2",
                            lambda tail, data: _exec_payload(code) if tail == f"data/weights/{name}" else edit(tail, data))
    (tmp / "clean_src.pt2").unlink()
    return out


class _Server:
    """A local TCP server that counts connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.accepted += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


def test_unfiltered_payload_cannot_reach_out(tmp_path: Path) -> None:
    home_marker = Path.home() / f"trtready-PWNED-{os.getpid()}"
    outside = [tmp_path / "PWNED", home_marker, Path("/tmp") / f"trtready-PWNED-{os.getpid()}",
               ROOT / f"PWNED-{os.getpid()}"]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.chmod(victim, 0o600)
    before = (victim.read_bytes(), victim.stat().st_mode, victim.stat().st_mtime_ns)
    payload = ("import os, tempfile\n"
               "open(os.path.join(tempfile.gettempdir(), 'RAN'), 'w').close()\n"
               f"open({str(outside[0])!r}, 'w')\n")
    evil = _live_pickled_weight(tmp_path, payload)
    server = _Server()
    factory = textwrap.dedent(f"""
        import json, os, socket, tempfile
        import torch

        def _try(fn):
            try:
                fn()
                return "done"
            except BaseException as e:
                return type(e).__name__

        def factory():
            from trtready import jail
            import sys
            # a single-threaded front process forks its child (an interpreter would have this module in argv)
            report = {{"active": jail.ACTIVE, "forked": "trtready.cli.jailed" not in sys.orig_argv}}
            report["load"] = _try(lambda: torch.export.load({str(evil)!r}))
            report["payload_ran"] = os.path.exists(os.path.join(tempfile.gettempdir(), "RAN"))
            for i, p in enumerate({[str(p) for p in outside]!r}):
                report[f"write{{i}}"] = _try(lambda: open(p, "w").close())
            victim = {str(victim)!r}
            report["append"] = _try(lambda: open(victim, "a").write("x"))
            report["remove"] = _try(lambda: os.remove(victim))
            report["rename"] = _try(lambda: os.rename(victim, victim + ".moved"))
            report["chmod"] = _try(lambda: os.chmod(victim, 0o666))
            report["utime"] = _try(lambda: os.utime(victim, (0, 0)))
            report["link_in"] = _try(lambda: os.link(victim, os.path.join(tempfile.gettempdir(), "hard")))
            report["symlink"] = _try(lambda: os.symlink(victim, os.path.join(tempfile.gettempdir(), "soft")))
            report["mkfifo"] = _try(lambda: os.mkfifo(os.path.join(tempfile.gettempdir(), "fifo")))
            report["connect"] = _try(lambda: socket.create_connection(("127.0.0.1", {server.port}), timeout=2))
            report["signal_parent"] = _try(lambda: os.kill(os.getppid(), 0))
            report["signal_group"] = _try(lambda: os.kill(0, 0))
            report["private_write"] = _try(lambda: open(os.path.join(tempfile.gettempdir(), "ok"), "w").close())
            # descriptors the child was born with: Landlock checks opens, not writes through open ones
            report["writable_fds"] = []
            for fd in os.listdir("/proc/self/fd"):
                try:
                    target = os.readlink(f"/proc/self/fd/{{fd}}")
                    flags = int(open(f"/proc/self/fdinfo/{{fd}}").read().split("flags:")[1].split()[0], 8)
                except OSError:
                    continue
                if int(fd) > 2 and flags & 3 and target != "/dev/null" and not target.startswith("anon_inode:") \
                        and not target.startswith(tempfile.gettempdir()) and ".trtready-jail." not in target:
                    report["writable_fds"].append(target)
            print("JAILREPORT " + json.dumps(report), flush=True)
            return torch.nn.Linear(4, 4), (torch.randn(2, 4),)
    """)
    (tmp_path / "hostile_spec.py").write_text(factory)
    try:
        # --json: the front process holds a lock file beside it, open for writing, while the child runs
        r = run_cli("verify", "hostile_spec:factory", str(craft.clean_pt2(tmp_path / "clean.pt2")),
                    "--json", str(tmp_path / "r.json"), cwd=tmp_path)
    finally:
        server.close()
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("JAILREPORT ")), None)
    assert line is not None, r.stderr
    report = json.loads(line.removeprefix("JAILREPORT "))
    assert report["active"] is True and report["forked"] is True
    assert report["payload_ran"] is True and report["load"] != "done"  # it ran, and its write outside failed
    assert report["private_write"] == "done"  # the jail's own folder works
    for key in [k for k in report if k.startswith("write")] + ["append", "remove", "rename", "chmod", "utime",
                                                                 "link_in", "symlink", "mkfifo", "connect",
                                                                 "signal_parent", "signal_group"]:
        # EPERM/EACCES, or EXDEV for a link across the jail's edge (Landlock's answer to a reparenting)
        assert report[key] in ("PermissionError", "OSError"), (key, report[key])
    assert report["writable_fds"] == []
    assert server.accepted == 0
    for p in outside:
        assert not p.exists(), p
    assert (victim.read_bytes(), victim.stat().st_mode, victim.stat().st_mtime_ns) == before


def test_a_front_process_with_its_streams_replaced_still_forks_and_gets_the_output(tmp_path: Path) -> None:
    """A program that calls the CLI with stdout and stderr redirected (``batch``'s workers do): the
    jailed child is still a fork when the process runs one thread, and what it prints arrives in the
    replaced streams, the exit code with it."""
    (tmp_path / "say_spec.py").write_text(textwrap.dedent("""
        import sys
        import torch

        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = torch.nn.Linear(4, 4)

            def forward(self, x):
                return self.lin(x)

        def factory():
            print("FORKED", "trtready.cli.jailed" not in sys.orig_argv)
            print("to stderr", file=sys.stderr)
            return M(), (torch.randn(2, 4),)
    """))
    pt2 = craft.clean_pt2(tmp_path / "clean.pt2")
    program = textwrap.dedent(f"""
        import contextlib, io, json, sys
        from trtready.cli.main import main
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["verify", "say_spec:factory", {str(pt2)!r}, "--trials", "1"])
            except SystemExit as e:
                code = e.code
        print(json.dumps({{"code": code, "out": out.getvalue(), "err": err.getvalue()}}))
    """)
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(tmp_path)])})
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["code"] in (0, 1), got
    assert "FORKED True" in got["out"] and "to stderr" in got["err"], got


def test_a_jailed_run_is_said_and_trust_code_is_not_jailed(tmp_path: Path) -> None:
    pt2 = craft.clean_pt2(tmp_path / "m.pt2")
    jailed = json.loads(run_cli("audit", str(pt2), "--json", "-", cwd=tmp_path).stdout)
    assert jailed["environment"]["isolation"].startswith("jail: Landlock ABI")
    trusted = json.loads(run_cli("audit", str(pt2), "--json", "-", "--trust-code", cwd=tmp_path).stdout)
    assert trusted["environment"]["isolation"].startswith("in-process")
    spec = json.loads(run_cli("audit", "trtready.demo:token_model", "--json", "-", cwd=tmp_path).stdout)
    assert spec["environment"]["isolation"].startswith("in-process")


def test_jailed_outputs_land_whole_and_leave_no_trace(tmp_path: Path) -> None:
    pt2 = craft.clean_pt2(tmp_path / "m.pt2")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    r = run_cli("convert", str(pt2), "-o", str(tmp_path / "out"), "--json", str(tmp_path / "r.json"),
                "--target", "trt-rtx", cwd=tmp_path, env=env)
    assert r.code == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".trtready.json", "model.engine", "model.engine.json", "model.onnx", "model.pt2", "report.html",
        "report.json", "state_dict.safetensors"]
    assert is_html_report(tmp_path / "out" / "report.html")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["build"]["engine"] == str(tmp_path / "out" / "model.engine")  # final paths, not the outbox
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt2", "out", "r.json", "tmp"]
    assert list(tmp.iterdir()) == []  # the private folder is gone too
    mode = (tmp_path / "out" / "model.onnx").stat().st_mode & 0o777
    assert mode == 0o644 & ~_umask()


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_sigterm_to_a_jailed_run_leaves_nothing(tmp_path: Path) -> None:
    pt2 = craft.clean_pt2(tmp_path / "m.pt2")
    proc = subprocess.Popen([sys.executable, "-m", "trtready", "convert", str(pt2), "-o", str(tmp_path / "out"),
                             "--target", "trt-rtx"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "TMPDIR": str(tmp_path)})
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".trtready-jail.") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    time.sleep(1.0)  # the child is importing torch or working
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt2"], err


def test_the_parent_takes_only_plain_files(tmp_path: Path) -> None:
    from trtready.errors import BadInputError

    box = tmp_path / "box"
    box.mkdir()
    (box / "ok.onnx").write_text("x")
    jail._check_tree(box)
    (box / "link").symlink_to(tmp_path / "victim")
    with pytest.raises(BadInputError, match="plain file"):
        jail._check_tree(box)
    (box / "link").unlink()
    os.mkfifo(box / "fifo")
    with pytest.raises(BadInputError, match="plain file"):
        jail._check_tree(box)
    (box / "fifo").unlink()
    (tmp_path / "victim").write_text("v")
    os.link(tmp_path / "victim", box / "hard")
    with pytest.raises(BadInputError, match="plain file"):
        jail._check_tree(box)


def test_a_commit_outside_the_outbox_is_refused(tmp_path: Path) -> None:
    from trtready.errors import BadInputError

    private = tmp_path / "private"
    private.mkdir()
    box = tmp_path / ".trtready-jail.x"
    box.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (private / "commits.json").write_text(json.dumps([
        {"final": str(tmp_path / "out.onnx"), "kind": "onnx", "staged": str(elsewhere)}]))
    run = jail._Run({tmp_path: box}, private)
    with pytest.raises(BadInputError, match="outside its outbox"):
        jail._commit(run, [], False)
    assert not (tmp_path / "out.onnx").exists()


def test_a_crash_in_the_jail_is_one_line(tmp_path: Path) -> None:
    """A library crashing on a model (a segfault in C++) kills only the child: one line, exit 2."""
    (tmp_path / "crash_spec.py").write_text(textwrap.dedent("""
        import os, signal
        import torch

        def factory():
            os.kill(os.getpid(), signal.SIGSEGV)
            return torch.nn.Linear(4, 4), (torch.randn(2, 4),)
    """))
    r = run_cli("verify", "crash_spec:factory", str(craft.clean_pt2(tmp_path / "clean.pt2")), cwd=tmp_path)
    assert r.code == 2, r.stderr
    assert r.stderr.startswith("trtready: error:") and "killed by SIGSEGV" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1
