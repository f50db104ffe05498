"""A jail for the processes that read untrusted model files: defence in depth behind the readers.

The loaders read model files as data (``load/pt2.py``, ``load/torchscript.py``, restricted unpickling,
protobuf parsing), and that is the first defence. A bug in any of them — or in torch, ONNX, ONNX
Runtime or TensorRT, which parse the same bytes afterwards — must still not cost the user a file. So
a CLI verb given a model file (and no ``--trust-code``) runs in a child process that:

- can **write** only into an outbox folder beside each output it was asked for and into its own
  private temporary folder (Landlock, Linux ≥ 5.13; symlinks, FIFOs, sockets and device nodes cannot
  be created there, nor can files be linked or moved in from elsewhere);
- can **read** only the Python installation, system libraries (``/usr``, ``/lib*``, ``/etc``, ``/proc``,
  ``/sys``, ``/dev``, ``/opt``), the current folder and the folders of its inputs;
- cannot open **sockets** of any kind, trace or write other processes' memory, signal other
  processes, change the mode, owner, times or extended attributes of any file, or use BPF, keyrings,
  io_uring or userfaultfd (seccomp through libseccomp).

The parent process never parses a model byte. It takes the output locks, creates the outboxes,
starts the child — a fork of itself when it runs one thread only (the CLI's front process does),
else a new interpreter — and waits for it (passing on SIGTERM), then moves what the child committed
into place through the usual output rules (``outputs.py``: marked, never over an input, swapped in
whole) after checking that the child left nothing but regular files and folders. The child's terminal output is the user's: it
inherits stdin, stdout and stderr.

Bindings used: ``landlock`` (PyPI, the Landlock system calls) and ``pyseccomp`` (PyPI, a ctypes
binding of libseccomp). Where the kernel has no Landlock or libseccomp is missing (macOS, old
kernels), the verb runs in-process as before and the report's ``environment.isolation`` says so; the
data-only readers are then the only defence. ``--trust-code`` runs in-process: the user vouched for
the file, and its code may need what the jail denies.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import os
import runpy
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from trtready import outputs
from trtready.errors import BadInputError
from trtready.load.detect import reads_file
from trtready.outputs import Kind, Output, OutputSession, check_folders, lock_outputs

# the jailed child's entry point (``trtready/cli/jailed.py``): named, not imported, so the jail stays
# below the CLI that uses it
CHILD_MODULE = "trtready.cli.jailed"

ACTIVE = False  # True inside a jailed child

_READ_ROOTS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/proc", "/sys", "/dev",
               "/opt")
_DENIED_SYSCALLS = (
    # no network, no other process's memory, no kernel programs or keyrings, no side doors
    "socket", "ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "keyctl", "add_key",
    "request_key", "io_uring_setup", "userfaultfd",
    # metadata of files Landlock lets the child read (Landlock does not cover these calls)
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "utime", "utimes",
    "futimesat", "utimensat", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
)
# signals only to itself (Landlock's signal scoping is ABI 6; this works on every kernel with seccomp)
_SELF_SIGNALS = (("kill", 0), ("tgkill", 0), ("rt_sigqueueinfo", 0), ("rt_tgsigqueueinfo", 0))
_COMMITS = "commits.json"


@dataclass(frozen=True)
class Isolation:
    """What this machine can enforce: Landlock's ABI version (0 = none) and whether seccomp loads."""

    landlock_abi: int
    seccomp: bool
    why_not: str = ""

    @property
    def available(self) -> bool:
        return self.landlock_abi >= 1 and self.seccomp

    def describe(self) -> str:
        if self.available:
            return f"jail: Landlock ABI {self.landlock_abi} (files) + seccomp (no sockets)"
        return f"none: {self.why_not}"


@lru_cache(maxsize=1)
def isolation() -> Isolation:
    if not sys.platform.startswith("linux"):
        return Isolation(0, False, f"no Landlock on {sys.platform}")
    try:
        from landlock.plumbing import landlock_abi_version

        abi = int(landlock_abi_version())
    except Exception as e:  # ImportError, or the kernel lacks the syscalls (SyscallError)
        return Isolation(0, False, f"Landlock unavailable ({type(e).__name__}: {str(e)[:80]})")
    try:
        import pyseccomp

        pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    except Exception as e:  # libseccomp.so.2 missing
        return Isolation(abi, False, f"seccomp unavailable ({type(e).__name__}: {str(e)[:80]})")
    return Isolation(abi, True)


# --- the child --------------------------------------------------------------------------------------
def _read_roots(extra: list[str]) -> list[str]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             os.getcwd(), *_READ_ROOTS, *extra}
    roots |= {p for p in sys.path if p}
    out: set[str] = set()
    for r in roots:
        for p in (os.path.abspath(r), os.path.realpath(r)):
            if os.path.exists(p):
                out.add(p)
    return sorted(out)


def restrict(reads: list[str], writes: list[str]) -> None:
    """Confine this process for good (Landlock + seccomp); there is no way back."""
    import pyseccomp
    from landlock import Ruleset
    from landlock.plumbing import FSAccess, landlock_abi_version

    abi = landlock_abi_version()
    read = FSAccess.READ_FILE | FSAccess.READ_DIR | FSAccess.EXECUTE
    file_rw = FSAccess.READ_FILE | FSAccess.WRITE_FILE | (FSAccess.TRUNCATE if abi >= 3 else 0)
    # what the outboxes allow: files and folders, never links, FIFOs, sockets or devices
    # REFER lets files move between folders inside these hierarchies only: Landlock requires it on both
    # sides, and nothing outside them has it
    write = (read | file_rw | FSAccess.REMOVE_DIR | FSAccess.REMOVE_FILE | FSAccess.MAKE_DIR
             | FSAccess.MAKE_REG | (FSAccess.REFER if abi >= 2 else 0))
    rules = Ruleset()
    for root in _read_roots(reads):
        rules.allow(root, rules=read if os.path.isdir(root) else read & ~FSAccess.READ_DIR)
    for dev in ("/dev/null", "/dev/zero", "/dev/full"):
        if os.path.exists(dev):
            rules.allow(dev, rules=file_rw)
    for gpu in sorted(Path("/dev").glob("nvidia*")) + sorted(Path("/dev/dri").glob("*") if Path("/dev/dri").is_dir() else []):
        if gpu.is_char_device():
            rules.allow(str(gpu), rules=file_rw | (FSAccess.IOCTL_DEV if abi >= 5 else 0))
    for folder in writes:
        rules.allow(folder, rules=write)
    seccomp = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for name in _DENIED_SYSCALLS:
        with contextlib.suppress(Exception):  # a syscall this architecture or libseccomp does not know
            seccomp.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
    me = os.getpid()
    for name, arg in _SELF_SIGNALS:
        with contextlib.suppress(Exception):
            seccomp.add_rule(pyseccomp.ERRNO(errno.EPERM), name, pyseccomp.Arg(arg, pyseccomp.NE, me))
    for name in ("tkill", "pidfd_send_signal"):
        with contextlib.suppress(Exception):
            seccomp.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
    seccomp.load()
    rules.apply()


def child_main(argv: list[str], entry: Callable[[list[str]], Any]) -> None:
    """``python -m trtready.cli.jailed REQUEST ARGS…``: confine, then run ``entry`` (the CLI) on ``ARGS``.

    The CLI is passed in rather than imported: the jail sits below the commands that use it.
    """
    global ACTIVE
    request = json.loads(argv[0])
    private = request["private"]
    restrict(request["reads"], [private, *request["outboxes"].values()])
    ACTIVE = True
    for var in ("HOME", "TMPDIR", "XDG_CACHE_HOME"):
        os.environ[var] = private
    tempfile.tempdir = private

    outputs.JAIL = outputs.JailOutbox({Path(k): Path(v) for k, v in request["outboxes"].items()},
                                      Path(private) / _COMMITS)
    entry(argv[1:])


# --- the parent -------------------------------------------------------------------------------------
@dataclass
class _Run:
    outboxes: dict[Path, Path] = field(default_factory=dict)
    private: Path | None = None

    def cleanup(self) -> None:
        for box in self.outboxes.values():
            shutil.rmtree(box, ignore_errors=True)
        if self.private is not None:
            shutil.rmtree(self.private, ignore_errors=True)


def wanted(models: list[str], trust_code: bool) -> bool:
    """A verb reading any model file (not a spec) without ``--trust-code`` runs jailed, when it can."""
    return (not ACTIVE and not trust_code and any(m and reads_file(m) for m in models)
            and isolation().available)


def run(argv: list[str], reads: list[Path], writes: list[Path], force: bool) -> int:
    """Run ``trtready ARGV`` in a jailed child; commit what it wrote; return its exit code."""
    run = _Run()
    writes = list(dict.fromkeys(Path(os.path.abspath(p)) for p in writes))  # the child reports collisions
    check_folders(writes)
    locks = lock_outputs([Output(p, Kind.FILE) for p in writes])
    try:
        run.private = Path(tempfile.mkdtemp(prefix="trtready-jail-"))
        for p in writes:
            folder = Path(os.path.abspath(p)).parent
            if folder not in run.outboxes and folder.is_dir():
                with contextlib.suppress(OSError):  # the child's own checks report an unwritable folder
                    run.outboxes[folder] = Path(tempfile.mkdtemp(prefix=".trtready-jail.", dir=folder))
        request = {"private": str(run.private), "outboxes": {str(k): str(v) for k, v in run.outboxes.items()},
                   "reads": sorted({str(Path(os.path.abspath(p)).parent) for p in reads})}
        code = _wait([json.dumps(request), *argv])
        if code < 0:  # killed by a signal: it printed nothing, so say it here
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            if -code in (signal.SIGINT, signal.SIGTERM):
                raise KeyboardInterrupt
            raise BadInputError(f"the run reading the model was killed by {name} (a crash in a library reading "
                                "it, or out of memory); nothing written")
        if code in (0, 1):
            _commit(run, reads, force)
        return code
    finally:
        run.cleanup()
        locks.release()


def _wait(args: list[str]) -> int:
    """The exit code of the child run on ``args``; SIGINT and SIGTERM are passed on to it.

    The child writes to this process's terminal directly; when this process's streams were replaced
    (an embedding program, a test runner, a ``batch`` worker), its output is carried over into them
    instead. A single-threaded process forks the child (``_Forked``); any other starts an interpreter.
    """
    inherit = sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__
    # the child lays out its tables for the width this process would have used
    columns = str(shutil.get_terminal_size((100, 24)).columns)
    proc: subprocess.Popen[bytes] | _Forked
    if _single_threaded():
        proc = _Forked(args, columns, capture=not inherit)
    else:
        pipe = None if inherit else subprocess.PIPE
        # its own process group: a Ctrl-C from the terminal reaches this process only, which passes it
        # on once (a child in the terminal's group would get it twice)
        proc = subprocess.Popen([sys.executable, "-m", CHILD_MODULE, *args], close_fds=True, stdout=pipe,
                                stderr=pipe, env={**os.environ, "COLUMNS": columns}, process_group=0)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def forward(signum: int, frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        if inherit:
            code = proc.wait()
        else:
            out, err = proc.communicate()
            sys.stdout.write(out.decode("utf-8", "replace"))
            sys.stderr.write(err.decode("utf-8", "replace"))
            code = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code  # negative: killed by that signal


def _single_threaded() -> bool:
    """Whether this process has one thread, native ones included: only then may it fork.

    A fork copies the calling thread alone; a lock another thread held stays held in the child. The
    CLI's front process is single-threaded (it imports no numpy, whose BLAS starts a pool, nor torch).
    """
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no procfs: start a new interpreter
        return False


class _Forked:
    """The jailed child as a fork of this process, run as ``python -m trtready.cli.jailed ARGS`` would run.

    Starting an interpreter and importing the package again costs about a third of a second of every
    run reading a model file (more when this process already holds torch), and a fork inherits both.
    What the child must not inherit is closed off before it confines itself: every descriptor above
    stderr now points at ``/dev/null`` (the number stays taken, so an inherited object that closes its
    descriptor later cannot close one the child opened), and this process's exit handlers are dropped.
    It leaves through ``os._exit``, after its own exit handlers: nothing of this process's stack runs
    twice. With ``capture`` its stdout and stderr are pipes that :meth:`communicate` reads.
    """

    def __init__(self, args: list[str], columns: str, capture: bool = False) -> None:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pipes = (os.pipe(), os.pipe()) if capture else None
        pid = os.fork()
        if pid == 0:
            _forked_child(args, columns, (pipes[0][1], pipes[1][1]) if pipes is not None else None)  # never returns
        with contextlib.suppress(OSError):  # the child may have set it already, or be gone
            os.setpgid(pid, pid)
        self.pid = pid
        self.returncode: int | None = None
        self._reads: list[int] = []
        if pipes is not None:
            for read, write in pipes:
                os.close(write)
                self._reads.append(read)

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def communicate(self) -> tuple[bytes, bytes]:
        """Everything the child wrote to stdout and stderr, read until both close (as Popen's)."""
        chunks: dict[int, list[bytes]] = {fd: [] for fd in self._reads}
        with selectors.DefaultSelector() as sel:
            for fd in self._reads:
                sel.register(fd, selectors.EVENT_READ)
            while sel.get_map():
                for key, _ in sel.select():
                    data = os.read(key.fd, 1 << 16)
                    if data:
                        chunks[key.fd].append(data)
                    else:
                        sel.unregister(key.fd)
                        os.close(key.fd)
        out, err = (b"".join(chunks[fd]) for fd in self._reads)
        self._reads = []
        return out, err

    def wait(self) -> int:
        while self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
            except InterruptedError:  # pragma: no cover - Python retries waitpid itself (PEP 475)
                continue
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _forked_child(args: list[str], columns: str, streams: tuple[int, int] | None) -> NoReturn:
    code = 1
    try:
        if streams is not None:  # the pipes' write ends become fds 1 and 2 (the loop below drops the rest)
            os.dup2(streams[0], 1)
            os.dup2(streams[1], 2)
            # the streams this process had were objects of its own (a StringIO): new ones on fds 1 and 2
            sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
            sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        os.setpgid(0, 0)  # its own process group, as the interpreter child has (see _wait)
        null = os.open(os.devnull, os.O_RDWR)
        for name in os.listdir("/proc/self/fd"):
            if int(name) > 2 and int(name) != null:
                with contextlib.suppress(OSError):
                    os.dup2(null, int(name), inheritable=False)
        os.close(null)
        atexit._clear()
        os.environ["COLUMNS"] = columns
        sys.argv = [CHILD_MODULE, *args]
        runpy.run_module(CHILD_MODULE, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            code = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
    except KeyboardInterrupt:  # as an interpreter ends on one: killed by SIGINT
        code = -signal.SIGINT
    except BaseException:  # as an interpreter reports an uncaught exception
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        if code < 0:
            signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        os._exit(code)


def _commit(run: _Run, reads: list[Path], force: bool) -> None:
    """Move what the child committed into place, after checking it is only files and folders."""
    assert run.private is not None
    path = run.private / _COMMITS
    if not path.is_file() or path.is_symlink():
        return
    with open(path, "rb") as fh:
        records = json.loads(fh.read(1 << 20))
    for rec in records:
        final, kind, staged = Path(rec["final"]), Kind(rec["kind"]), Path(rec["staged"])
        box = run.outboxes.get(Path(os.path.abspath(final)).parent)
        if box is None or staged.parent != box or not staged.is_dir() or staged.is_symlink():
            raise BadInputError(f"{final}: the jailed run reported an output outside its outbox; nothing written")
        _check_tree(staged)
        session = OutputSession([Output(final, kind)], list(reads), force)
        session.check()
        session.adopt(final, staged)
        session.commit(final)


def _check_tree(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                raise BadInputError(f"{os.path.join(dirpath, name)}: the jailed run left something other than a "
                                    "plain file; nothing written")

