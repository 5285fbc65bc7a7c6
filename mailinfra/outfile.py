"""Report files (`--output FILE`): checked before the work starts, written atomically.

`check_writable(path)` runs before planning, so a typo in `--output` costs nothing: it
creates (and removes) a file in the target's directory, the only test that answers for
permissions, read-only mounts and missing directories alike. `atomic_output(path)`
writes to a temporary file in that directory, flushes it to disk and renames it over
the target (`os.replace`): a full disk or any error mid-write leaves the old file, or
no file, and never half a report. A target that is not a regular file (`/dev/stdout`,
a FIFO, `/dev/full`) cannot be replaced and is written in place.

Errors are `OutputError`, one line naming the option and the path (exit 2).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import IO

from mailinfra.policies.mailinfra_policy.standards.errors import InputError

__all__ = ["OutputError", "atomic_output", "check_writable"]


class OutputError(InputError):
    """The report cannot be written where it was asked to go."""


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def _special(path: str) -> bool:
    """An existing target that is not a regular file (a device, a FIFO, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_writable(path: str, option: str = "--output") -> None:
    """Raise OutputError unless a report can be written to `path`."""
    if not path:
        raise OutputError(f"{option}: the path is empty")
    if os.path.isdir(path):
        raise OutputError(f"{option}: cannot write {path!r}: it is a directory")
    if _special(path):
        # not opened: opening a FIFO for writing waits for its reader
        if not os.access(path, os.W_OK):
            raise OutputError(f"{option}: cannot write {path!r}: permission denied")
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise OutputError(f"{option}: cannot write {path!r}: permission denied")
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".mailinfra-probe-")
    except OSError as exc:
        raise OutputError(f"{option}: cannot write {path!r}: {_reason(exc)}") from None
    os.close(fd)
    os.unlink(probe)


@contextlib.contextmanager
def atomic_output(path: str, option: str = "--output") -> Iterator[IO[str]]:
    """A text stream whose content replaces `path` only when the block succeeds."""
    check_writable(path, option)
    if _special(path):
        try:
            with open(path, "w", encoding="utf-8") as stream:
                yield stream
        except OSError as exc:
            raise OutputError(f"{option}: cannot write {path!r}: {_reason(exc)}") from None
        return
    target = os.path.abspath(path)
    directory, name = os.path.split(target)
    try:
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{option}: cannot write {path!r}: {_reason(exc)}") from None
    try:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)  # keep the old file's permissions
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # what open(path, "w") would have made
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except OSError as exc:
        _discard(temp)
        raise OutputError(f"{option}: cannot write {path!r}: {_reason(exc)}") from None
    except BaseException:
        _discard(temp)
        raise


def _discard(temp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(temp)
