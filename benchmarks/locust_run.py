"""Run locust headless against the gateway's HTTP port and read its CSV statistics."""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "benchmarks" / "locustfile.py"


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None  # locust writes "N/A" where it has nothing


def parse_stats(text: str) -> list[dict[str, Any]]:
    """Rows of locust's <prefix>_stats.csv: one per request name, then 'Aggregated'."""
    rows = []
    for row in csv.DictReader(text.splitlines()):
        rows.append(
            {
                "name": row["Name"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "requests_per_s": _number(row["Requests/s"]),
                "p50_ms": _number(row["50%"]),
                "p95_ms": _number(row["95%"]),
                "p99_ms": _number(row["99%"]),
                "mean_ms": _number(row["Average Response Time"]),
            }
        )
    return rows


def run_locust(host: str, users: int, seconds: float, api_key: str = "") -> dict[str, Any]:
    """One headless run of benchmarks/locustfile.py; returns its per-endpoint statistics."""
    with tempfile.TemporaryDirectory(prefix="veritas-locust-") as tmp:
        prefix = Path(tmp) / "run"
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            host,
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{max(1, round(seconds))}s",
            "--stop-timeout",
            "10",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ]
        if api_key:
            command += ["--api-key", api_key]
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
        stats_file = Path(f"{prefix}_stats.csv")
        if not stats_file.exists():
            raise RuntimeError(
                f"locust wrote no statistics (exit {done.returncode}):\n{done.stderr[-2000:]}"
            )
        rows = parse_stats(stats_file.read_text())
    return {
        "users": users,
        "duration_s": seconds,
        "exit_code": done.returncode,  # 1 when any request failed
        "endpoints": [r for r in rows if r["name"] != "Aggregated"],
        "total": next((r for r in rows if r["name"] == "Aggregated"), None),
    }
