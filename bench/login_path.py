"""Benchmark 3: the gate's CPU time per complete login, and per failed code.

The tenant runs in its own process (``pwless-gate dev-tenant``), so
``time.process_time()`` in this process counts only the gate's side: its
pages, CSRF and transaction signing, its HTTP calls to the tenant (httptools), the
id_token check and the new session. The gate is driven in process with
Werkzeug's test client, and each span is the gate's WSGI call and the reading
of its answer: the client's own work (building the request, parsing the
answer), reading the code from the tenant's outbox and pacing the calls
happen outside the timed spans.

Two ways of signing in are measured: one at a time (the gate idles between
the requests of a login, as a quiet gate does; every request starts with cold
CPU caches), also with the tenant answering each call after 50 ms as Auth0
does, and a busy gate where sign-ins overlap.

Auth0's limits are respected, not switched off: every login comes from its
own 127.x.y.z address (50 sends per hour per IP) and token calls are paced
under 30 per second. The gate's own throttles are off (``throttle_*="off"``).
"""

from __future__ import annotations

import base64
import cProfile
import hashlib
import hmac
import importlib
import json
import pstats
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from werkzeug.test import Client, TestResponse

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

from pwless_gate import GateConfig, PasswordlessGate
from tests.helpers import CLIENT_ID, CLIENT_SECRET, THROTTLES_OFF, hidden
from tests.procs import dev_tenant

from .apps import hello
from .fixtures import SECRET_KEY

LOGINS = 200
FAILED_STARTS = 50
WRONG_CODES_PER_START = 2
WARM_LOGINS = 3
PROFILED_LOGINS = 30
#: Seconds between token calls: under the tenant's 30 per second per client.
TOKEN_CALL_SPACING = 1 / 25
TARGET_MS = 2.0
#: Busy gate: rounds of overlapping sign-ins, each this many (under the token burst of 30).
BUSY_ROUNDS = 8
BUSY_ROUND = 25
BUSY_PAUSE = 1.0
#: One at a time again, with Auth0's answer time: each call waits this long at the tenant
#: (a ``latency`` fault; a real tenant answers in 50 to 500 ms), for this many logins.
LATENCY_MS = 50
LATENCY_LOGINS = 60
#: Idle gaps (seconds) before a login page, and samples of each.
IDLE_GAPS = (0.0, 0.001, 0.01, 0.04, 0.1)
IDLE_SAMPLES = 40


def tenant_process(workdir: Path) -> AbstractContextManager[str]:
    """``pwless-gate dev-tenant`` in a child process; its URL.

    It trusts ``auth0-forwarded-for``: each login's own address counts at the
    tenant only then.
    """
    return dev_tenant(workdir, "--trust-forwarded-for")


def _address(i: int) -> str:
    """A distinct loopback address per login: 127.0.1.1, 127.0.1.2, …"""
    return f"127.0.{i // 250 + 1}.{i % 250 + 1}"


class Outbox:
    """The tenant's outbox over HTTP (never timed)."""

    def __init__(self, tenant_url: str) -> None:
        self._url = tenant_url + "/_dev/outbox"
        self._http = requests.Session()

    def code_for(self, to: str) -> str:
        return self.codes_for([to])[0]

    def codes_for(self, addresses: list[str]) -> list[str]:
        """The last code sent to each of ``addresses``; the outbox is emptied."""
        messages = self._http.get(self._url, timeout=5).json()["messages"]
        self._http.delete(self._url, timeout=5)
        codes = {m["to"].lower(): str(m["code"]) for m in messages if m["code"]}
        try:
            return [codes[to.lower()] for to in addresses]
        except KeyError as exc:
            raise LookupError(f"no code sent to {exc.args[0]}") from None


class Pacer:
    """Keeps token calls at least ``spacing`` seconds apart (sleeping is not CPU time)."""

    def __init__(self, spacing: float) -> None:
        self._spacing = spacing
        self._last = 0.0

    def wait(self) -> None:
        delay = self._last + self._spacing - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._last = time.monotonic()


@dataclass
class Steps:
    """CPU milliseconds of each timed request, one list per step."""

    page: list[float] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    verify: list[float] = field(default_factory=list)

    def totals(self) -> list[float]:
        return [sum(step) for step in zip(self.page, self.start, self.verify, strict=True)]


@dataclass
class LoginResult:
    logins: Steps
    failed: list[float]
    statuses: dict[str, set[int]]

    @property
    def per_login_ms(self) -> float:
        return statistics.median(self.logins.totals())


class _Metered:
    """The gate as the test client calls it, timing the gate's own CPU: its WSGI call
    and reading its whole answer. The client builds the environ before and parses the
    answer after, outside the span; with a ``profiler``, exactly the span is profiled."""

    def __init__(self, gate: PasswordlessGate) -> None:
        self.gate = gate
        self.spent = 0.0
        self.profiler: cProfile.Profile | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        if self.profiler is not None:
            self.profiler.enable()
        started = time.process_time()
        answer = self.gate(environ, start_response)
        try:
            body = list(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        self.spent = (time.process_time() - started) * 1e3
        if self.profiler is not None:
            self.profiler.disable()
        return body


class _Flow:
    """Drives the gate's code flow; times each request's gate CPU (see :class:`_Metered`)."""

    def __init__(self, gate: PasswordlessGate, outbox: Outbox, pacer: Pacer) -> None:
        self.gate = _Metered(gate)
        self.outbox = outbox
        self.pacer = pacer

    def _timed(self, request: Callable[[], TestResponse]) -> tuple[TestResponse, float]:
        response = request()
        return response, self.gate.spent

    def start(self, i: int, steps: Steps | None) -> _Started:
        client = Client(self.gate)
        env = {"REMOTE_ADDR": _address(i)}
        email = f"user{i}@example.com"
        page, page_ms = self._timed(lambda: client.get("/_gate/login?next=/", environ_base=env))
        form = {
            "csrf_token": hidden(page.get_data(as_text=True), "csrf_token"),
            "next": "/",
            "email": email,
            "send": "code",
        }
        started, start_ms = self._timed(
            lambda: client.post("/_gate/login", data=form, environ_base=env)
        )
        if started.status_code != 200:
            raise RuntimeError(f"login start answered {started.status_code}")
        if steps is not None:
            steps.page.append(page_ms)
            steps.start.append(start_ms)
        return _Started(client, env, email, started.get_data(as_text=True))

    def verify(self, started: _Started, code: str, *, paced: bool = True) -> tuple[int, float]:
        form = {
            "csrf_token": hidden(started.page, "csrf_token"),
            "tx": hidden(started.page, "tx"),
            "code": code,
        }
        if paced:
            self.pacer.wait()
        answer, spent = self._timed(
            lambda: started.client.post("/_gate/verify", data=form, environ_base=started.env)
        )
        return answer.status_code, spent

    def login(self, i: int, steps: Steps | None) -> int:
        started = self.start(i, steps)
        status, spent = self.verify(started, self.outbox.code_for(started.email))
        if steps is not None:
            steps.verify.append(spent)
        if status not in (302, 303) or started.client.get_cookie("pwless_gate_session") is None:
            raise RuntimeError(f"login {i} did not end in a session (status {status})")
        return status


@dataclass
class _Started:
    """A login waiting for its code: the browser, its address, and the code page."""

    client: Client
    env: dict[str, str]
    email: str
    page: str


def _gate(tenant_url: str, workdir: Path) -> PasswordlessGate:
    """A gate on the tenant, exactly as users get it (local throttles off): state in
    the default SQLite file, in a directory of its own under ``workdir`` (which the
    caller removes)."""
    config = GateConfig(
        state_dir=tempfile.mkdtemp(prefix="login-state-", dir=workdir),
        auth0_domain=tenant_url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret_key=SECRET_KEY,
        allowed_domains=("*",),
        **THROTTLES_OFF,
    )
    return PasswordlessGate(hello, config)


def run(tenant_url: str, workdir: Path) -> dict[str, LoginResult]:
    """Timed logins and wrong codes for the gate as users get it (results under ``"default"``).

    Every login uses its own address.
    """
    gates = {"default": _gate(tenant_url, workdir)}
    outbox = Outbox(tenant_url)
    pacer = Pacer(TOKEN_CALL_SPACING)
    flows = {name: _Flow(gate, outbox, pacer) for name, gate in gates.items()}
    address = iter(range(10_000))
    timed = {name: Steps() for name in flows}
    failed: dict[str, list[float]] = {name: [] for name in flows}
    statuses: dict[str, set[int]] = {"login": set(), "wrong code": set()}
    for flow in flows.values():
        for _ in range(WARM_LOGINS):  # fetch the JWKS, load templates, open connections
            flow.login(next(address), None)
    for _ in range(LOGINS):
        for name, flow in flows.items():
            statuses["login"].add(flow.login(next(address), timed[name]))
    for _ in range(FAILED_STARTS):
        for name, flow in flows.items():
            started = flow.start(next(address), None)
            code = outbox.code_for(started.email)
            wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
            for _ in range(WRONG_CODES_PER_START):
                status, spent = flow.verify(started, wrong)
                statuses["wrong code"].add(status)
                failed[name].append(spent)
    return {name: LoginResult(timed[name], failed[name], statuses) for name in flows}


def run_with_latency(tenant_url: str, workdir: Path, first_address: int = 4000) -> Steps:
    """Logins one at a time while the tenant answers each ``/passwordless/start`` and
    ``/oauth/token`` after :data:`LATENCY_MS` (its ``/_dev/faults`` latency), as a real
    Auth0 does: the gate waits on every call, and what follows it starts cold."""
    flow = _Flow(_gate(tenant_url, workdir), Outbox(tenant_url), Pacer(TOKEN_CALL_SPACING))
    address = iter(range(first_address, first_address + 10_000))
    for _ in range(WARM_LOGINS):
        flow.login(next(address), None)
    steps = Steps()
    with _latency(tenant_url):
        for _ in range(LATENCY_LOGINS):
            flow.login(next(address), steps)
    return steps


@contextmanager
def _latency(tenant_url: str) -> Iterator[None]:
    """The tenant answers each start and token call after :data:`LATENCY_MS` meanwhile."""
    faults = tenant_url + "/_dev/faults"
    for path in ("/passwordless/start", "/oauth/token"):
        fault = {"path": path, "mode": "latency", "ms": LATENCY_MS, "times": 0}
        requests.post(faults, json=fault, timeout=5).raise_for_status()
    try:
        yield
    finally:
        requests.delete(faults, timeout=5).raise_for_status()


def run_busy(tenant_url: str, workdir: Path, first_address: int = 5000) -> Steps:
    """CPU per request of a busy gate: sign-ins that overlap, so requests follow each
    other without the gate idling in between (as on a gate with many people signing in).

    In each round, the verify of every sign-in of the previous round alternates with
    the page and start of a new one; then one pause lets the tenant's token bucket
    refill (:data:`BUSY_ROUND` token calls, under its burst of 30).
    """
    gate = _gate(tenant_url, workdir)
    outbox = Outbox(tenant_url)
    flow = _Flow(gate, outbox, Pacer(TOKEN_CALL_SPACING))
    address = iter(range(first_address, first_address + 10_000))
    steps = Steps()
    for _ in range(WARM_LOGINS):
        flow.login(next(address), None)
    waiting: list[_Started] = []
    for round_ in range(BUSY_ROUNDS + 1):
        codes = outbox.codes_for([started.email for started in waiting])
        time.sleep(BUSY_PAUSE)  # the token bucket refills; the first request is cold
        new: list[_Started] = []
        for i in range(BUSY_ROUND):
            if i < len(waiting):
                status, spent = flow.verify(waiting[i], codes[i], paced=False)
                if status not in (302, 303):
                    raise RuntimeError(f"busy login answered {status}")
                steps.verify.append(spent)
            if round_ < BUSY_ROUNDS:
                new.append(flow.start(next(address), steps))
        waiting = new
    return steps


#: The parts of a login timed apart by :func:`parts`: what the part does, and the
#: functions whose CPU it is (``module``, ``Class.method`` or a module function).
PARTS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "the two calls to Auth0 (request written, answer read: httptools)",
        (("pwless_gate.transport", "Direct.send"),),
    ),
    ("the id_token checked (PyJWT, RS256)", (("pwless_gate.idtokens", "TokenVerifier.verify"),)),
    ("the two pages made (Jinja2)", (("pwless_gate.pages", "Pages.render"),)),
    ("the new session saved (SQLite)", (("pwless_gate.sessions", "SessionCache.save"),)),
    (
        "the two forms checked (origin, browser, CSRF; Werkzeug's form parser)",
        (("pwless_gate.request", "GateRequest.check_form"),),
    ),
    (
        "the transaction signed and read (itsdangerous)",
        (
            ("pwless_gate.transactions", "TransactionSigner.dumps"),
            ("pwless_gate.transactions", "TransactionSigner.loads"),
        ),
    ),
    ("the latest start kept (SQLite)", (("pwless_gate.throttle", "SQLiteThrottle.remember"),)),
    ("the address checked (email-validator)", (("pwless_gate.codes", "normalise_email"),)),
    (
        "the three answers handed over (status, headers, body)",
        (("pwless_gate.views", "send"),),
    ),
)


def _replace(module: str, qualified: str, make: Callable[[Any], object]) -> Callable[[], None]:
    """Put ``make(original)`` in place of ``module``'s ``qualified`` (``Class.method`` or a
    function); returns what puts the original back."""
    owner: object = importlib.import_module(module)
    *path, attribute = qualified.split(".")
    for step in path:
        owner = getattr(owner, step)
    original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
    setattr(owner, attribute, make(original))
    return lambda: setattr(owner, attribute, original)


@contextmanager
def _replaced(replacements: Iterable[tuple[str, str, Callable[[Any], object]]]) -> Iterator[None]:
    """Each ``(module, qualified, make)`` of ``replacements`` in place meanwhile (see
    :func:`_replace`)."""
    undo = []
    try:
        for module, qualified, make in replacements:
            undo.append(_replace(module, qualified, make))
        yield
    finally:
        for put_back in reversed(undo):
            put_back()


def parts(tenant_url: str, workdir: Path, first_address: int = 7000) -> list[tuple[str, float]]:
    """``(part, median µs per login)`` of each of :data:`PARTS`, over
    :data:`LATENCY_LOGINS` logins one at a time with Auth0 answering in
    :data:`LATENCY_MS` ms, timed with ``time.process_time`` around the functions
    (no profiler: its cost per Python call would distort the parts), then put back.
    """
    spent: dict[str, int] = {}

    def timed(name: str) -> Callable[[Any], object]:
        def make(function: Callable[..., object]) -> Callable[..., object]:
            def wrapper(*args: object, **kwargs: object) -> object:
                started = time.process_time_ns()
                try:
                    return function(*args, **kwargs)
                finally:
                    spent[name] = spent.get(name, 0) + time.process_time_ns() - started

            return wrapper

        return make

    per_login: dict[str, list[float]] = {name: [] for name, _ in PARTS}
    flow = _Flow(_gate(tenant_url, workdir), Outbox(tenant_url), Pacer(TOKEN_CALL_SPACING))
    address = iter(range(first_address, first_address + 10_000))
    for _ in range(WARM_LOGINS):
        flow.login(next(address), None)
    wrapped = [(m, q, timed(name)) for name, functions in PARTS for m, q in functions]
    with _replaced(wrapped), _latency(tenant_url):
        for _ in range(LATENCY_LOGINS):
            spent.clear()
            flow.login(next(address), None)
            for name, _ in PARTS:
                per_login[name].append(spent.get(name, 0) / 1e3)
    return [(name, statistics.median(values)) for name, values in per_login.items()]


class _FixedPage:
    """A stand-in for a template: a fixed page of about the real one's size holding the
    form fields the sign-in reads (``csrf_token``, ``tx``), no Jinja2."""

    def __init__(self, _template: object) -> None:
        pass

    def render(self, **context: Any) -> str:
        fields = "".join(
            f'<input type="hidden" name="{name}" value="{context[name]}">'
            for name in ("csrf_token", "tx")
            if name in context
        )
        return f"<!doctype html><html><body>{'.' * 3000}<form>{fields}</form></body></html>"


def _unchecked_claims(
    _verify: object,
) -> Callable[..., dict[str, Any]]:
    def verify(self: object, token: str, **_checks: object) -> dict[str, Any]:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))

    return verify


def _not_written(_save: object) -> Callable[..., str]:
    def save(self: Any, session: object) -> str:
        return str(self._ids.new()[1])

    return save


#: What :func:`without_parts` takes out of a login, and its stand-in: not a way to run
#: the gate (nothing is checked, nothing kept), only a measure of what is left.
STAND_INS: tuple[tuple[str, str, str, Callable[[Any], object]], ...] = (
    (
        "the pages (Jinja2)",
        "pwless_gate.pages",
        "Pages._template",
        lambda _template: lambda self, tag, name: _FixedPage(_template),
    ),
    (
        "the address check (email-validator)",
        "pwless_gate.codes",
        "normalise_email",
        lambda _check: lambda value: value.strip().lower(),
    ),
    (
        "the id_token check (PyJWT)",
        "pwless_gate.idtokens",
        "TokenVerifier.verify",
        _unchecked_claims,
    ),
    ("the session write (SQLite)", "pwless_gate.stores.sqlite", "SQLiteStore.save", _not_written),
)


def without_parts(tenant_url: str, workdir: Path, first_address: int = 9000) -> tuple[Steps, Steps]:
    """Logins one at a time with Auth0 answering in :data:`LATENCY_MS` ms, the gate as it
    is and with :data:`STAND_INS` for its dearest parts, interleaved (one of each in turn,
    in alternating order, so both meet the machine in the same state): what a login costs
    here without those parts. Returns ``(as it is, with the stand-ins)``."""
    flow = _Flow(_gate(tenant_url, workdir), Outbox(tenant_url), Pacer(TOKEN_CALL_SPACING))
    address = iter(range(first_address, first_address + 10_000))
    stand_ins = [(module, qualified, make) for _, module, qualified, make in STAND_INS]
    for _ in range(WARM_LOGINS):
        flow.login(next(address), None)
        with _replaced(stand_ins):
            flow.login(next(address), None)
    real, reduced = Steps(), Steps()
    with _latency(tenant_url):
        for i in range(LATENCY_LOGINS):
            for stood_in in (False, True) if i % 2 else (True, False):
                if stood_in:
                    with _replaced(stand_ins):
                        flow.login(next(address), reduced)
                else:
                    flow.login(next(address), real)
    return real, reduced


def idle_cost(tenant_url: str, workdir: Path) -> list[tuple[float, float, float]]:
    """``(idle ms, gate CPU ms, plain CPU ms)``: the same login page after the process idled
    that long, and after the same idle a plain Python task that runs no gate code
    (:func:`plain_task`).

    The code and the work are the same at every gap; only the CPU caches cool (on this
    machine, other work evicts them while the process waits). The plain task shows how
    much of that is the machine's, for code much smaller than a request.
    """
    gate = _Metered(_gate(tenant_url, workdir))
    client = Client(gate)
    env = {"REMOTE_ADDR": "127.0.0.2"}
    for _ in range(50):
        client.get("/_gate/login?next=/", environ_base=env)
        plain_task()
    costs = []
    for gap in IDLE_GAPS:
        spent, plain = [], []
        for _ in range(IDLE_SAMPLES):
            time.sleep(gap)
            client.get("/_gate/login?next=/", environ_base=env)
            spent.append(gate.spent)
            time.sleep(gap)
            started = time.process_time()
            plain_task()
            plain.append((time.process_time() - started) * 1e3)
        costs.append((gap * 1e3, statistics.median(spent), statistics.median(plain)))
    return costs


_PLAIN_DOC = {f"k{i}": ["v" * 20, i, {"a": True, "b": None}] for i in range(60)}
_PLAIN_KEY = re.compile(r'"k(\d+)"')


def plain_task() -> int:
    """About 0.1 ms of ordinary Python (JSON both ways, a regex, 40 HMACs), no gate code."""
    text = json.dumps(_PLAIN_DOC)
    json.loads(text)
    for i in range(40):
        hmac.new(b"k" * 32, text[i : i + 64].encode(), hashlib.sha256).digest()
    return sum(int(match.group(1)) for match in _PLAIN_KEY.finditer(text))


def profile(
    tenant_url: str, workdir: Path, first_address: int = 8000
) -> tuple[list[list[str]], list[list[str]]]:
    """Where the gate's login CPU goes: own time by package, and the calls with the most
    inclusive time (a flattened call tree, outermost first).

    cProfile runs with a CPU clock, so waiting for the tenant costs nothing here.
    """
    profiler = cProfile.Profile(time.process_time)
    flow = _Flow(_gate(tenant_url, workdir), Outbox(tenant_url), Pacer(TOKEN_CALL_SPACING))
    for i in range(WARM_LOGINS):
        flow.login(first_address + i, None)
    flow.gate.profiler = profiler
    for i in range(PROFILED_LOGINS):
        flow.login(first_address + WARM_LOGINS + i, None)
    entries = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values())
    by_package: dict[str, float] = {}
    for (filename, _line, _func), entry in entries.items():
        package = _package(filename)
        by_package[package] = by_package.get(package, 0.0) + entry[2]

    def row(name: str, seconds: float) -> list[str]:
        return [name, f"{seconds / PROFILED_LOGINS * 1e3:.3f}", f"{seconds / total:.0%}"]

    packages = sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:10]
    inclusive = sorted(
        (
            (key, entry)
            for key, entry in entries.items()
            if _package(key[0]) not in ("builtins (C functions)", "bench harness")
            and not key[0].endswith(("werkzeug/test.py", "functools.py"))
        ),
        key=lambda item: item[1][3],
        reverse=True,
    )[:20]
    return (
        [row(name, seconds) for name, seconds in packages],
        [row(f"`{_where(*key)}`", entry[3]) for key, entry in inclusive],
    )


def _where(filename: str, line: int, func: str) -> str:
    if filename == "~":
        return func
    return f"{_package(filename)}: {Path(filename).name}:{line}({func})"


def _package(filename: str) -> str:
    if filename == "~":
        return "builtins (C functions)"
    parts = Path(filename).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else filename
    if "pwless_gate" in parts:
        return "pwless_gate"
    if "bench" in parts or "tests" in parts:
        return "bench harness"
    stdlib = [p for p in parts if p.startswith("python3")]
    if stdlib:
        after = parts[parts.index(stdlib[-1]) + 1 :]
        return "stdlib " + (after[0].removesuffix(".py") if after else "")
    return Path(filename).name


def summarize(values: Iterable[float]) -> tuple[float, float, float]:
    """(median, p90, mean) of ``values``."""
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return statistics.median(ordered), p90, statistics.fmean(ordered)
