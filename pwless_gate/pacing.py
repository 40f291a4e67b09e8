"""Answer a refused sign-in as an allowed one is answered: the same page, status and time.

An allowed identifier costs a round trip to Auth0 (``/passwordless/start``),
which may fail: a 429 once the tenant's quota is spent, a 5xx, a timeout, a
401 when the gate's credentials are wrong. A refused identifier must meet the
very same answers, or the difference tells an attacker who is on the
allow-list. The gate therefore sends a refused start through the very same
client code as a real one, with one difference at the bottom:
:class:`DecoyTransport` sends Auth0 the same request with the identifier
replaced by :data:`PROBE_IDENTIFIER`, which Auth0 can only refuse. The refused
identifier never leaves the gate: a link's ``state`` (a signed transaction) is
built for a refused start with the probe's identifier in its place
(:mod:`pwless_gate.codes`), so its length does not tell the refused one's, and
the decoy sends random characters of that length for it all the same, so
nothing of the transaction (the browser's binding, the sign-in's ids) leaves
either, whatever the caller put there. The code step sends a pseudonym
(:meth:`pwless_gate.signin.SignIn.username`).

When Auth0 refuses the probe as it must (``400 bad.email`` or
``bad.phone_number``), the decoy answers what a send answers: it waits until a
real send would have finished (a duration drawn from what the real transport
measured, counted from when the probe left) and answers Auth0's 200, read back
through a socket as a real answer is. Any other answer (a 429 with its
``Retry-After``, a 5xx, a 401, a refused connection, a body that is no JSON)
and any failure to reach Auth0 are passed up unchanged, as the real transport
passes them: the layers above turn them into the same page for both. Probes
count against Auth0's quota as sends do, which is what makes a 429 the same.

Known limit: this holds while Auth0 looks at the rate limit, the client's
credentials and the connection before the address's format, as the local
tenant does. AUTH0-API.md does not give that order; were Auth0 to check the
format first, a refused identifier would get the send's page where an allowed
one gets a 401 or ``bad.connection`` (a misconfiguration, which the operator
sees in the log and ``pwless-gate check``).

What the transport cannot make equal (the same code runs with warm caches
after a socket read, colder after a wait: a fraction of a millisecond, which
a patient attacker can average out) the last step does: :meth:`Pacer.release`
holds every start's answer, real or not, until nearly the slowest of the
recent real starts would have finished, so the moment it leaves no longer depends on the
path taken.

The pages and statuses of the other steps are made identical elsewhere
(:mod:`pwless_gate.codes`).
"""

from __future__ import annotations

import json
import random
import secrets
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

from .transport import Answer, BaseTransport, Timeout, read_answer

#: How many recent Auth0 round trips are remembered.
SAMPLES = 64
#: What a decoy waits before any send was measured: a typical Auth0 round trip.
PRIOR_SECONDS = 0.25
#: The longest wait (a stalled Auth0 must not make refused starts stall as long).
MAX_SECONDS = 5.0
#: How much of a wait is spun rather than slept (sleeps overshoot by about 0.1 ms).
SPIN_SECONDS = 0.002
#: How many recent starts the running averages weigh.
AVERAGE_OVER = 16
#: The largest correction of a decoy's wait, either way.
MAX_CORRECTION = 0.05
#: How many recent whole real starts set the moment every start's answer is released.
RELEASE_OVER = 16
#: What a refused start asks Auth0 to send to: neither an email address (no ``@``) nor
#: a phone number (``^\+[0-9]{1,15}$``), so Auth0 can only refuse it.
PROBE_IDENTIFIER = "refused-by-pwless-gate"
#: Auth0's refusals of :data:`PROBE_IDENTIFIER` (by email, by SMS): where an allowed
#: identifier would have been sent to.
PROBE_REFUSED = frozenset({"bad.email", "bad.phone_number"})
_STATE_CHARACTERS = string.ascii_letters + string.digits + "-_."


class Pacer:
    """Recent round-trip durations of real sends, and waits drawn from them. Thread-safe."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._samples: deque[float] = deque([PRIOR_SECONDS], maxlen=SAMPLES)
        self._primed = False
        #: Running averages of whole starts, real and decoy, and the difference
        #: that closes the gap between them (what the transport cannot see).
        self._totals = {True: 0.0, False: 0.0}
        self._seen = {True: 0, False: 0}
        self.correction = 0.0
        #: How long recent real starts took, whole: the release moment is their slowest.
        self._whole: deque[float] = deque(maxlen=RELEASE_OVER)
        self._lock = threading.Lock()
        self._sleep = sleep
        self._random = random.SystemRandom()

    def observe(self, seconds: float) -> None:
        """Remember one measured round trip."""
        with self._lock:
            if not self._primed:
                self._samples.clear()
                self._primed = True
            self._samples.append(min(seconds, MAX_SECONDS))

    def sample(self) -> float:
        """A duration drawn from the recent round trips, plus the running correction."""
        with self._lock:
            return self._random.choice(self._samples) + self.correction

    def finished(self, real: bool, seconds: float) -> None:
        """Remember how long a whole start took (``real``: not a decoy), page included.

        The decoys' wait is corrected by the difference of the two running
        averages, so what happens around the transport (the same code, but
        run after a wait or after a socket read) cannot tell them apart.
        """
        with self._lock:
            self._seen[real] += 1
            weight = max(1 / AVERAGE_OVER, 1 / self._seen[real])
            self._totals[real] += (seconds - self._totals[real]) * weight
            if self._seen[True] and self._seen[False]:
                gap = self._totals[True] - self._totals[False]
                self.correction = max(
                    -MAX_CORRECTION, min(MAX_CORRECTION, self.correction + gap / AVERAGE_OVER)
                )

    def release(self, begun: float, real: bool) -> float:
        """Hold a start's answer (``begun``: a ``time.perf_counter()`` reading when the
        start began) until the second slowest of the last :data:`RELEASE_OVER` real
        starts would have finished, counted from ``begun``; return that hold.

        Real and refused starts are released alike, so their response times
        differ only when a start takes longer than nearly all the recent real
        ones. The second slowest, not the slowest: one stalled call to Auth0
        does not hold the next sixteen answers as long.
        """
        elapsed = time.perf_counter() - begun
        self.finished(real, elapsed)
        with self._lock:
            if real:
                self._whole.append(min(elapsed, MAX_SECONDS))
            recent = sorted(self._whole)
            hold = recent[-2] if len(recent) > 1 else recent[0] if recent else PRIOR_SECONDS
        # Slept, not spun: both kinds wake here, so a sleep's lateness tells nothing, and a
        # spin would cost every real sign-in milliseconds of CPU.
        self._wait_until(begun + hold, spin=False)
        return hold

    def wait(self, until: float | None = None) -> None:
        """Wait as long as a round trip would have taken, counted from ``until``
        (a ``time.perf_counter()`` reading; now by default)."""
        start = time.perf_counter() if until is None else until
        self._wait_until(start + self.sample())

    def _wait_until(self, deadline: float, spin: bool = True) -> None:
        """Sleep until just before ``deadline``, then spin the last stretch (``spin``): a
        sleep wakes a little late, and a systematic lateness is a tell too."""
        if not spin:
            remaining = deadline - time.perf_counter()
            if remaining > 0:
                self._sleep(remaining)
            return
        remaining = deadline - time.perf_counter() - SPIN_SECONDS
        if remaining > 0:
            self._sleep(remaining)
        while time.perf_counter() < deadline:
            pass


class DecoyTransport(BaseTransport):
    """Sends Auth0 the start with :data:`PROBE_IDENTIFIER` for the identifier, through
    ``transport``; answers like a send when Auth0 refuses that identifier, else with
    Auth0's answer.

    The request is built as the real transport builds it (the same
    :meth:`~pwless_gate.transport.BaseTransport.request`); what it does after
    the wait (building the answer and reading it back) is measured and taken
    off the next waits, so its whole ``request`` lasts as long as a real one.
    Without a ``pacer`` it does not wait.
    """

    def __init__(self, transport: BaseTransport, pacer: Pacer | None = None) -> None:
        self._transport = transport
        self._pacer = pacer
        self._after = 0.0  # a running average of the work after the wait

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: Timeout,
    ) -> Answer:
        started = time.perf_counter()
        probed = self._transport.send(method, path, _probe(body), headers, timeout)
        if not _refused_as_expected(probed):
            return probed
        if self._pacer is not None:
            self._pacer.wait(until=started - self._after)
        waited = time.perf_counter()
        content = json.dumps(_start_answer(body)).encode()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(content)}\r\n\r\n"
        ).encode()
        # Read back through a socket, as a real answer is.
        near, far = socket.socketpair()
        with near, far:
            far.sendall(head + content)
            answer, _ = read_answer(near)
        self._after += (time.perf_counter() - waited - self._after) / 8
        return answer


def _probe(body: bytes | None) -> bytes:
    """The start's ``body`` with :data:`PROBE_IDENTIFIER` for the identifier, and random
    characters of the same length for a link's ``state`` (a signed transaction, which
    the caller makes name the probe's identifier too: its length is then nobody's).
    Raises ValueError for a body that is not a JSON object: nothing unread is sent."""
    sent = json.loads(body or b"")
    if not isinstance(sent, dict):
        raise ValueError("a decoy start needs a JSON object")
    for field in ("email", "phone_number"):
        if field in sent:
            sent[field] = PROBE_IDENTIFIER
    params = sent.get("authParams")
    if isinstance(params, dict) and "state" in params:
        length = len(str(params["state"]))
        params["state"] = "".join(secrets.choice(_STATE_CHARACTERS) for _ in range(length))
    return json.dumps(sent).encode()


def _refused_as_expected(answer: Answer) -> bool:
    """True when Auth0 refused the probe's identifier (400 ``bad.email`` or
    ``bad.phone_number``), and nothing before it."""
    if answer.status != 400:
        return False
    try:
        data = answer.json()
    except (ValueError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    error = data.get("error") or data.get("code")
    return isinstance(error, str) and error in PROBE_REFUSED


def _start_answer(body: bytes | None) -> Mapping[str, object]:
    """The shape of Auth0's answer to a start (its values are never shown or kept)."""
    try:
        sent = json.loads(body or b"{}")
    except (TypeError, ValueError):
        sent = {}
    answer: dict[str, object] = {"_id": "0" * 24}
    if sent.get("connection") == "sms":
        # Only the SMS answer names the language (shared/AUTH0-API.md).
        answer.update(phone_number=sent.get("phone_number"), phone_verified=False)
        answer["request_language"] = None
    else:
        answer.update(email=sent.get("email"), email_verified=False)
    return answer
