"""Reading a path the user named: only regular files, and never more than a stated number of bytes.

A FIFO given as a manifest blocks ``open``/``read`` forever, ``/dev/zero`` never ends, a socket cannot
be read, and a tape device may rewind on open. Every path trtready reads is checked with ``stat``
first and opened without blocking (``O_NONBLOCK``; ``fstat`` on the open descriptor closes the race
with a file swapped in between), and whole-file reads stop at a limit with a clear error.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from trtready.errors import BadInputError

MAX_JSON_BYTES = 64 * 2**20  # manifests and reports are kilobytes; a 64 MiB one is not ours


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _refuse(path: str | os.PathLike[str], mode: int) -> BadInputError:
    kind = _kind(mode)
    return BadInputError(f"{path}: not a regular file" + ("" if kind == "not a regular file" else f" ({kind})"))


def check_regular(path: str | os.PathLike[str], what: str = "no such file") -> os.stat_result:
    """``stat(path)`` (following symlinks), refused unless it is a regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BadInputError(f"{path}: {what}") from None
    except ValueError:  # an embedded NUL byte
        raise BadInputError(f"{str(path)!r}: not a valid path (it holds a NUL byte)") from None
    except OSError as e:
        raise BadInputError(f"{path}: cannot read ({e.strerror})") from e
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(path, st.st_mode)
    return st


def open_regular(path: str | os.PathLike[str], what: str = "no such file") -> int:
    """A read-only descriptor of ``path``, proved to be a regular file before anything is read.

    Checked with ``stat`` first (opening some devices has effects), then opened non-blocking (a FIFO
    swapped in meanwhile cannot block the open) and checked again with ``fstat``; blocking reads are
    restored for the regular file.
    """
    check_regular(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise BadInputError(f"{path}: {what}") from None
    except OSError as e:
        raise BadInputError(f"{path}: cannot read ({e.strerror})") from e
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse(path, mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | os.PathLike[str], limit: int, what: str = "file", missing: str = "no such file") -> bytes:
    """The whole of a regular file of at most ``limit`` bytes; a larger one is refused without reading it."""
    fd = open_regular(path, missing)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise BadInputError(f"{path}: {size} bytes, over the {limit}-byte limit of a {what}")
        chunks = []
        total = 0
        while total <= limit:
            block = os.read(fd, min(1 << 20, limit + 1 - total))
            if not block:
                break
            chunks.append(block)
            total += len(block)
    except OSError as e:
        raise BadInputError(f"{path}: cannot read ({e.strerror})") from e
    finally:
        os.close(fd)
    if total > limit:
        raise BadInputError(f"{path}: over the {limit}-byte limit of a {what}")
    return b"".join(chunks)


def open_binary(path: str | os.PathLike[str], what: str = "no such file") -> BinaryIO:
    """A buffered binary file object over :func:`open_regular`'s descriptor."""
    return os.fdopen(open_regular(Path(path), what), "rb")
