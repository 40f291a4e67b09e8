"""Starting the servers the benchmarks load, and driving wrk against them.

Every process is started here on 127.0.0.1 and stopped by its own pid (and
process group), through :class:`tests.procs.Process`. wrk runs are bounded
by ``-d`` and stop by themselves.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.procs import Process, RedisServer, free_port, wait_for_port

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def have(binary: str) -> bool:
    return shutil.which(binary) is not None


@dataclass
class Server:
    """A server process we started, listening on ``port``."""

    name: str
    process: Process
    port: int
    #: The server this one proxies to, whose CPU time counts as ours.
    upstream: Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def cpu_seconds(self) -> float:
        """CPU time (user + system) so far of the process, its descendants and upstream."""
        upstream = self.upstream.cpu_seconds() if self.upstream else 0.0
        return tree_cpu_seconds(self.process.pid) + upstream

    def stop(self) -> None:
        self.process.stop()


def tree_cpu_seconds(root: int) -> float:
    """utime + stime of ``root`` and its living descendants, from ``/proc``."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = raw[raw.rindex(")") + 2 :].split()
        ppid, utime, stime = int(fields[1]), int(fields[11]), int(fields[12])
        stats[int(entry.name)] = (ppid, (utime + stime) / CLOCK_TICKS)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo.extend(child for child, (ppid, _) in stats.items() if ppid == pid)
    return total


def start_gunicorn(
    name: str, app: str, workdir: Path, *, workers: int = 2, env: Mapping[str, str] | None = None
) -> Server:
    """gunicorn with ``workers`` sync workers serving ``app`` (an import spec)."""
    port = free_port()
    process = Process(
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
            app,
        ],
        env=env,
        log=workdir / f"{name}.log",
    )
    try:
        wait_for_port(port, process.proc)
    except (RuntimeError, TimeoutError):
        process.stop()
        raise RuntimeError(f"gunicorn {app} did not start:\n{process.output()}") from None
    return Server(name, process, port)


NGINX_CONF = """\
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream app {{ server 127.0.0.1:{upstream}; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def start_nginx(name: str, upstream: Server, workdir: Path) -> Server:
    """One nginx worker proxying to ``upstream``, from a config generated in ``workdir``."""
    directory = workdir / name
    directory.mkdir(mode=0o755)
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, upstream=upstream.port, port=port))
    process = Process(
        ["nginx", "-p", str(directory), "-c", str(conf), "-g", "daemon off;"],
        log=directory / "stdout.log",
    )
    try:
        wait_for_port(port, process.proc)
    except (RuntimeError, TimeoutError):
        process.stop()
        errors = (directory / "error.log").read_text(errors="replace")
        raise RuntimeError(f"nginx did not start:\n{process.output()}{errors}") from None
    return Server(name, process, port, upstream)


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer | None]:
    """A redis-server on a free port for the block, or None when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    directory = workdir / "redis"
    directory.mkdir()
    server = RedisServer(binary, directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class WrkResult:
    """One wrk run: what wrk saw, and the CPU time wrk and the server spent meanwhile."""

    requests_per_s: float
    latency_ms: float
    requests: int
    #: Non-2xx/3xx answers plus socket errors.
    bad: int
    wrk_cpu_s: float
    server_cpu_s: float

    @property
    def server_cpu_us_per_request(self) -> float:
        return self.server_cpu_s / max(self.requests, 1) * 1e6

    @property
    def wrk_cpu_share(self) -> float:
        """wrk's CPU time as a share of the CPU used by wrk and the server together."""
        return self.wrk_cpu_s / max(self.wrk_cpu_s + self.server_cpu_s, 1e-9)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk(
    server: Server,
    seconds: int,
    *,
    connections: int = 8,
    threads: int = 1,
    headers: Mapping[str, str] | None = None,
) -> WrkResult:
    """One bounded wrk run against ``server``; counts what wrk and the server spent."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_server = server.cpu_seconds()
    out = subprocess.run(
        [*args, server.url], capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    server_cpu = server.cpu_seconds() - before_server
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after_children.ru_utime - before_children.ru_utime) + (
        after_children.ru_stime - before_children.ru_stime
    )
    return _parse(out, wrk_cpu, server_cpu)


def _parse(out: str, wrk_cpu: float, server_cpu: float) -> WrkResult:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s|m)\b", out)
    if rate is None or total is None or latency is None:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        bad += sum(int(n) for n in errors.groups())
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        latency_ms=float(latency.group(1)) * _UNITS[latency.group(2)],
        requests=int(total.group(1)),
        bad=bad,
        wrk_cpu_s=wrk_cpu,
        server_cpu_s=server_cpu,
    )
