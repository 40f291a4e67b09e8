"""The test servers' own guarantee: none outlives the run that started it, even killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from .procs import ROOT, require_binary, until


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, not yet reaped by init, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_server_ends_when_the_run_that_started_it_is_killed(tmp_path: Path) -> None:
    require_binary("setpriv", "children get SIGTERM when the test run dies")
    # A stand-in for a test run: it starts a server as the fixtures do, says its pid,
    # then waits to be killed.
    run = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, time
                from tests.procs import Process
                server = Process([sys.executable, "-c", "import time; time.sleep(120)"])
                print(server.pid, flush=True)
                time.sleep(120)
                """
            ),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert run.stdout is not None
        server = int(run.stdout.readline())
        assert until(lambda: _alive(server), 5)
        os.kill(run.pid, signal.SIGKILL)  # no fixture teardown runs
        run.wait(10)
        assert until(lambda: not _alive(server), 10), "the server outlived the killed run"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
