"""Memory and CPU time of the mesh's processes, read from /proc (Linux).

Every service and Triton is started in its own session (see tools.mesh), so a service's
process group holds the service and anything it spawned: for Triton, its python-backend stub
processes, one per model instance. Figures are summed over the group.
"""

from __future__ import annotations

import os
import platform
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    """One process group at one moment."""

    processes: int
    rss_bytes: int  # resident now
    peak_rss_bytes: int  # sum of each process's high-water mark (VmHWM)
    cpu_s: float  # user + system time so far, reaped children included


def parse_stat(text: str) -> tuple[int, float, int]:
    """(process group, CPU seconds, resident pages) from a /proc/<pid>/stat line.

    CPU = user + system time of the process and of its children it has reaped, so the
    group's total does not drop when a child exits (Triton restarts a model's process when
    the model is reloaded)."""
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    pgrp = int(fields[2])
    cpu = sum(int(f) for f in fields[11:15]) / TICKS
    rss_pages = int(fields[21])
    return pgrp, cpu, rss_pages


def parse_hwm_bytes(status: str) -> int:
    """VmHWM (peak resident set) from /proc/<pid>/status, in bytes; 0 if absent."""
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def group_usage(pgids: Mapping[str, int]) -> dict[str, Usage]:
    """Usage of each named process group (name -> group leader pid)."""
    wanted = {pgid: name for name, pgid in pgids.items()}
    totals: dict[str, list[float]] = {name: [0, 0, 0, 0.0] for name in pgids}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pgrp, cpu, rss_pages = parse_stat((entry / "stat").read_text())
            if pgrp not in wanted:
                continue
            hwm = parse_hwm_bytes((entry / "status").read_text())
        except (OSError, ValueError, IndexError):
            continue  # exited while we looked
        t = totals[wanted[pgrp]]
        t[0] += 1
        t[1] += rss_pages * PAGE
        t[2] += hwm
        t[3] += cpu
    return {name: Usage(int(t[0]), int(t[1]), int(t[2]), float(t[3])) for name, t in totals.items()}


def cpu_delta(before: Mapping[str, Usage], after: Mapping[str, Usage]) -> dict[str, float]:
    """CPU seconds each group spent between two snapshots."""
    return {name: after[name].cpu_s - before[name].cpu_s for name in after if name in before}


def self_cpu_s() -> float:
    """CPU seconds of this process (the load generator / in-process baseline)."""
    times = os.times()
    return times.user + times.system


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    try:
        for line in (PROC / "cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        match = re.search(r"^MemTotal:\s+(\d+)", (PROC / "meminfo").read_text(), re.MULTILINE)
        memory = int(match.group(1)) * 1024 if match else 0
    except OSError:
        pass
    return {
        "hostname": socket.gethostname(),
        "cpu_model": model,
        "cores": os.cpu_count() or 0,
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_bytes": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
