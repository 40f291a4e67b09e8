"""The results file: machine facts, markdown tables, and verdicts against the targets."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "werkzeug",
    "gunicorn",
    "redis",
    "itsdangerous",
    "cachetools",
    "urllib3",
    "httptools",
    "pyjwt",
    "jinja2",
    "flask",
    "flask-login",
)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table with padded columns (readable as plain text too)."""
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


@dataclass
class Section:
    """One benchmark's part of the results: text, tables and verdicts, in that order."""

    title: str
    intro: str = ""
    blocks: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)

    def add_table(
        self, caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> None:
        self.blocks.append(
            f"{caption}\n\n{table(headers, rows)}" if caption else table(headers, rows)
        )

    def add_text(self, text: str) -> None:
        self.blocks.append(text)

    def verdict(self, met: bool, text: str) -> None:
        self.verdicts.append(f"- **{'MET' if met else 'MISSED'}**: {text}")

    def markdown(self) -> str:
        parts = [f"## {self.title}"]
        if self.intro:
            parts.append(self.intro)
        parts += self.blocks
        if self.verdicts:
            parts.append("Targets:\n\n" + "\n".join(self.verdicts))
        return "\n\n".join(parts) + "\n"


def load_average() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"{one:.2f} (1 min) / {five:.2f} (5 min)"


def _first(path: str, pattern: str) -> str:
    try:
        match = re.search(pattern, Path(path).read_text(), re.MULTILINE)
    except OSError:
        return "unknown"
    return match.group(1).strip() if match else "unknown"


def _tool_version(args: Sequence[str]) -> str:
    if shutil.which(args[0]) is None:
        return "not installed"
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=10, check=False)
    text = (done.stdout + done.stderr).strip().splitlines()
    # Keep "wrk 4.1.0" / "Redis server v=7.0.15", not the copyright or build hashes.
    return re.split(r" \[| Copyright| sha=", text[0])[0] if text else "unknown"


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=False)
    return done.stdout.strip()


def machine() -> list[str]:
    """Facts about this machine and software, as markdown list items."""
    memory_kb = int(_first("/proc/meminfo", r"^MemTotal:\s+(\d+)") or 0)
    cpu = _first("/proc/cpuinfo", r"^model name\s*:\s*(.+)$")
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    changed = _git("status", "--porcelain", "--", "pwless_gate")
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    tree = f"{commit}" + (
        f", with uncommitted changes to {len(changed.splitlines())} file(s) in pwless_gate/"
        if changed
        else ""
    )
    return [
        f"- Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')}",
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {memory_kb / 1024 / 1024:.1f} GiB",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- Packages: {', '.join(versions)}",
        f"- Tools: {_tool_version(['wrk', '--version'])}; {_tool_version(['nginx', '-v'])}; "
        f"{_tool_version(['redis-server', '--version'])}",
        f"- pwless-gate source: {tree}",
        f"- Load average at start: {load_average()}",
    ]


def render(facts: Sequence[str], sections: Sequence[Section], seconds: float) -> str:
    head = [
        "# pwless-gate benchmarks",
        "",
        "Written by `make bench` (`bench/run`); every run overwrites this file. "
        "Targets are reported here, never asserted in tests.",
        "",
        "## Machine",
        "",
        *facts,
        f"- Load average at end: {load_average()}; whole run {seconds:.0f} s",
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(s.markdown() for s in sections)
