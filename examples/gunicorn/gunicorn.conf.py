"""A production gunicorn configuration for an app behind pwless-gate.

    gunicorn -c examples/gunicorn/gunicorn.conf.py --chdir examples/legacy_app

Every value can be tuned from the environment without editing this file.
Gunicorn reads this module once, in the master, before any worker starts.
"""

import glob
import logging
import math
import os


def _cpus() -> int:
    """The CPUs this process may run on (a container's affinity, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# -- What to serve --------------------------------------------------------------

# The gate built by its factory from PWLESS_GATE_* variables, wrapping an app
# whose code is not touched. An app given on the command line wins over this.
wsgi_app = os.environ.get("GUNICORN_WSGI_APP", 'pwless_gate:gate("legacy_tool:application")')

# Loopback by default: a reverse proxy (nginx, a load balancer) terminates TLS
# in front and is the only thing that talks to gunicorn.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]

# -- Workers --------------------------------------------------------------------

# Threaded workers: a sign-in waits on Auth0 over the network (auth0_timeout
# bounds each connect and each read of an answer, not a whole call), and threads
# let the same process serve signed-in requests meanwhile. gthread also honours
# keep-alive, which sync workers do not.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# Gunicorn's rule of thumb, (2 x CPUs) + 1. Sessions live in the state file the
# workers share (SQLite, the default) or in Redis, so any worker can serve any
# request and the count can change freely.
# WEB_CONCURRENCY is the conventional override (and what gunicorn reads too).
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * _cpus() + 1)))

# Each worker builds its own gate after the fork, so no HTTP connection pool,
# lock or cache is ever shared between processes.
preload_app = False

# Recycle workers now and then to bound the memory of a leaky legacy app. The
# cost is small: sessions survive (they are in the store, not the worker); only
# the cached Auth0 signing keys are fetched again. Jitter keeps them from restarting together.
max_requests = 2000
max_requests_jitter = 200

# -- Timeouts -------------------------------------------------------------------


# The gate waits at most auth0_timeout seconds for each read of an Auth0 answer,
# and at most about 3 s (or auth0_timeout, if shorter) for each connect: a bound
# per connect and per read, not on a whole call, which an answer trickling in
# can make longer. A sign-in makes up to two calls in a row: the token exchange,
# then the signing keys when they rotated. The worker timeout stays well above
# that, so when Auth0 is slow the gate answers 503 with its own page instead of the
# worker being killed mid-request and the client seeing a dropped connection.
# (A gthread worker's heartbeat comes from its main loop, so here the timeout
# mostly catches a hung process; with worker_class = "sync" it bounds every
# request, and this sizing is what keeps sign-ins alive.)
def _setting(name, read, default):
    """A PWLESS_GATE_* value read for gunicorn's own sizing; a bad one is left to
    on_starting below, which stops gunicorn with the gate's one line naming it."""
    try:
        return read(os.environ.get(name) or default)
    except ValueError:
        return read(default)


def _seconds(text):
    """A number of seconds the gate takes (finite, at most 300: its own bound); nan, inf
    or 1e308 are not (int() of 4 times them fails below)."""
    value = float(text)
    if not math.isfinite(value) or value > 300:
        raise ValueError(text)
    return value


_auth0_timeout = _setting("PWLESS_GATE_AUTH0_TIMEOUT", _seconds, "5")
timeout = max(30, int(4 * _auth0_timeout) + 10)

# On SIGTERM (a deploy), let requests in flight, including a sign-in waiting
# on Auth0, finish before workers are killed.
graceful_timeout = max(30, int(2 * _auth0_timeout) + 10)

# Idle keep-alive connections from the reverse proxy. Keep it a little longer
# than the proxy's own upstream idle timeout, so the proxy, not gunicorn, closes
# idle connections and never reuses one gunicorn is closing (nginx `keepalive_timeout`
# in an upstream block defaults to 60 s; lower that, or raise this).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))

# -- Proxies --------------------------------------------------------------------


# The gate and gunicorn must agree on whom to believe about the client. The
# gate trusts PWLESS_GATE_TRUSTED_PROXIES hops of X-Forwarded-For/-Proto/-Host
# (one count, or per header: for=1,proto=1); gunicorn trusts X-Forwarded-Proto
# (for wsgi.url_scheme) only from the addresses in forwarded_allow_ips. With no
# proxy in front, trust nobody: a client on the same host must not be able to
# claim it came over https.
def _trusts_proto(value):
    from pwless_gate.proxies import ProxyTrust

    return ProxyTrust.parse(value).x_proto > 0


if _setting("PWLESS_GATE_TRUSTED_PROXIES", _trusts_proto, "0"):
    # The proxy's own addresses; loopback when it runs on this host (bound to a
    # dual-stack socket, [::], gunicorn names an IPv4 peer ::ffff:127.0.0.1).
    forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1,::ffff:127.0.0.1")
else:
    forwarded_allow_ips = ""
# Only the header the gate reads, so both see the same scheme.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# -- Logging --------------------------------------------------------------------

# Access log to stdout, for the container runtime or journald to collect.
accesslog = "-"
# The path without its query string, and no Referer: the gate's callback URL
# carries a one-time code and a state in its query, and neither may be logged.
# No user either: the gate's audit events (below) record sign-ins with a masked
# address. X-Forwarded-For is only as true as the proxy in front makes it.
access_log_format = (
    '%(h)s "%({x-forwarded-for}i)s" %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'
)
errorlog = "-"
loglevel = "info"


# -- Metrics --------------------------------------------------------------------

# With PWLESS_GATE_METRICS=true, each worker counts in its own memory, and a
# scrape of {prefix}/metrics gets the numbers of whichever worker answers it.
# Set PROMETHEUS_MULTIPROC_DIR, in the environment gunicorn starts with, to a
# directory of its own: the workers then keep their counts in files there and
# every scrape adds up all of them (prometheus-client's multiprocess mode).
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def _empty_metrics_dir():
    """Remove the last run's metric files (prometheus-client's *.db): each process
    ever started leaves its own, and stale ones would be added to this run's."""
    if _metrics_dir:
        for path in glob.glob(os.path.join(_metrics_dir, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    """prometheus-client's bookkeeping for a worker that exited (recycled, killed):
    its live gauges are dropped; its counts stay in the totals."""
    if _metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# -- Hooks ----------------------------------------------------------------------


def on_starting(server):
    """Check the PWLESS_GATE_* settings once, in the master, before anything listens.

    A bad setting then stops gunicorn with the one line that names it
    ("Error: PWLESS_GATE_CLIENT_SECRET: is required but not set", exit status
    1) before a worker starts. Without this hook the gate still stops
    gunicorn with one line, once the first worker loads it (exit status 4,
    "App failed to load."). Drop the check if your app builds its GateConfig
    in code rather than from the environment.

    With PROMETHEUS_MULTIPROC_DIR set, it also empties that directory of the
    last run's metric files, as prometheus-client asks before each start.
    """
    from pwless_gate import ConfigError, GateConfig

    _empty_metrics_dir()  # before any worker counts
    try:
        GateConfig.from_env()
    except ConfigError as exc:
        raise RuntimeError(str(exc)) from None


def post_fork(server, worker):
    """Send the gate's log (its start-up line, and its audit events, pwless_gate.audit,
    masked) to gunicorn's error log: in each worker before it loads the app, so the
    start-up line is there too."""
    gate_logger = logging.getLogger("pwless_gate")
    gate_logger.setLevel(logging.INFO)
    for handler in worker.log.error_log.handlers:
        gate_logger.addHandler(handler)
