"""The chaos report: `benchmarks/results/<date>-<machine>-chaos.{json,md}`.

The fault test and the soak each write their own section into the JSON (written only when
asked: VERITAS_CHAOS_REPORT=1, as `make chaos` and `make soak` do, so `make test` never
touches the working tree); the Markdown is rendered from the whole JSON every time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from pathlib import Path
from typing import Any

from benchmarks.harness import machine_label
from benchmarks.procs import machine

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
MB = 1024 * 1024


def enabled() -> bool:
    return os.environ.get("VERITAS_CHAOS_REPORT", "") not in ("", "0")


def stem(today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    return f"{today:%Y-%m-%d}-{machine_label(socket.gethostname())}-chaos"


def load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0


def record(
    section: str, data: dict[str, Any], folder: Path = RESULTS, force: bool = False
) -> Path | None:
    """Merge `data` as `section` into today's chaos JSON and re-render the Markdown (only
    when enabled, or with `force`: the soak is always run to be reported)."""
    if not (enabled() or force):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem()}.json"
    doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    doc["machine"] = machine()
    doc[section] = data | {"recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    path.with_suffix(".md").write_text(render(doc))
    return path


def _mb(value: float) -> str:
    return f"{value / MB:,.0f}"


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def render(doc: dict[str, Any]) -> str:
    m = doc.get("machine", {})
    lines = [
        f"# Chaos: faults under load and a soak ({m.get('hostname', '?')})",
        "",
        f"Machine: {m.get('cpu_model', '?')}, {m.get('cores_usable', '?')} usable cores, "
        f"{_mb(m.get('memory_bytes', 0))} MB memory, no GPU; shared with other work while "
        "these ran, so durations here are what this run saw, not performance figures.",
        "Produced by `make chaos` (tests/chaos/test_faults.py) and `make soak` "
        "(tests/chaos/soak.py); the JSON beside this file has every figure.",
        "",
    ]
    faults = doc.get("faults")
    if faults:
        lines += [
            "## Faults under load",
            "",
            f"Recorded {faults['recorded_at']}; {faults['workers']} clients sending analyses "
            "(video at about 1 fps, audio, transcript, heart rate; every call different, the "
            "gateway's result cache off: tests/chaos/load.py) through the gateway without "
            f"pause; load average {faults.get('load_average', -1):.1f} at the start. "
            "Each target was killed with SIGKILL (Triton: its whole process group) while calls "
            "flowed, then started again; nothing else was restarted (same PIDs before and after).",
            "",
            "| target | calls | failed | degraded | modalities not OK (answers) "
            "| detected (health) | failed calls' slowest | restart | recovered "
            "| others restarted |",
            "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for s in faults["scenarios"]:
            not_ok = ", ".join(f"{k} {v}" for k, v in s.get("modalities_not_ok", {}).items())
            lines.append(
                f"| {s['target']} | {s['calls']} | {s['failed']} | {s['degraded']} | "
                f"{not_ok or '–'} | {_s(s.get('detected_s'))} | "
                f"{_s(s.get('slowest_failed_s'))} | {_s(s.get('restart_s'))} | "
                f"{_s(s.get('recovered_s'))} | {'yes' if s.get('others_restarted') else 'no'} |"
            )
        lines += [
            "",
            "*calls*: every call that ended from the kill until the mesh answered in full "
            "again. *failed*: calls that ended with an error (expected only while fusion is "
            "down, where no answer is possible: each must be a fast UNAVAILABLE). *degraded*: "
            "answers with a modality not OK, counted per modality and status in the next "
            "column. *detected*: kill to the health checks that all report it (docs/health.md). "
            "*restart*: starting the target again until it is ready (Triton: loading every "
            "model). *recovered*: restart command to the end of the first call, started after "
            "it, with every modality OK. Resident memory below is of the process running at "
            "each moment: a target that was restarted is a new process at the end.",
            "",
        ]
        lines += _rss_table(
            "Resident memory, fault test", faults.get("rss_start"), faults.get("rss_end")
        )
    soak = doc.get("soak")
    if soak:
        lines += [
            "## Soak",
            "",
            f"Recorded {soak['recorded_at']}: {soak['duration_s'] / 60:.1f} minutes of "
            f"{soak['workers']} clients sending the same kind of analyses as above without "
            f"pause ({soak['calls']} calls, {soak['failed']} "
            f"failed, {soak['degraded']} degraded), resident memory of every process group "
            f"sampled every {soak['interval_s']:g} s. Trend: least-squares slope over the samples "
            f"after the first {soak['warmup_s']:g} s; a group fails when it grows more than "
            f"{soak['limit_mb_per_min']:g} MB/min and more than {soak['limit_growth']:.0%} "
            f"over the run. Load average {soak.get('load_average', -1):.1f} at the end. "
            f"Verdict: **{soak['verdict']}**.",
            "",
            "| process | RSS at start (MB) | after warm-up | at end | slope (MB/min) "
            "| fitted growth | grows? |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for name, t in soak["trend"].items():
            growth = (
                (t["end_bytes"] - t["start_bytes"]) / t["start_bytes"] if t["start_bytes"] else 0
            )
            lines.append(
                f"| {name} | {_mb(t.get('first_bytes', 0))} | {_mb(t.get('warm_bytes', 0))} | "
                f"{_mb(t.get('last_bytes', 0))} | {t['slope_mb_per_min']:+.2f} | {growth:+.1%} | "
                f"{'**yes**' if t['growing'] else 'no'} |"
            )
        lines.append("")
    return "\n".join(lines)


def _rss_table(title: str, start: dict[str, int] | None, end: dict[str, int] | None) -> list[str]:
    if not start or not end:
        return []
    rows = [f"{title}:", "", "| process | start (MB) | end (MB) |", "| --- | ---: | ---: |"]
    for name in start:
        rows.append(f"| {name} | {_mb(start[name])} | {_mb(end.get(name, 0))} |")
    return [*rows, ""]
