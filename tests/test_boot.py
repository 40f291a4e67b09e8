"""Plain gunicorn with a bad setting or app string: one line on stderr, then it stops.

No ``-c`` file, no ``--preload``: each worker loads the gate after the fork
(see :mod:`pwless_gate.boot`).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from pwless_gate.boot import APP_LOAD_ERROR, gunicorn_loading
from pwless_gate.config import GateConfig

from .helpers import CLIENT_ID, CLIENT_SECRET
from .procs import BIN, ROOT, free_port, wait_for_port

pytestmark = pytest.mark.slow

#: gunicorn's worker timeout: it also kills a worker that never finishes booting.
WORKER_TIMEOUT = 20
#: gunicorn's graceful timeout: how long its halt waits for the other workers.
GRACEFUL_TIMEOUT = 10
#: Starting the interpreter and gunicorn's master, before any worker exists.
MASTER_START = 15
#: The longest a failed start may take: a worker that fails (or is killed as
#: timed out) while booting, then the halt.
EXIT_BOUND = MASTER_START + WORKER_TIMEOUT + GRACEFUL_TIMEOUT

BOOT_APPS = """
def create_app(greeting="hello"):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [greeting.encode()]
    return app


def broken_factory():
    raise KeyError("DATABASE_URL")
"""

#: The README's "small module of your own": gate() with keyword settings, one mistyped.
MY_GATE = """
from pwless_gate import gate

application = gate("tests.apps:whoami", {keywords})
"""

GOOD_ENV = {
    "PWLESS_GATE_AUTH0_DOMAIN": f"http://127.0.0.1:{free_port()}",  # never called here
    "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
    "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
    "PWLESS_GATE_ALLOWED_DOMAINS": "example.com",
    "PWLESS_GATE_PUBLIC_PATHS": "/hello",
}


def gunicorn_args(app: str, *options: str, workers: int = 2) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{free_port()}",
        "--timeout",
        str(WORKER_TIMEOUT),
        "--graceful-timeout",
        str(GRACEFUL_TIMEOUT),
        *options,
        app,
    ]


def environment(tmp_path: Path, settings: dict[str, str]) -> dict[str, str]:
    """``settings`` alone as the PWLESS_GATE_* variables; the test's apps importable."""
    (tmp_path / "bootapps.py").write_text(BOOT_APPS)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PWLESS_GATE_")}
    return {
        **clean,
        **settings,
        "PYTHONPATH": str(tmp_path),
        "PWLESS_GATE_STATE_DIR": str(tmp_path),
        # gunicorn's control socket, and the gate's marker of a failed start.
        "XDG_RUNTIME_DIR": str(tmp_path),
    }


def run_gunicorn(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run gunicorn until it exits by itself; a failure if it outlives :data:`EXIT_BOUND`."""
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=EXIT_BOUND)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"gunicorn still ran after {EXIT_BOUND} s:\n{err}")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def gate_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("pwless-gate:")]


@pytest.mark.parametrize("workers", [1, 4])
@pytest.mark.parametrize(
    ("settings", "setting"),
    [
        ({k: v for k, v in GOOD_ENV.items() if k != "PWLESS_GATE_CLIENT_SECRET"}, "SECRET"),
        ({**GOOD_ENV, "PWLESS_GATE_SESSION_LIFETIME": "soon"}, "PWLESS_GATE_SESSION_LIFETIME"),
        ({**GOOD_ENV, "PWLESS_GATE_ALOWED_DOMAINS": "x.example"}, "PWLESS_GATE_ALOWED_DOMAINS"),
    ],
    ids=["missing-secret", "bad-number", "typo"],
)
def test_a_bad_setting_stops_plain_gunicorn_with_one_line(
    tmp_path: Path, settings: dict[str, str], setting: str, workers: int
) -> None:
    result = run_gunicorn(
        gunicorn_args('pwless_gate:gate("tests.apps:whoami")', workers=workers),
        environment(tmp_path, settings),
    )
    assert result.returncode == APP_LOAD_ERROR, result.stderr
    lines = gate_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert setting in lines[0]
    assert "Traceback" not in result.stderr
    assert "App failed to load." in result.stderr


@pytest.mark.parametrize(
    ("app", "names"),
    [
        ("no_such_module_x:app", "no_such_module_x"),
        ("bootapps:nothing_here", "nothing_here"),
        ("bootapps:create_app(GREETING)", "create_app(GREETING)"),
        ("bootapps:create_app(", "create_app("),
        ("bootapps:broken_factory()", "KeyError"),
        ("bootapps:create_app(colour='red')", "TypeError"),
    ],
    ids=["no-module", "no-attribute", "not-literal", "syntax", "factory-raises", "wrong-args"],
)
def test_a_bad_app_string_stops_plain_gunicorn_with_one_line(
    tmp_path: Path, app: str, names: str
) -> None:
    result = run_gunicorn(
        gunicorn_args(f'pwless_gate:gate("{app}")', workers=3), environment(tmp_path, GOOD_ENV)
    )
    assert result.returncode == APP_LOAD_ERROR, result.stderr
    lines = gate_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "app:" in lines[0]
    assert names in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("keywords", "said"),
    [
        ("allowed_domain=('example.com',)", "allowed_domain=: is not a setting; did you mean "),
        ("session_lifetime='soon'", "PWLESS_GATE_SESSION_LIFETIME: cannot read 'soon'"),
        ("session_lifetime=[3600]", "session_lifetime=: must be int, not list"),
        ("allowed_domains=[1]", "allowed_domains=: must be a list of strings"),
    ],
    ids=["typo", "unreadable-string", "wrong-type", "list-of-numbers"],
)
def test_a_bad_keyword_to_gate_stops_plain_gunicorn_with_one_line(
    tmp_path: Path, keywords: str, said: str
) -> None:
    (tmp_path / "mygate.py").write_text(MY_GATE.format(keywords=keywords))
    result = run_gunicorn(
        gunicorn_args("mygate:application", workers=3), environment(tmp_path, GOOD_ENV)
    )
    assert result.returncode == APP_LOAD_ERROR, result.stderr
    lines = gate_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert said in lines[0]
    assert "Traceback" not in result.stderr


def test_keywords_to_gate_are_read_as_the_variables_are() -> None:
    """A string for a number is read as ``PWLESS_GATE_SESSION_LIFETIME="3600"`` would be."""
    config = GateConfig.from_env(GOOD_ENV, session_lifetime="3600", allowed_domains=["a.example"])
    assert config.session_lifetime == 3600
    assert config.allowed_domains == ("a.example",)


@pytest.mark.parametrize("option", ["--preload", "--check-config"])
def test_a_bad_setting_loaded_in_the_master_is_one_line_too(tmp_path: Path, option: str) -> None:
    settings = {**GOOD_ENV, "PWLESS_GATE_SESSION_LIFETIME": "soon"}
    result = run_gunicorn(
        gunicorn_args('pwless_gate:gate("tests.apps:whoami")', option),
        environment(tmp_path, settings),
    )
    assert result.returncode == APP_LOAD_ERROR, result.stderr
    lines = gate_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "PWLESS_GATE_SESSION_LIFETIME" in lines[0]
    assert "Traceback" not in result.stderr


def test_one_marker_per_failed_master_and_stale_ones_swept(tmp_path: Path) -> None:
    markers = tmp_path / f"pwless-gate-{os.getuid()}"
    markers.mkdir(mode=0o700)
    stale = markers / "boot-1-0"  # pid 1 started at tick 0: never a running master
    stale.touch()
    settings = {**GOOD_ENV, "PWLESS_GATE_SESSION_LIFETIME": "soon"}
    result = run_gunicorn(
        gunicorn_args('pwless_gate:gate("tests.apps:whoami")', workers=4),
        environment(tmp_path, settings),
    )
    assert result.returncode == APP_LOAD_ERROR, result.stderr
    assert not stale.exists()
    assert len(list(markers.iterdir())) == 1


def test_a_factory_with_literal_arguments_under_gunicorn(tmp_path: Path) -> None:
    args = gunicorn_args("pwless_gate:gate(\"bootapps:create_app(greeting='hi there')\")")
    port = int(args[args.index("--bind") + 1].rpartition(":")[2])
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=environment(tmp_path, GOOD_ENV),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc)
        public = requests.get(f"http://127.0.0.1:{port}/hello", timeout=10)
        assert public.text == "hi there"
        private = requests.get(f"http://127.0.0.1:{port}/", allow_redirects=False, timeout=10)
        assert private.status_code == 401  # the gate is in front of it
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(EXIT_BOUND)


def test_outside_gunicorn_nothing_is_loading() -> None:
    assert gunicorn_loading() is None
