"""The run-folder lock: one run writes a folder at a time.

A run that writes ``out_dir`` (checkpoint, log) holds ``out_dir/.memsnn-run.lock`` for as long as
it runs: the file names the holder (PID, host, start time, command line) and the holder keeps an
exclusive ``flock`` on it. A second run into the same folder is refused at once with
:class:`RunLockedError`, which names the first one.

The kernel releases a ``flock`` when its process ends in any way, ``kill -9`` included, so a lock
file left by a killed run holds no lock: the next run takes it over (one atomic ``flock`` call, so
two runs starting together cannot both take it) and says whose it was. After acquiring, the holder
checks that the file it locked is still the one at the path (a run that was just releasing it may
have removed it), and starts over if not.

On a file system without ``flock`` support the file's contents decide: a lock of a process on this
host that no longer exists is taken over, anything else is refused.

The lock is re-entrant within a process (:func:`memsnn.training.train` holds it around
:func:`~memsnn.training.fit` and the method's ``after_training``, and ``fit`` takes it too).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["LOCK_NAME", "RunLockedError", "run_lock"]

LOCK_NAME = ".memsnn-run.lock"

# Folders this process holds, resolved path -> [fd, depth].
_HELD: dict[Path, list] = {}


class RunLockedError(ValueError):
    """Another run is writing the folder.

    Attributes:
        out_dir: the folder.
        holder: what the lock file says about the run holding it (``pid``, ``host``, ``started``,
            ``command``; empty if it could not be read).
    """

    def __init__(self, out_dir: Path, holder: dict):
        self.out_dir, self.holder = out_dir, holder
        super().__init__(f"{out_dir} is in use by another run ({describe(holder)}); two runs writing one "
                         "folder would mix their logs and lose a model. Wait for it to finish (or stop "
                         "it), or train into another folder.")


def describe(holder: dict) -> str:
    """``PID 123 on host h, started 2026-01-01 10:00:00 UTC: memsnn train ...`` (what is known)."""
    if not holder:
        return "its lock file could not be read"
    text = f"PID {holder.get('pid', '?')} on host {holder.get('host', '?')}"
    started = holder.get("started")
    if isinstance(started, (int, float)):
        text += ", started " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
    if holder.get("command"):
        text += f": {holder['command']}"
    return text


def _read(fd: int) -> dict:
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
        holder = json.loads(data.decode())
        if isinstance(holder, dict):
            return holder
    return {}


def _alive_here(holder: dict) -> bool:
    """Whether the holder may still run: another host (unknown), or a live PID on this one."""
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return True
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _command() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(("memsnn", "cli.py", "__main__.py")):
        argv[0] = "memsnn"
    return " ".join(argv)[:300]


def _acquire(path: Path, out_dir: Path) -> tuple[int, dict]:
    """Lock ``path``; returns ``(fd, previous holder)`` (the holder ``{}`` unless a dead run's lock was taken over)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            previous = _read(fd)
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    time.sleep(0.05)  # the holder may be writing its name just now
                    raise RunLockedError(out_dir, _read(fd) or previous) from None
                except OSError as err:
                    if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                        raise
                    if previous and _alive_here(previous):
                        raise RunLockedError(out_dir, previous) from None
            elif previous and _alive_here(previous):
                raise RunLockedError(out_dir, previous) from None
            # The file locked must still be the one at the path (its holder may have removed it
            # between our open and our flock); otherwise start over on the new one.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": _command()}
            data = json.dumps(me).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
            return fd, previous
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise


@contextlib.contextmanager
def run_lock(out_dir: str | os.PathLike, *, notify=None):
    """Hold the lock of ``out_dir`` (created if missing) for the ``with`` block.

    Args:
        out_dir: the run folder.
        notify: called with one line when the lock of a run that ended without releasing it
            (``kill -9``, power cut) is taken over (default: printed to stderr).

    Raises:
        RunLockedError: another live run holds the folder (its PID, host and start time named).
        ValueError: ``out_dir`` is a file, or cannot be created or written (the message says which).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"the output folder {out_dir} is a file, not a folder; give a folder (it is created "
                         "if missing).")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create the output folder {out_dir} ({err.strerror or err}); give a folder "
                         "you can write.") from None
    key = out_dir.resolve()
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    path = out_dir / LOCK_NAME
    try:
        fd, previous = _acquire(path, out_dir)
    except OSError as err:
        raise ValueError(f"cannot write into the output folder {out_dir} ({err.strerror or err}); give a "
                         "folder you can write.") from None
    if previous:
        line = (f"memsnn: {out_dir} was locked by a run that ended without releasing it ({describe(previous)}; "
                "killed?); taking the lock over.")
        (notify or (lambda text: print(text, file=sys.stderr, flush=True)))(line)
    _HELD[key] = [fd, 1]
    try:
        yield
    finally:
        _HELD[key][1] -= 1
        if _HELD[key][1] == 0:
            del _HELD[key]
            # Remove the file while still holding it, then release (see _acquire's inode check).
            with contextlib.suppress(OSError):
                os.unlink(path)
            os.close(fd)
