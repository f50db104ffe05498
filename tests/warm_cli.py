"""``trtready ARGS`` in a fresh process without paying torch's import each time.

A CLI test is a real process: its own exit code, its own stdout and stderr, a crash or an ``os._exit``
that cannot take the test runner down. Importing torch, torch.export, onnx and ONNX Runtime costs a few
seconds per process, and a few hundred CLI tests paid it again and again. Here one server process per
test worker imports those third-party modules once (nothing of trtready's: its import-time reading of
the environment happens in each run) and forks a child per call; the child takes the call's working
folder, environment and argv, imports trtready and runs ``python -m trtready`` as the interpreter would,
and ends the way an interpreter ends (SystemExit's code, atexit handlers, flushed streams).

The full tier (``TRTREADY_TIER=full``, what CI runs) starts a cold interpreter for every call instead,
so everything asserted here is also asserted against ``python -m trtready`` exactly as a user starts it.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

# Heavy third-party modules only, none that starts a thread at import: ONNX Runtime does (a native one,
# which a forked child then fails to join at exit), so each run imports it itself. numpy's OpenBLAS
# starts a pool unless told to use one thread (the server is): a run whose process holds one thread
# only forks its jailed child as the CLI's own front process does, instead of starting an interpreter.
PRELOAD = ("torch", "torch.export", "torch.onnx", "onnx", "onnx_ir", "onnxscript", "numpy",
           "click", "rich.console", "safetensors", "transformers")

# The server: imports PRELOAD, then for each request line forks a child that becomes ``python -m trtready``.
SERVER = r'''
import importlib, json, os, runpy, sys, threading, time
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception:
        pass
assert len(os.listdir("/proc/self/task")) == 1, "a preloaded module started a thread: forking would not be safe"
reply = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
first_path = list(sys.path)
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
        os.dup2(os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
        reply.close()
        sys.stdin = open(0, closefd=False)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        extra = [p for p in req["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [os.getcwd(), *extra, *first_path[1:]]
        sys.argv = ["trtready", *req["argv"]]
        import tempfile
        tempfile.tempdir = None  # found again from this run's TMPDIR
        try:
            runpy.run_module("trtready", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as stop:
            if stop.code is None or isinstance(stop.code, int):
                code = stop.code or 0
            else:
                print(stop.code, file=sys.stderr)
                code = 1
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        # What an interpreter's exit does that a run can observe: atexit handlers (weakref finalizers
        # among them) and flushed streams. Tearing down torch's modules would take seconds and shows nothing.
        import atexit
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)
    deadline = time.monotonic() + req["timeout"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            os.killpg(pid, 9)
            os.waitpid(pid, 0)
            code = None
            break
        time.sleep(0.01)
    reply.write(json.dumps({"code": code}) + "\n")
'''


class _Server:
    """One forking server per test process, started on first use."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, json.dumps(PRELOAD)], stdin=subprocess.PIPE,
                                     env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
                                     stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
        self.lock = threading.Lock()

    def run(self, argv: list[str], cwd: Path | None, env: dict[str, str], timeout: float,
            scratch: Path) -> tuple[int, str, str]:
        out, err = scratch / "stdout", scratch / "stderr"
        req = {"argv": argv, "cwd": str(cwd or os.getcwd()), "env": env, "timeout": timeout,
               "stdout": str(out), "stderr": str(err)}
        with self.lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout + 30)
            line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the CLI server died (exit {self.proc.poll()})")
        code = json.loads(line)["code"]
        if code is None:
            raise subprocess.TimeoutExpired(["trtready", *argv], timeout)
        return code, out.read_text(errors="replace"), err.read_text(errors="replace")


_server: _Server | None = None


def run_warm(argv: list[str], cwd: Path | None, env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run ``python -m trtready ARGV`` in a child forked from the warm server."""
    import tempfile

    global _server
    if _server is None or _server.proc.poll() is not None:
        _server = _Server()
    with tempfile.TemporaryDirectory(prefix="trtready-cli-") as scratch:
        return _server.run(argv, cwd, env, timeout, Path(scratch))
