"""Run every benchmark of pwless-gate in one go; print each table and write bench/results.md.

``python -m bench.main [--only NAME ...]`` (``bash bench/run`` installs the
tools first). The five benchmarks and their targets are described in each
module: ``hotpath``, ``over_http`` (HTTP and scale), ``login_path``,
``memory``. Servers are started on 127.0.0.1 in a temporary directory and
stopped by pid; every load run is bounded in time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import hotpath, login_path, memory, over_http, signins
from .report import Section, load_average, machine, render
from .servers import have, redis_server

RESULTS = Path(__file__).resolve().parent / "results.md"
BENCHMARKS = ("hotpath", "http", "login", "memory", "scale", "signins")


def _us(value: float) -> str:
    return f"{value:.2f}"


def _load_note() -> str:
    return f"Load average when this benchmark ended: {load_average()}."


# -- 1. hot path ---------------------------------------------------------------------


def hotpath_section(workdir: Path, redis_url: str | None) -> Section:
    section = Section(
        "1. Hot path in process",
        "The same hello-world WSGI app, called directly and through each wrapper, "
        f"{hotpath.ROUNDS} interleaved rounds of {hotpath.PER_ROUND:,} calls per variant "
        f"({hotpath.ROUNDS * hotpath.PER_ROUND:,} calls each; the Flask references "
        f"{hotpath.ROUNDS * hotpath.FLASK_PER_ROUND:,}, the cache misses "
        f"{hotpath.ROUNDS * hotpath.MISS_PER_ROUND:,}). Each variant's environ is a realistic "
        "browser GET built once by Werkzeug (the gate's session cookie among other cookies) and "
        "copied per call; the copy's cost, measured in the same round, is subtracted. The body "
        "is iterated as a server would. Gates: valid session, cache warm.",
    )
    gates, variants = hotpath.run(redis_url, workdir)
    bare = variants[0].median_us
    rows = []
    for v in variants:
        rows.append(
            [
                v.name,
                _us(v.median_us),
                f"{v.median_us / bare:.1f}x",
                _us(v.median_us - bare),
                f"{min(v.samples):.2f}-{max(v.samples):.2f}",
                f"{(v.per_round or hotpath.PER_ROUND) * len(v.samples):,}",
            ]
        )
    copy_us = statistics.median(c for v in variants for c in v.copy_us)
    section.add_table(
        "Median over the rounds of CPU µs per request (this thread's CPU time; the environ "
        f"copy, {copy_us:.2f} µs, subtracted):",
        ["variant", "median µs", "x bare", "added µs", "rounds min-max µs", "calls"],
        rows,
    )
    step_rows = hotpath.steps(gates.cookie, gates.cookie_environ)
    section.add_table(
        "Where the gate's time goes: the warm hot path split at the gate's own methods "
        "(best of 7 batches of 100,000, copy subtracted; the rest is the WSGI adapter):",
        ["step", "µs per request"],
        step_rows,
    )
    profile_rows = hotpath.profile(gates.cookie, gates.cookie_environ)
    section.add_table(
        "cProfile of 200,000 warm gate calls (cookie store), top functions by own time. "
        "cProfile adds a fixed cost per call, so read shares, not absolute µs "
        "(`dict.copy` is the harness copying the environ):",
        ["function", "calls/request", "own µs", "cumulative µs", "share of own time"],
        profile_rows,
    )
    by_name = {v.name: v for v in variants}
    warm = [f"PasswordlessGate, {store} store (warm)" for store in ("cookie", "SQLite", "Redis")]
    for name in warm:
        if name not in by_name:
            section.verdict(False, f"{name}: not measured (no redis-server)")
            continue
        added = by_name[name].median_us - bare
        target = hotpath.TARGET_ADDED_US
        if added <= target:
            section.verdict(
                True,
                f"{name} adds {added:.2f} µs to the bare call (target ≤ {target:g} µs; "
                f"{target - added:.2f} µs to spare).",
            )
        else:
            costs = sorted(step_rows[:-1], key=lambda row: float(row[1]), reverse=True)
            top = ", ".join(f"{step} {us} µs" for step, us in costs[:3])
            section.verdict(
                False,
                f"{name} adds {added:.2f} µs (target ≤ {target:g} µs): over by "
                f"{added - target:.2f} µs. The biggest steps: {top}.",
            )
    token_name = "PasswordlessGate, app token (warm)"
    token_added = by_name[token_name].median_us - bare
    section.verdict(
        token_added <= hotpath.TARGET_TOKEN_US,
        f"{token_name} adds {token_added:.2f} µs to the bare call: the Authorization header, "
        f"one SHA-256 and a cache lookup (target ≤ {hotpath.TARGET_TOKEN_US:g} µs).",
    )
    plain = by_name[f"PasswordlessGate, cookie store, no rules, GET {hotpath.RULES_PATH}"]
    ruled = by_name[f"PasswordlessGate, cookie store, 50 access rules, GET {hotpath.RULES_PATH}"]
    rules_added = ruled.median_us - plain.median_us
    section.verdict(
        rules_added <= hotpath.TARGET_RULES_US,
        f"50 access rules add {rules_added:.2f} µs to the warm hot path (GET "
        f"{hotpath.RULES_PATH}, under rule 38: one prefix lookup, the rule's allow list; "
        f"target ≤ {hotpath.TARGET_RULES_US:g} µs).",
    )
    wrong = hotpath.wrong_tokens(workdir)
    count = int(wrong.limit.split("/")[0])
    section.add_table(
        f"Wrong app tokens and the store (throttle_app_token_per_ip = {wrong.limit}; one "
        "throttle window):",
        ["requests from one IP", "token store lookups", "answers (both rows together)"],
        [
            [
                f"{wrong.requests:,} with the same wrong token",
                str(wrong.same_lookups),
                "",
            ],
            [
                f"{wrong.requests:,} with a new wrong token each",
                str(wrong.distinct_lookups),
                ", ".join(f"{n:,} x {code}" for code, n in sorted(wrong.statuses.items())),
            ],
        ],
    )
    section.verdict(
        wrong.same_lookups <= 1 and wrong.distinct_lookups <= count,
        f"A wrong token reaches the store at most once per window and IP: {wrong.same_lookups} "
        f"lookup for {wrong.requests:,} tries of the same token; {wrong.distinct_lookups} for "
        f"{wrong.requests:,} different ones (the limit lets {count} through, then 429 without "
        "a lookup).",
    )
    miss = by_name["PasswordlessGate, SQLite store (cache miss)"].median_us - bare
    section.verdict(
        miss <= hotpath.TARGET_MISS_US,
        f"PasswordlessGate, SQLite store (cache miss) adds {miss:.1f} µs: a read of the file "
        f"per session and session_cache_ttl (target ≤ {hotpath.TARGET_MISS_US:g} µs).",
    )
    section.add_text(_load_note())
    return section


# -- 2 and 5. over HTTP ----------------------------------------------------------------


def _cpu_us(target: over_http.Target) -> float:
    """Server CPU µs per request over all of the target's measured runs."""
    cpu = sum(r.server_cpu_s for r in target.runs)
    return cpu / max(sum(r.requests for r in target.runs), 1) * 1e6


def _spread(target: over_http.Target) -> float:
    """The interquartile range of the runs' requests/s, relative to their median."""
    quartiles = statistics.quantiles([r.requests_per_s for r in target.runs], n=4)
    return (quartiles[2] - quartiles[0]) / statistics.median(r.requests_per_s for r in target.runs)


def _http_rows(targets: Sequence[over_http.Target]) -> list[list[str]]:
    base = targets[0]
    rows = []
    for t in targets:
        rows.append(
            [
                t.name,
                f"{t.requests_per_s:,.0f}",
                f"{t.requests_per_s / base.requests_per_s:.2f}",
                f"{min(r.requests_per_s for r in t.runs):,.0f}-"
                f"{max(r.requests_per_s for r in t.runs):,.0f}",
                f"{_spread(t):.0%}",
                f"{statistics.median(r.latency_ms for r in t.runs):.2f}",
                f"{_cpu_us(t):.0f}",
                f"{_cpu_us(base) / _cpu_us(t):.2f}",
                f"{statistics.median(r.wrk_cpu_share for r in t.runs):.0%}",
                str(sum(r.bad for r in t.runs)),
            ]
        )
    return rows


HTTP_HEADERS = [
    "server",
    "req/s (median)",
    "x {base}",
    "runs min-max req/s",
    "IQR/median",
    "avg latency ms",
    "server CPU µs/req",
    "x {base} by CPU",
    "wrk CPU share",
    "errors",
]


def _headers(base: str) -> list[str]:
    return [h.format(base=base) for h in HTTP_HEADERS]


def _wrk_setup() -> str:
    return (
        f"wrk -t1 -c{over_http.CONNECTIONS}; every server warmed up for {over_http.WARMUP_S} s, "
        f"then {over_http.ROUNDS} measured runs of {over_http.MEASURE_S} s each, alternating "
        "between servers run by run (short runs, many times: load from elsewhere comes and "
        "goes, and so falls on every server alike); req/s is the median over the runs. Each "
        "request carries the same `Cookie` header (the gate's session among other cookies) "
        "and every server is checked to answer 200 before and after. Server CPU is the "
        "user+system time of the server's processes (gunicorn master and workers; for the "
        "nginx rows nginx plus its upstream gunicorn) over all runs, per request. wrk runs on "
        "the same 2 cores and competes with the server: its share of the CPU spent by wrk and "
        "the server together is in the last columns."
    )


def http_section(workdir: Path, redis_url: str | None) -> Section:
    section = Section(
        "2. Over HTTP: wrk against gunicorn (2 sync workers)",
        _wrk_setup(),
    )
    targets = over_http.over_http(workdir, redis_url)
    section.add_table("", _headers("bare"), _http_rows(targets))
    base = targets[0]
    by_name = {t.name: t for t in targets}
    for name in ("gated, cookie store", "gated, SQLite store", "gated, Redis store"):
        target = by_name.get(name)
        if target is None:
            section.verdict(False, f"{name}: not measured (no redis-server)")
            continue
        ratio = target.requests_per_s / base.requests_per_s
        cpu_ratio = _cpu_us(base) / _cpu_us(target)
        text = (
            f"{name}: {ratio:.1%} of bare requests/s (target ≥ {over_http.TARGET_RATIO:.0%}). "
            f"By server CPU per request ({_cpu_us(target):.0f} vs {_cpu_us(base):.0f} µs) the "
            f"gated server does {cpu_ratio:.1%} of bare's work per CPU second"
        )
        spread = max(_spread(target), _spread(base))
        caveat = (
            f"; the middle half of one server's runs spans up to {spread:.0%} of its median, more "
            "than the difference judged: the requests/s ratio is within the noise of other "
            "load on this shared 2-core machine, the CPU ratio is the steadier number"
            if spread > abs(1 - ratio)
            else ""
        )
        if ratio >= over_http.TARGET_RATIO:
            section.verdict(True, text + caveat + ".")
        else:
            section.verdict(
                False,
                text + f"; short by {over_http.TARGET_RATIO - ratio:.1%} of bare" + caveat + ".",
            )
    section.add_text(_load_note())
    return section


def scale_section(workdir: Path, redis_url: str | None) -> Section:
    section = Section(
        "5. Scale: the gated app (cookie and SQLite stores) with 1, 2 and 4 sync workers",
        _wrk_setup() + " The machine has 2 cores: more than 2 workers cannot add CPU.",
    )
    targets = over_http.scale(workdir)
    section.add_table("", _headers("1 worker"), _http_rows(targets))
    section.add_text(_load_note())
    return section


# -- 3. login path ---------------------------------------------------------------------


def _idle_ratio(idle: Sequence[tuple[float, float, float]], column: int = 1) -> str:
    """How many times its warm CPU the same work costs after the longest idle (``column``
    1: the gate's login page, 2: the plain task)."""
    return f"{idle[-1][column] / idle[0][column]:.1f}"


def _listed(names: Sequence[str]) -> str:
    """``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _largest(parts: Sequence[tuple[str, float]], count: int = 4) -> str:
    """The ``count`` dearest parts of a login, with their ms."""
    dearest = sorted(parts, key=lambda part: part[1], reverse=True)[:count]
    return ", ".join(f"{name} {us / 1e3:.2f} ms" for name, us in dearest)


def login_section(workdir: Path, redis_url: str | None) -> Section:
    section = Section(
        "3. Login path: the gate's CPU per complete login",
        " ".join((login_path.__doc__ or "").split("\n\n", 1)[-1].split()),
    )
    with login_path.tenant_process(workdir) as tenant_url:
        results = login_path.run(tenant_url, workdir)
        busy = login_path.run_busy(tenant_url, workdir)
        slow = login_path.run_with_latency(tenant_url, workdir)
        idle = login_path.idle_cost(tenant_url, workdir)
        parts = login_path.parts(tenant_url, workdir)
        real, reduced = login_path.without_parts(tenant_url, workdir)
        packages, functions = login_path.profile(tenant_url, workdir)
    result = results["default"]
    steps = result.logins

    def row(name: str, values: Sequence[float]) -> list[str]:
        median, p90, mean = login_path.summarize(values)
        return [name, f"{median:.3f}", f"{p90:.3f}", f"{mean:.3f}"]

    def rows(timed: login_path.Steps, failed: Sequence[float] = ()) -> list[list[str]]:
        found = [
            row("GET login page", timed.page),
            row("POST login (Auth0 /passwordless/start)", timed.start),
            row("POST verify (/oauth/token, id_token check, session)", timed.verify),
            row("**complete login**", timed.totals()),
        ]
        if failed:
            found.append(row("failed code (POST verify, wrong code: invalid_grant)", failed))
        return found

    headers = ["request", "median ms", "p90 ms", "mean ms"]
    section.add_table(
        f"**One sign-in at a time** (the gate idles between requests, as on a quiet gate): "
        f"gate CPU ms over {len(steps.page)} logins and {len(result.failed)} failed codes "
        f"(answers: logins {sorted(result.statuses['login'])}, wrong codes "
        f"{sorted(result.statuses['wrong code'])}):",
        headers,
        rows(steps, result.failed),
    )
    section.add_table(
        f"**One at a time, Auth0 answering in {login_path.LATENCY_MS} ms** (the tenant waits "
        f"that long before each answer, a `latency` fault; a real tenant takes 50 to 500 ms, "
        f"and the gate's work after each call starts cold): gate CPU ms over "
        f"{len(slow.page)} logins:",
        headers,
        rows(slow),
    )
    section.add_table(
        f"**A busy gate** (sign-ins overlap: {login_path.BUSY_ROUNDS} rounds in which the "
        f"verify of each of {login_path.BUSY_ROUND} sign-ins alternates with the page and "
        "start of a new one, then a pause of "
        f"{login_path.BUSY_PAUSE:.0f} s lets the tenant's token bucket refill): gate CPU ms "
        f"over {len(busy.page)} logins:",
        headers,
        rows(busy),
    )
    section.add_table(
        "Why the two differ: the same login page (same code, same work) after the gate "
        f"idled for a while, median of {login_path.IDLE_SAMPLES} each. Idle, the CPU caches "
        "cool (other work on the machine evicts them), and every request of a quiet gate "
        "starts cold. The last column is a plain Python task after the same idle (JSON "
        "both ways, a regex and 40 HMACs, no gate code; ``login_path.plain_task``): the "
        "machine makes any work dearer after a pause, the more so the more code it runs:",
        ["idle before the request", "gate CPU ms", "plain task CPU ms"],
        [[f"{gap:g} ms", f"{spent:.3f}", f"{plain:.3f}"] for gap, spent, plain in idle],
    )
    slow_ms = statistics.median(slow.totals())
    section.add_table(
        f"Where a login's CPU goes, one at a time with Auth0 answering in "
        f"{login_path.LATENCY_MS} ms: each part timed around its functions (no profiler), "
        f"median µs per login over {login_path.LATENCY_LOGINS} more logins, and its share "
        f"of the {slow_ms:.2f} ms above; the rest is the gate's own code around them "
        "(Werkzeug's request, cookies, throttles, the allow-list, audit):",
        ["part", "µs per login", "share"],
        [[name, f"{us:.0f}", f"{us / 1e3 / slow_ms:.0%}"] for name, us in parts],
    )
    taken_out = [name for name, *_ in login_path.STAND_INS]
    section.add_table(
        f"What is left without the dearest parts: {len(real.page)} more logins as above "
        f"(Auth0 in {login_path.LATENCY_MS} ms), interleaved one by one with "
        f"{len(reduced.page)} in which {_listed(taken_out)} are replaced by stand-ins (a "
        "fixed page, the address lower-cased, the claims read unchecked, nothing written: "
        "a measure, not a way to run the gate). Median gate CPU ms:",
        ["request", "as it is", "without those parts"],
        [
            [name, f"{statistics.median(a):.3f}", f"{statistics.median(b):.3f}"]
            for name, a, b in (
                ("GET login page", real.page, reduced.page),
                ("POST login", real.start, reduced.start),
                ("POST verify", real.verify, reduced.verify),
                ("**complete login**", real.totals(), reduced.totals()),
            )
        ],
    )
    section.add_table(
        f"cProfile (CPU clock) of {login_path.PROFILED_LOGINS} more logins, one at a time: own "
        "time by package, ms per login (profiling inflates every Python call, so read shares):",
        ["package", "ms per login", "share"],
        packages,
    )
    section.add_table(
        "Calls with the most inclusive time (including what they call), outermost first:",
        ["function", "ms per login", "share of all"],
        functions,
    )
    target = login_path.TARGET_MS
    alone = result.per_login_ms
    busy_ms = statistics.median(busy.totals())
    failed_ms = statistics.median(result.failed)
    section.verdict(
        busy_ms < target,
        f"{busy_ms:.2f} ms of gate CPU per login on a busy gate (median; target < "
        f"{target:.0f} ms): what sign-ins cost in CPU when there are many of them.",
    )
    section.verdict(
        alone < target,
        f"{alone:.2f} ms per login one at a time, the gate idle in between (median; a failed "
        f"code costs {failed_ms:.2f} ms). This figure hangs on the short waits inside a "
        "login (the outbox, the pacing of token calls): a request costs "
        f"{idle[1][1] / idle[0][1]:.1f} times its warm CPU after {idle[1][0]:g} ms idle and "
        f"{idle[2][1] / idle[0][1]:.1f} times after {idle[2][0]:g} ms (table above), so it "
        "moves between "
        "runs far more than the others.",
    )
    section.verdict(
        slow_ms < target,
        f"{slow_ms:.2f} ms per login one at a time with Auth0 answering in "
        f"{login_path.LATENCY_MS} ms, as a quiet gate in front of a real tenant signs people "
        "in: the same work from cold caches, "
        f"{_idle_ratio(idle)} times the CPU of a warm request here (a plain task "
        f"{_idle_ratio(idle, 2)} times; table above). "
        f"Where it goes (timed, table above): {_largest(parts)}. Without the pages, "
        "the address check, the id_token check and the session write (stand-ins, "
        f"interleaved in the same run), a login still costs "
        f"{statistics.median(reduced.totals()):.2f} ms here "
        f"({statistics.median(real.totals()):.2f} ms as it is, table above): the rest is "
        "the requests' handling, the calls' waits and the cold starts.",
    )
    section.add_text(_load_note())
    return section


# -- 4. memory -------------------------------------------------------------------------


def memory_section(workdir: Path, redis_url: str | None) -> Section:
    section = Section(
        "4. Memory: cached sessions, and a flood of invalid cookies",
        "Each line runs in a fresh interpreter and reads VmRSS from /proc/self/status "
        "before and after (after a gc.collect()).",
    )
    cache = memory.measure("cache")
    plain = memory.measure("dict")

    def per(result: dict[str, float]) -> float:
        return (result["rss_after"] - result["rss_before"]) / result["n"]

    def mb(value: float) -> str:
        return f"{value / 2**20:.1f}"

    rows = [
        [
            "`SessionCache` (cookie store), filled through `save()`",
            f"{cache['cached']:,}",
            mb(cache["rss_before"]),
            mb(cache["rss_after"]),
            f"{per(cache):,.0f}",
        ],
        [
            "plain `dict` {cookie value: `Session`}",
            f"{plain['cached']:,}",
            mb(plain["rss_before"]),
            mb(plain["rss_after"]),
            f"{per(plain):,.0f}",
        ],
        ["the cache's own overhead (difference)", "", "", "", f"{per(cache) - per(plain):,.0f}"],
    ]
    section.add_table(
        "Sessions with 10 claims each; the key is the cookie value, "
        f"{cache['key_chars']:.0f} characters for the cookie store (a Redis id is 43):",
        ["what", "sessions", "RSS before MB", "RSS after MB", "bytes per session"],
        rows,
    )
    floods = [memory.measure("flood")]
    if redis_url:
        floods.append(memory.measure("flood", "--redis", redis_url))
    flood_rows = [
        [
            f["store"],
            f"{f['n']:,}",
            f"{f['len_before']} → {f['len_after']}",
            f"{mb(f['rss_before'])} → {mb(f['rss_after'])}",
            str(f["app_called"]),
            ", ".join(f"{status}: {count:,}" for status, count in f["statuses"].items()),
            "yes" if f["valid_still_cached"] else "no",
            f"{f['seconds'] / f['n'] * 1e6:.0f}",
        ]
        for f in floods
    ]
    section.add_table(
        "A flood of forged cookies through the whole gate (unknown ids, tampered signatures, "
        "records signed with another key, garbage):",
        [
            "store",
            "cookies",
            "cache entries",
            "RSS MB",
            "app called",
            "answers",
            "valid session still cached",
            "µs per forged request",
        ],
        flood_rows,
    )
    bytes_per = per(cache)
    limit = memory.TARGET_BYTES
    section.verdict(
        bytes_per <= limit,
        f"{bytes_per:,.0f} bytes per cached session (target ≤ {limit:,}); a plain dict of the "
        f"same sessions takes {per(plain):,.0f}"
        + ("." if bytes_per <= limit else f": over by {bytes_per - limit:,.0f} bytes."),
    )
    section.add_text(
        f"Bound: with `session_cache_size={cache['n']:,}`, saving "
        f"{cache['saved_past_maxsize']:,} more sessions left {cache['cached_after_overflow']:,} "
        "entries."
    )
    bounded = cache["cached_after_overflow"] <= cache["n"] and all(
        f["len_after"] == f["len_before"] and f["app_called"] == 0 and f["valid_still_cached"]
        for f in floods
    )
    growth = max(f["rss_after"] - f["rss_before"] for f in floods)
    section.verdict(
        bounded,
        "cache bounded and only verified sessions enter: "
        + "; ".join(
            f"{f['store']} store: {f['n']:,} forged cookies left the cache at "
            f"{f['len_after']} entr{'y' if f['len_after'] == 1 else 'ies'}, the app was called "
            f"{f['app_called']} times"
            for f in floods
        )
        + f"; RSS grew by at most {growth / 2**20:.1f} MB.",
    )
    section.add_text(_load_note())
    return section


# -- 6. concurrent sign-ins -----------------------------------------------------------


def signins_section(workdir: Path, redis_url: str | None) -> Section:
    section = Section(
        f"6. {signins.SIGN_INS} concurrent sign-ins, {signins.WORKERS} gunicorn workers, "
        "one SQLite file",
        " ".join((signins.__doc__ or "").split("\n\n", 1)[-1].split()),
    )
    result = signins.run(workdir)
    rows = []
    for name, phase in (("ask for a code", result.start), ("enter the code", result.verify)):
        counts = {status: phase.statuses.count(status) for status in sorted(set(phase.statuses))}
        rows.append(
            [
                name,
                ", ".join(f"{count} x {status or 'no answer'}" for status, count in counts.items()),
                f"{phase.seconds:.2f}",
                f"{len(phase.statuses) / phase.seconds:.0f}",
            ]
        )
    section.add_table(
        "Each wave released at once by a barrier:",
        ["wave", "answers", "seconds for all", "sign-ins/s"],
        rows,
    )
    ok = (
        result.verify.statuses.count(303) == signins.SIGN_INS
        and result.signed_in == signins.SIGN_INS
        and not result.locked_lines
    )
    troubles = "; ".join(result.locked_lines[:3]) or "none"
    section.verdict(
        ok,
        f"{result.signed_in} of {signins.SIGN_INS} browsers signed in and then admitted; "
        f"store errors or tracebacks in the workers' log: {troubles}.",
    )
    section.add_text(_load_note())
    return section


# -- main ------------------------------------------------------------------------------

Runner = Callable[[Path, "str | None"], Section]
RUNNERS: dict[str, tuple[Runner, tuple[str, ...]]] = {
    "hotpath": (hotpath_section, ()),
    "http": (http_section, ("wrk", "nginx")),
    "login": (login_section, ()),
    "memory": (memory_section, ()),
    "scale": (scale_section, ("wrk",)),
    "signins": (signins_section, ()),
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    args = parser.parse_args(argv)
    started = time.monotonic()
    facts = machine()
    print("\n".join(facts), flush=True)
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="pwless-bench-") as tmp:
        workdir = Path(tmp)
        with redis_server(workdir) as redis:
            redis_url = redis.url if redis else None
            for name in BENCHMARKS:
                if name not in args.only:
                    continue
                runner, tools = RUNNERS[name]
                missing = [tool for tool in tools if not have(tool)]
                if missing:
                    section = Section(name, f"Skipped: {', '.join(missing)} not installed.")
                else:
                    print(f"\n[bench] running {name} …", flush=True)
                    section = runner(workdir, redis_url)
                sections.append(section)
                print("\n" + section.markdown(), flush=True)
    RESULTS.write_text(render(facts, sections, time.monotonic() - started))
    print(f"[bench] wrote {RESULTS} in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
