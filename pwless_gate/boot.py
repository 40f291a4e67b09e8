"""A bad setting or app string while gunicorn loads the gate: one line on stderr, one stop.

Without ``--preload``, gunicorn loads the app in each worker after the fork.
A worker that raises there has its traceback logged and exits with
``WORKER_BOOT_ERROR``; the arbiter then halts, and when a second worker fails
while it halts, the arbiter raises again from inside its own shutdown: a
traceback from the master too (gunicorn's ``Arbiter.stop`` reaps workers with
the same code that raised ``HaltServer`` the first time). With
:func:`stop_gunicorn_boot`, a :class:`~pwless_gate.errors.ConfigError` raised
while gunicorn loads the app becomes instead:

- one line on stderr, ``pwless-gate: <setting>: <problem>``, from the first
  worker of the master to fail, which exits with gunicorn's
  ``APP_LOAD_ERROR`` status (4): the arbiter stops every worker and exits
  with 4, logging "Reason: App failed to load.";
- a silent exit with status 0 from every other worker that fails, so that
  exactly one exit halts the arbiter.

The first worker is elected by creating a marker file, named after the
master's pid and start time, with ``O_EXCL`` in a private directory
(``$XDG_RUNTIME_DIR/pwless-gate-<uid>``, else under the temp directory);
markers of masters that are gone are removed. Where the master's start time
cannot be read (no ``/proc``), every failing worker speaks and exits with 4.
With ``--preload`` or ``--check-config`` the app is loaded in the master
itself, which prints the line and exits with 4.

Outside gunicorn's loading nothing here applies: ``gate()`` raises the
``ConfigError`` as usual.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from types import FrameType
from typing import NoReturn

from .errors import ConfigError

#: gunicorn's exit status for "the application could not be loaded"
#: (``Arbiter.APP_LOAD_ERROR``, there since gunicorn 0.17.3).
APP_LOAD_ERROR = 4

#: Frames (module, function) through which gunicorn loads an app: in a worker
#: or with ``--preload`` (``BaseApplication.wsgi``), with ``--check-config``
#: (``WSGIApplication.load``), and importing the app string (``import_app``).
#: None of them is on the stack once a worker serves requests.
_LOADERS = frozenset(
    {
        ("gunicorn.app.base", "wsgi"),
        ("gunicorn.app.wsgiapp", "load"),
        ("gunicorn.util", "import_app"),
    }
)
#: The frame a worker process runs in, under the fork, for its whole life.
_WORKER = ("gunicorn.arbiter", "spawn_worker")


def gunicorn_loading() -> str | None:
    """``"worker"`` or ``"master"`` while gunicorn loads the app there, else None.

    Read from the call stack: gunicorn sets nothing else that tells a worker
    loading the app from one serving requests.
    """
    frames = set()
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        frames.add((frame.f_globals.get("__name__"), frame.f_code.co_name))
        frame = frame.f_back
    if frames.isdisjoint(_LOADERS):
        return None
    return "worker" if _WORKER in frames else "master"


def stop_gunicorn_boot(exc: ConfigError, where: str) -> NoReturn:
    """Say what is wrong once and make gunicorn stop (see the module docstring).

    ``where`` is what :func:`gunicorn_loading` returned. Raises ``SystemExit``.
    """
    if where == "worker" and not _first_to_fail():
        raise SystemExit(0)
    print(f"pwless-gate: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(APP_LOAD_ERROR)


def _first_to_fail() -> bool:
    """Whether this worker is the first of its master to fail loading the app."""
    master = os.getppid()
    started = _start_time(master)
    directory = _private_directory()
    if started is None or directory is None:
        return True
    marker = os.path.join(directory, f"boot-{master}-{started}")
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    except OSError:
        return True
    _sweep(directory)
    return True


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            fields = file.read().rpartition(")")[2].split()
        return fields[19]  # field 22 of proc(5); the fields after the name start at 3
    except (OSError, IndexError):
        return None


def _private_directory() -> str | None:
    """A directory only this user can write to, created if need be; None if unsafe."""
    uid = os.getuid()
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = os.path.join(base, f"pwless-gate-{uid}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        return None
    return path


def _sweep(directory: str) -> None:
    """Remove the markers of masters that are no longer running."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        _, pid, started = [*name.split("-"), "", "", ""][:3]
        if (
            name.startswith("boot-")
            and pid.isascii()
            and pid.isdigit()
            and _start_time(int(pid)) != started
        ):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))
