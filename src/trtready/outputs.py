"""Every file trtready writes goes through one :class:`OutputSession`.

The rules it enforces, for every verb (docs/cli.md "Shared options", docs/hardening.md):

- **Checked before any work starts.** Each output path (with its companions: ``OUT.onnx.data``,
  ``ENGINE.json``) is compared with every input path and every other output: equal paths, the same
  file under another name (hard links, symlinks) and an output folder that holds an input are refused.
- **Only trtready's own files are replaced**, and only with ``--force`` (JSON reports excepted: a
  report trtready wrote is replaced without it). What trtready wrote carries a mark: a
  ``.trtready.json`` inventory in output folders, ``trtready.written_by`` in ONNX metadata, a
  ``.trtready.json`` zip member in ``.pt2``/TorchScript/checkpoint archives, safetensors metadata,
  the manifest beside an engine, the ``tool_version`` and ``verb`` of a report. A folder holding anything its
  inventory does not list, or a file without the mark, is refused with one line.
- **Nothing half-written, nothing lost.** Outputs are written into a staging folder beside the
  destination, fsynced, then swapped in: the old output is moved aside, the new one renamed into
  place, the old one removed last — a failure at any point puts the old output back.
- **One writer per output.** An exclusive ``flock`` on ``.NAME.trtready.lock`` beside each output
  makes a second concurrent run onto the same output refuse at once instead of racing.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtready.errors import BadInputError, UsageError
from trtready.lazy import ir, onnx
from trtready.load import sha256_file
from trtready.version import __version__

# Past this many bytes of initializers the weights go to a ``.data`` file beside the model.
EXTERNAL_DATA_THRESHOLD = 256 * 1024 * 1024
MARKER = ".trtready.json"  # inventory inside an output folder; member name inside a zip archive
ONNX_MARK_KEY = "trtready.written_by"
FILE_MODE = 0o644  # every file trtready writes gets the same permissions (umask still applies)


class Kind(str, enum.Enum):
    FILE = "file"  # one file: .pt2, TorchScript, checkpoint, safetensors
    ONNX = "onnx"  # OUT.onnx, plus OUT.onnx.data when the weights are external
    ENGINE = "engine"  # OUT.engine, plus OUT.engine.json (its manifest)
    FOLDER = "folder"  # OUT/, with a .trtready.json inventory of what trtready wrote there
    REPORT = "report"  # a JSON or HTML report; replaced without --force when trtready wrote it


@dataclass(frozen=True)
class Output:
    path: Path
    kind: Kind

    @property
    def companions(self) -> list[Path]:
        if self.kind is Kind.ONNX:
            return [self.path.with_name(self.path.name + ".data")]
        if self.kind is Kind.ENGINE:
            return [self.path.with_name(self.path.name + ".json")]
        return []

    @property
    def paths(self) -> list[Path]:
        return [self.path, *self.companions]


def _resolved(p: Path) -> Path:
    """The absolute path with symlinks resolved (for a missing file: its resolved folder)."""
    p = Path(os.path.abspath(p))
    try:
        return p.resolve(strict=False)
    except (OSError, RuntimeError):
        return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return _resolved(a) == _resolved(b)


def _inside(child: Path, folder: Path) -> bool:
    c, f = _resolved(child), _resolved(folder)
    return c != f and f in c.parents


def _read_json(path: Path) -> Any:
    """The JSON in a regular file (at most 64 MiB read), else None; a FIFO or device is never read."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            return json.loads(fh.read(64 * 2**20))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    finally:
        os.close(fd)


def is_report(path: Path) -> bool:
    """A JSON report a verb wrote with ``--json``: it names its ``tool_version`` and its ``verb``."""
    data = _read_json(path)
    return isinstance(data, dict) and "tool_version" in data and "verb" in data


def is_sarif_report(path: Path) -> bool:
    """A SARIF log trtready wrote (``--sarif``): version 2.1.0, one run whose driver is trtready."""
    data = _read_json(path)
    if not isinstance(data, dict) or data.get("version") != "2.1.0" or not isinstance(data.get("runs"), list):
        return False
    runs = data["runs"]
    driver = runs[0].get("tool", {}).get("driver", {}) if runs and isinstance(runs[0], dict) else {}
    return isinstance(driver, dict) and driver.get("name") == "trtready"


def is_html_report(path: Path) -> bool:
    """An HTML report trtready wrote (``--html``, ``report.html``): its head names trtready as generator."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError:
        return False
    return head.startswith(b"<!DOCTYPE html>") and b'<meta name="generator" content="trtready ' in head


def _is_manifest(path: Path) -> bool:
    """An engine manifest trtready wrote (``X.engine.json``): never a report, replaced only with --force."""
    data = _read_json(path)
    return isinstance(data, dict) and "tool_version" in data and "manifest_version" in data and "verb" not in data


def _zip_marked(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.rsplit("/", 1)[-1] == MARKER for n in zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def _safetensors_marked(path: Path) -> bool:
    import struct

    try:
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n > 100 * 2**20:
                return False
            header = json.loads(fh.read(n))
    except (OSError, ValueError, struct.error, UnicodeDecodeError, RecursionError):
        return False
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return isinstance(meta, dict) and meta.get("written_by") == "trtready"


def _onnx_marked(path: Path) -> bool:
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except Exception:  # not a protobuf at all: not ours
        return False
    return any(p.key == ONNX_MARK_KEY for p in proto.metadata_props)


def _engine_marked(engine: Path, manifest: Path) -> bool:
    data = _read_json(manifest)
    if not (isinstance(data, dict) and "manifest_version" in data):
        return False
    if not engine.exists():
        return True

    try:
        return (data.get("engine") or {}).get("sha256") == sha256_file(engine)
    except OSError:
        return False


def written_by_trtready(output: Output) -> tuple[bool, str]:
    """``(True, "")`` when every existing path of ``output`` carries trtready's mark, else why not."""
    path = output.path
    if output.kind is Kind.FOLDER:
        if not path.is_dir():
            return False, "is not a folder trtready wrote"
        inventory = _read_json(path / MARKER)
        if not isinstance(inventory, dict) or not isinstance(inventory.get("files"), list):
            return False, f"has no {MARKER} inventory: trtready did not write it"
        foreign = sorted(set(os.listdir(path)) - set(map(str, inventory["files"])) - {MARKER})
        if foreign:
            return False, f"holds files trtready did not write ({', '.join(foreign[:3])}{' …' if len(foreign) > 3 else ''})"
        return True, ""
    if output.kind is Kind.ENGINE:
        manifest = output.companions[0]
        if manifest.exists() and _engine_marked(path, manifest):
            return True, ""
        return False, f"has no trtready manifest {manifest.name} matching it"
    if output.kind is Kind.ONNX:
        data = output.companions[0]
        if path.exists():
            return (True, "") if path.is_file() and _onnx_marked(path) else (False, "is not an ONNX model trtready wrote")
        return False, f"{data.name} exists without the model trtready would have written beside it"
    if not path.is_file():
        return False, "is not a file"
    if output.kind is Kind.REPORT:
        if is_report(path) or is_html_report(path) or is_sarif_report(path):
            return True, ""
        if _is_manifest(path):
            return True, "is an engine manifest trtready wrote, not a report"
        suffix = path.suffix.lower()
        what = "HTML" if suffix in (".html", ".htm") else "SARIF" if suffix == ".sarif" else "JSON"
        return False, f"is not a trtready {what} report"
    if _zip_marked(path) or _safetensors_marked(path):
        return True, ""
    return False, "carries no trtready mark"


def check_folders(paths: Iterable[Path]) -> None:
    """Each output's folder exists, is a folder and is writable (judged before any lock or work)."""
    for path in paths:
        parent = _resolved(path).parent
        if not parent.exists():
            raise BadInputError(f"{path}: folder {parent} does not exist")
        if not parent.is_dir():
            raise BadInputError(f"{path}: {parent} is not a folder")
        if not os.access(parent, os.W_OK):
            raise BadInputError(f"{path}: folder {parent} is not writable")


@dataclass
class _Lock:
    path: Path
    fd: int


def _lock(output: Output) -> _Lock:
    """Exclusive, non-blocking; the lock file is re-checked after locking (it may have been replaced).

    The lock path is never followed through a symlink (``O_NOFOLLOW``: a link planted there would
    make trtready create or lock the file it points at) and must be a regular file.
    """
    import fcntl
    import stat

    lock_path = output.path.with_name(f".{output.path.name}.trtready.lock")
    not_ours = f"{lock_path}: is a symlink or not a regular file, not a trtready lock; refusing to use it (remove it)"
    for _ in range(5):
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
        except OSError as e:
            if e.errno == errno.ELOOP or lock_path.is_symlink():
                raise UsageError(not_ours) from None
            raise BadInputError(f"{output.path}: cannot create a lock file in {lock_path.parent} ({e.strerror})") from e
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UsageError(not_ours)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UsageError(f"{output.path}: another trtready run is writing this output; try again when it ends") from None
            raise BadInputError(f"{output.path}: cannot lock ({e.strerror})") from e
        try:
            same = os.fstat(fd).st_ino == os.lstat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return _Lock(lock_path, fd)
        os.close(fd)
    raise UsageError(f"{output.path}: another trtready run is writing this output; try again when it ends")


@dataclass
class Locks:
    """The locks of one run's outputs, released (and their files removed) together."""

    held: list[_Lock] = field(default_factory=list)

    def release(self) -> None:
        import fcntl

        for lock in self.held:
            with contextlib.suppress(OSError):
                lock.path.unlink()
            with contextlib.suppress(OSError):
                fcntl.flock(lock.fd, fcntl.LOCK_UN)
            os.close(lock.fd)
        self.held.clear()


def lock_outputs(outputs: Iterable[Output]) -> Locks:
    """One exclusive lock per output path; all or none."""
    locks = Locks()
    try:
        for o in outputs:
            locks.held.append(_lock(o))
    except BaseException:
        locks.release()
        raise
    return locks


@dataclass
class JailOutbox:
    """Inside a jailed run (``trtready.jail``): where outputs are staged and how commits are handed over.

    The jailed process cannot write beside its outputs; it stages them in the outbox the parent made
    in each output's folder and records each commit, which the parent carries out after it exits.
    """

    outboxes: dict[Path, Path]  # output folder (absolute) -> outbox in it
    log: Path
    records: list[dict[str, str]] = field(default_factory=list)

    def folder_for(self, path: Path) -> Path:
        folder = Path(os.path.abspath(path)).parent
        box = self.outboxes.get(folder)
        if box is None:
            raise BadInputError(f"{path}: cannot write in {folder}")
        return box

    def record(self, output: Output, staged: Path) -> None:
        self.records.append({"final": str(output.path), "kind": output.kind.value, "staged": str(staged)})
        write_bytes(json.dumps(self.records).encode(), self.log)


JAIL: JailOutbox | None = None  # set by trtready.jail in a jailed child


def _fsync_path(p: Path) -> None:
    try:
        fd = os.open(p, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(p: Path) -> None:
    if p.is_dir():
        for child in p.rglob("*"):
            if child.is_file():
                _fsync_path(child)
    else:
        _fsync_path(p)
    _fsync_path(p.parent)


@dataclass
class OutputSession:
    """The outputs of one run: checked and locked on entry, staged, then committed whole.

    Use as a context manager; :meth:`stage` gives where to write, :meth:`commit` swaps it in. Anything
    staged but not committed when the session ends (an error, Ctrl-C, SIGTERM) is removed.
    """

    outputs: list[Output]
    inputs: list[Path] = field(default_factory=list)
    force: bool = False
    _locks: Locks = field(default_factory=Locks, init=False, repr=False)
    _staging: dict[Path, Path] = field(default_factory=dict, init=False, repr=False)

    def check(self) -> None:
        """Every rule that can be judged before work starts; raises on the first violation."""
        for p in [o.path for o in self.outputs] + list(self.inputs):
            if "\x00" in str(p):  # os.stat and open raise ValueError on it
                raise UsageError(f"{str(p)!r}: not a valid path (it holds a NUL byte)")
        paths = [(o, p) for o in self.outputs for p in o.paths]
        for i, (o, p) in enumerate(paths):
            for inp in self.inputs:
                if _same_file(p, inp):
                    raise UsageError(f"{p}: is an input; refusing to write over it (choose another -o)")
                if _inside(inp, p):
                    raise UsageError(f"{p}: holds the input {inp}; refusing to write there (choose another -o)")
            for o2, p2 in paths[i + 1:]:
                if o2 is not o and (_same_file(p, p2) or _inside(p2, p) or _inside(p, p2)):
                    raise UsageError(f"{p} and {p2}: two outputs of this run collide; choose different paths")
        check_folders([o.path for o in self.outputs])
        for o in self.outputs:
            existing = [p for p in o.paths if p.exists() or p.is_symlink()]
            if not existing:
                continue
            if o.kind is Kind.FOLDER and o.path.exists() and not o.path.is_dir():
                raise BadInputError(f"{o.path}: exists and is not a folder")
            if o.kind is not Kind.FOLDER and o.path.is_dir():
                raise BadInputError(f"{o.path}: is a folder; give a file name")
            if not self.force and o.kind is not Kind.REPORT:
                raise UsageError(f"{existing[0]}: already exists (--force replaces what trtready wrote)")
            ours, why = written_by_trtready(o)
            if not ours:
                raise UsageError(f"{existing[0]}: {why}; refusing to replace it")
            if why and not self.force:  # trtready's own file, but not one a report may replace unasked
                raise UsageError(f"{existing[0]}: {why} (--force replaces it)")

    def __enter__(self) -> OutputSession:
        self.check()
        if JAIL is None:  # in a jailed run the parent holds the locks
            self._locks = lock_outputs(self.outputs)
        return self

    def __exit__(self, *exc: object) -> None:
        for staged in list(self._staging.values()):
            shutil.rmtree(staged, ignore_errors=True)
        self._staging.clear()
        self._locks.release()

    def _find(self, path: Path) -> Output:
        for o in self.outputs:
            if o.path == Path(path):
                return o
        raise ValueError(f"{path} is not an output of this session")  # pragma: no cover - programming error

    def stage(self, path: Path) -> Path:
        """Where to write ``path``: a file of that name (or, for a folder, a folder) in a staging area."""
        o = self._find(path)
        if o.path not in self._staging:
            folder = JAIL.folder_for(o.path) if JAIL is not None else o.path.parent
            try:
                self._staging[o.path] = Path(tempfile.mkdtemp(prefix=f".{o.path.name}.", suffix=".trtready", dir=folder))
            except OSError as e:
                raise BadInputError(f"{o.path}: cannot write in {o.path.parent} ({e.strerror})") from e
        staged = self._staging[o.path]
        return staged if o.kind is Kind.FOLDER else staged / o.path.name

    def adopt(self, path: Path, staged: Path) -> None:
        """Take ``staged`` (a folder a jailed run filled) as the staging area of ``path``."""
        self._staging[self._find(path).path] = staged

    def commit(self, path: Path) -> list[Path]:
        """Swap the staged output into place; returns the final paths written."""
        o = self._find(path)
        staged = self._staging.get(o.path)
        if staged is None:
            raise ValueError(f"{path} was not staged")  # pragma: no cover - programming error
        if JAIL is not None:  # the parent swaps it in after the jailed run ends
            JAIL.record(o, staged)
            del self._staging[o.path]
            if o.kind is Kind.FOLDER:
                return [o.path / name for name in sorted(p.name for p in staged.iterdir())]
            return [o.path.parent / f.name for f in _new_files(o, staged)]
        try:
            if o.kind is Kind.FOLDER:
                files = sorted(p.name for p in staged.iterdir())
                write_json({"written_by": "trtready", "files": files}, staged / MARKER)
                _set_modes(staged)
                _fsync_tree(staged)
                _swap([(staged, o.path)], [])
                del self._staging[o.path]
                return [o.path / name for name in files]
            new = _new_files(o, staged)
            for f in new:
                os.chmod(f, FILE_MODE)
                _fsync_path(f)
            pairs = [(f, o.path.parent / f.name) for f in new]
            stale = [p for p in o.paths if p.exists() and p.name not in {f.name for f in new}]
            _swap(pairs, stale)
            _fsync_path(o.path.parent)
            shutil.rmtree(staged, ignore_errors=True)
            del self._staging[o.path]
            return [dest for _, dest in pairs]
        except OSError as e:
            raise BadInputError(f"{o.path}: cannot write ({e.strerror})") from e


def _new_files(o: Output, staged: Path) -> list[Path]:
    """The staged files of a file output, data and manifest first: a model never points at a file that
    is not there yet."""
    new = [staged / p.name for p in o.paths if (staged / p.name).exists()]
    return sorted(new, key=lambda f: f.name == o.path.name)


def _set_modes(folder: Path) -> None:
    os.chmod(folder, 0o755)
    for p in folder.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else FILE_MODE)


def _aside(p: Path) -> Path:
    import uuid

    return p.with_name(f".{p.name}.{uuid.uuid4().hex[:12]}.trtready-old")


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


def _swap(pairs: list[tuple[Path, Path]], stale: list[Path]) -> None:
    """Move existing destinations (and stale companions) aside, rename the new ones in; roll back on failure."""
    moved: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for dest in [d for _, d in pairs if d.exists() or d.is_symlink()] + stale:
            backup = _aside(dest)
            os.rename(dest, backup)
            moved.append((dest, backup))
        for new, dest in pairs:
            os.rename(new, dest)
            placed.append(dest)
    except BaseException:
        for dest in placed:
            _remove(dest)
        for dest, backup in reversed(moved):
            with contextlib.suppress(OSError):
                os.rename(backup, dest)
        raise
    for _, backup in moved:
        _remove(backup)


# --- writers: they write where they are told (a staged path); atomicity comes from the session --------
def dumps(data: dict[str, Any]) -> str:
    """The project's JSON: indented, no NaN (not JSON), paths as strings."""
    return json.dumps(data, indent=2, allow_nan=False, default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(data: dict[str, Any], path: Path) -> None:
    text = dumps(data) + "\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def write_bytes(data: bytes, path: Path) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def mark_zip(path: Path, verb: str) -> None:
    """Add trtready's mark to a zip archive it wrote (torch ignores members it does not know)."""
    with zipfile.ZipFile(path, "a") as zf:
        names = zf.namelist()
        root = names[0].split("/", 1)[0] + "/" if names and "/" in names[0] else ""
        zf.writestr(root + MARKER, json.dumps({"written_by": "trtready", "tool_version": __version__, "verb": verb}))


def save_onnx(model: ir.Model, path: Path, verb: str, external_threshold: int | None = None) -> list[Path]:
    """Write ``model`` to ``path`` (+ ``path.data`` when its weights exceed the threshold), marked as ours.

    Protobuf cannot hold more than 2 GB, so large weights must live in the data file; the threshold
    (``EXTERNAL_DATA_THRESHOLD`` by default) is well below that. A model whose weights came from a
    data file (as torch.onnx writes them) keeps that layout: its weights are copied into ``path.data``,
    never referenced where they were. The model object is not changed.
    """
    if external_threshold is None:
        external_threshold = EXTERNAL_DATA_THRESHOLD
    total, external = 0, False
    for graph in model.graphs():
        for v in graph.initializers.values():
            if v.const_value is not None:
                total += v.const_value.nbytes
                external = external or isinstance(v.const_value, ir.ExternalTensor)
    data_name = path.name + ".data" if external or total > external_threshold else None
    before = model.metadata_props.get(ONNX_MARK_KEY)
    model.metadata_props[ONNX_MARK_KEY] = f"trtready {__version__} {verb}"
    try:
        if data_name:
            ir.save(model, path, external_data=data_name, size_threshold_bytes=1024)
        else:
            ir.save(model, path)
    except OSError as e:
        raise BadInputError(f"{path}: cannot write ({e.strerror})") from e
    finally:
        if before is None:
            model.metadata_props.pop(ONNX_MARK_KEY, None)
        else:
            model.metadata_props[ONNX_MARK_KEY] = before
    return [path] + ([path.with_name(data_name)] if data_name else [])


@contextlib.contextmanager
def session(outputs: Iterable[Output], inputs: Iterable[Path] = (), force: bool = False) -> Iterator[OutputSession]:
    with OutputSession(list(outputs), [Path(p) for p in inputs], force) as s:
        yield s


@contextlib.contextmanager
def use_session(existing: OutputSession | None, outputs: Iterable[Output], inputs: Iterable[Path] = (),
                force: bool = False) -> Iterator[OutputSession]:
    """The caller's session when it has one (the CLI adds ``--json`` to it), else a new one."""
    if existing is not None:
        yield existing
        return
    with session(outputs, inputs, force) as s:
        yield s
