"""The soak: a fresh mesh under steady load for minutes, every process group's resident
memory sampled as it goes; fails when any of them grows (or any call fails).

    python -m tests.chaos.soak --minutes 5        # make soak (SOAK_MINUTES=5)

Writes its section of benchmarks/results/<date>-<machine>-chaos.{json,md} (tests/chaos/
report.py) and exits non-zero on a growing trend. A trend is the least-squares slope of
each group's RSS over the samples after the warm-up (caches filling, lazy imports, Triton's
first batches): growing means more than LIMIT_MB_PER_MIN *and* more than LIMIT_GROWTH of
its size over the run, so neither a small process's noise nor a big one's slow drift of a
few pages passes for a leak.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.chaos import report
from tests.chaos.load import Load, rss
from tools.mesh import Mesh

LIMIT_MB_PER_MIN = 2.0
LIMIT_GROWTH = 0.05
MB = 1024 * 1024


@dataclass(frozen=True)
class Trend:
    first_bytes: int  # measured: the first sample (the mesh just started, no load yet)
    warm_bytes: int  # measured: the first sample after the warm-up
    last_bytes: int  # measured: the last sample
    start_bytes: int  # the fitted line at the first sample after the warm-up
    end_bytes: int  # ... and at the last sample
    slope_mb_per_min: float
    growing: bool


def slope(times_s: list[float], values: list[float]) -> float:
    """Least-squares slope of values over times (per second); 0 with fewer than 2 points."""
    n = len(times_s)
    if n < 2:
        return 0.0
    mt, mv = sum(times_s) / n, sum(values) / n
    var = sum((t - mt) ** 2 for t in times_s)
    if var == 0:
        return 0.0
    return sum((t - mt) * (v - mv) for t, v in zip(times_s, values)) / var


def trend(
    samples: list[tuple[float, dict[str, int]]],
    warmup_s: float,
    limit_mb_per_min: float = LIMIT_MB_PER_MIN,
    limit_growth: float = LIMIT_GROWTH,
) -> dict[str, Trend]:
    """Each process's trend over the samples taken after `warmup_s`."""
    kept = [(t, s) for t, s in samples if t >= warmup_s] or samples
    names = sorted({n for _, s in kept for n in s})
    out = {}
    for name in names:
        points = [(t, s[name]) for t, s in kept if name in s]
        ts, vs = [p[0] for p in points], [float(p[1]) for p in points]
        per_s = slope(ts, vs)
        mean_t, mean_v = sum(ts) / len(ts), sum(vs) / len(vs)
        start = mean_v + per_s * (ts[0] - mean_t)
        end = mean_v + per_s * (ts[-1] - mean_t)
        per_min_mb = per_s * 60 / MB
        growth = (end - start) / start if start > 0 else 0.0
        growing = per_min_mb > limit_mb_per_min and growth > limit_growth
        first = next(s[name] for _, s in samples if name in s)
        out[name] = Trend(
            first, int(vs[0]), int(vs[-1]), int(start), int(end), round(per_min_mb, 3), growing
        )
    return out


def soak(minutes: float, interval_s: float, workers: int, warmup_s: float) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix="veritas-soak-"))
    env = {"VERITAS_AUTH": "none", "VERITAS_RATE_LIMIT_RPS": "100000"}
    env["VERITAS_RATE_LIMIT_BURST"] = "100000"
    samples: list[tuple[float, dict[str, int]]] = []
    with Mesh(run_dir, extra_env=env).start() as mesh:
        load = Load(mesh.address("gateway"), workers)
        with load.running():
            began = time.monotonic()
            end = began + minutes * 60
            while True:
                samples.append((round(time.monotonic() - began, 1), rss(mesh)))
                last = samples[-1][1]
                print(
                    f"{samples[-1][0]:7.1f} s  calls {len(load.outcomes):5d}  "
                    + "  ".join(f"{n} {v / MB:.0f}" for n, v in sorted(last.items())),
                    flush=True,
                )
                if time.monotonic() >= end:
                    break
                time.sleep(min(interval_s, max(0.0, end - time.monotonic())))
        outcomes = list(load.outcomes)
        alive = all(p.poll() is None for p in mesh.processes.values())
    trends = trend(samples, warmup_s)
    failed = sum(not o.ok for o in outcomes)
    growing = [n for n, t in trends.items() if t.growing]
    verdict = "passed: no process grows" if not growing else f"FAILED: {', '.join(growing)} grow"
    if failed:
        verdict += f"; {failed} calls failed"
    if not alive:
        verdict += "; a process died"
    return {
        "duration_s": round(samples[-1][0], 1),
        "interval_s": interval_s,
        "warmup_s": warmup_s,
        "workers": workers,
        "calls": len(outcomes),
        "failed": failed,
        "degraded": sum(o.degraded for o in outcomes),
        "limit_mb_per_min": LIMIT_MB_PER_MIN,
        "limit_growth": LIMIT_GROWTH,
        "load_average": report.load_average(),
        "trend": {n: t.__dict__ for n, t in trends.items()},
        "samples": [{"t_s": t, "rss_bytes": s} for t, s in samples],
        "verdict": verdict,
        "ok": not growing and not failed and alive,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--interval-s", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--warmup-s", type=float, default=None, help="default: 20%% of the run")
    args = parser.parse_args(argv)
    # SIGTERM ends the run like Ctrl-C: the mesh is stopped, not left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    warmup = args.warmup_s if args.warmup_s is not None else 0.2 * args.minutes * 60
    result = soak(args.minutes, args.interval_s, args.workers, warmup)
    path = report.record("soak", result, force=True)
    print(result["verdict"])
    for name, t in result["trend"].items():
        print(
            f"  {name:11s} {t['start_bytes'] / MB:7.0f} MB -> {t['end_bytes'] / MB:7.0f} MB"
            f"  {t['slope_mb_per_min']:+.2f} MB/min{'  GROWING' if t['growing'] else ''}"
        )
    print(f"report: {path.with_suffix('.md') if path else '-'}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
