"""Starting and stopping real server processes for tests, by their pid only."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def require_binary(path: str, why: str) -> str:
    """The binary's path; a failure under CI=true, else a skip with the reason."""
    found = shutil.which(path)
    if found:
        return found
    message = f"{path} is not installed ({why})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


#: Settings that say where a gate keeps its state.
STORE_SETTINGS = frozenset({"PWLESS_GATE_STORE", "PWLESS_GATE_REDIS_URL", "PWLESS_GATE_STATE_DIR"})


class Process:
    """A child process we started; stopped by its own pid (and its process group)."""

    def __init__(
        self, args: Sequence[str], env: Mapping[str, str] | None = None, log: Path | None = None
    ) -> None:
        self.log = log
        # gunicorn 25+ opens a control socket under XDG_RUNTIME_DIR; one each, so
        # servers started side by side never share it.
        self.runtime_dir = tempfile.mkdtemp(prefix="pwless-gate-run-")
        env = {"XDG_RUNTIME_DIR": self.runtime_dir, **(env or {})}
        if not STORE_SETTINGS & env.keys():
            # A gate in this process keeps its default SQLite file here, not in ROOT.
            env["PWLESS_GATE_STATE_DIR"] = self.runtime_dir
        out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if log:
            out.close()  # type: ignore[union-attr]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


class RedisServer:
    """A redis-server we start and stop ourselves (by its pid), on one port for its life."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self) -> None:
        if self.process is not None and self.process.proc.poll() is None:
            return
        self.process = Process(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            log=self.workdir / "redis.log",
        )
        wait_for_port(self.port, self.process.proc)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2)


@contextmanager
def gunicorn(
    *args: str, env: Mapping[str, str], log: Path, workers: int = 2
) -> Iterator[tuple[str, Process]]:
    """gunicorn with ``args`` (options, then the app) on a free loopback port.

    Yields the base URL and the process; stops it (by its pid) afterwards.
    """
    port = free_port()
    process = Process(
        [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", *args],
        env=env,
        log=log,
    )
    try:
        wait_for_port(port, process.proc)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.stop()


@contextmanager
def dev_tenant(log_dir: Path, *flags: str) -> Iterator[str]:
    """``pwless-gate dev-tenant`` with the tests' client and ``flags``, in a process of its
    own on a free loopback port; yields its URL and stops it (by its pid) afterwards."""
    from .helpers import CLIENT_ID, CLIENT_SECRET

    port = free_port()
    process = Process(
        [
            str(BIN / "pwless-gate"),
            "dev-tenant",
            "--port",
            str(port),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            *flags,
        ],
        log=log_dir / "tenant.log",
    )
    try:
        wait_for_port(port, process.proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()
