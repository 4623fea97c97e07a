"""How many replicas of each service a request rate needs, from measured CPU per request,
checked against the Helm chart's requests and autoscaling settings (pure: results in).

For each service: cores = rate x CPU seconds per request (measured on the benchmark machine);
an HPA on CPU keeps each pod near `targetCPUUtilizationPercentage` of its CPU *request*, so
it settles at ceil(cores / (request x target)) replicas; the chart's `maxReplicas` must
allow that, and its `minReplicas` is what runs anyway. Cores of the benchmark machine are
not a cluster node's: the figures carry over only as far as the CPUs compare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

VALUES = Path(__file__).resolve().parent.parent / "helm" / "veritas" / "values.yaml"
COMPONENTS = ("gateway", "fusion", "vision", "audio", "text", "physiology", "triton")


def cpu_cores(value: Any) -> float:
    """A Kubernetes CPU quantity ("250m", "1", 2) in cores."""
    text = str(value).strip()
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def chart_settings(values_path: Path = VALUES) -> dict[str, dict[str, Any]]:
    """Per component: CPU request (cores) and its HPA's min, max and CPU target."""
    import yaml

    values = yaml.safe_load(values_path.read_text())
    out: dict[str, dict[str, Any]] = {}
    for name in COMPONENTS:
        part = values.get(name) or {}
        scaling = part.get("autoscaling") or {}
        requests = (part.get("resources") or {}).get("requests") or {}
        out[name] = {
            "cpu_request_cores": cpu_cores(requests["cpu"]) if "cpu" in requests else None,
            "hpa": bool(scaling.get("enabled")),
            "min_replicas": scaling.get("minReplicas", part.get("replicas", 1)),
            "max_replicas": scaling.get("maxReplicas", part.get("replicas", 1)),
            "target_cpu_pct": scaling.get("targetCPUUtilizationPercentage"),
        }
    return out


def plan(
    cpu_s_per_request: Mapping[str, float],
    rate: float,
    chart: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Replicas each component needs at `rate` requests/s, and whether the chart allows it."""
    rows = []
    for name in COMPONENTS:
        cpu = cpu_s_per_request.get(name)
        settings = chart.get(name, {})
        request, target = settings.get("cpu_request_cores"), settings.get("target_cpu_pct")
        row: dict[str, Any] = {"service": name, "cpu_ms_per_request": None} | dict(settings)
        if cpu is None or not request or not target:
            row["note"] = "not measured" if cpu is None else "no CPU request or HPA target"
            rows.append(row)
            continue
        cores = rate * cpu
        needed = max(1, math.ceil(cores / (request * target / 100) - 1e-9))
        runs = max(needed, int(settings.get("min_replicas") or 1))
        row |= {
            "cpu_ms_per_request": cpu * 1000,
            "cores_at_rate": cores,
            "replicas_needed": needed,
            "replicas_running": runs,
            "fits": needed <= int(settings.get("max_replicas") or 1),
        }
        rows.append(row)
    return rows


def scaling(results: Mapping[str, Any], rate: float, values_path: Path = VALUES) -> dict[str, Any]:
    """The plan for the multimodal workload (CPU per request from the latency section:
    one request at a time, so no batching helps it: an upper bound), and for text only and
    audio + text at the throughput level that served the most without errors."""
    chart = chart_settings(values_path)
    out: dict[str, Any] = {"rate_per_s": rate, "chart": str(values_path.name), "workloads": {}}
    full = results.get("latency", {}).get("full", {})
    cpu = full.get("mesh", {}).get("cpu_s_per_request") if isinstance(full, Mapping) else None
    if cpu:
        out["workloads"]["full"] = {
            "basis": "single analyses, one at a time (latency section)",
            "rows": plan(cpu, rate, chart),
        }
    for workload, levels in (results.get("throughput") or {}).items():
        if not isinstance(levels, list):
            continue
        clean = [lv for lv in levels if not lv.get("error_count") and lv.get("cpu_s_per_request")]
        if not clean:
            continue
        best = max(clean, key=lambda lv: lv["requests_per_s"])
        out["workloads"][workload] = {
            "basis": f"throughput at {best['concurrency']} in flight "
            f"({best['requests_per_s']:.0f} requests/s)",
            "rows": plan(best["cpu_s_per_request"], rate, chart),
        }
    return out
