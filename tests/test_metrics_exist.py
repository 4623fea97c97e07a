"""Every metric and label the chart's alerts and Grafana dashboard name is exported: the
running mesh is scraped (every service's /metrics and Triton's) after one analysis, and each
selector of each query is checked against what came back, on the services its `job`
matcher selects.

What the cluster adds is named here, not guessed: the target labels Prometheus attaches
(namespace, pod, job, instance), Prometheus's own `up`, kube-state-metrics' and cAdvisor's
series, and Triton's GPU gauges, which exist only where a GPU does.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from typing import Any

import promql_parser
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tools.cli import sample_request
from tools.mesh import SERVICES, Mesh
from tools.prometheus_local import render_chart
from veritas import live
from veritas.client import Client

RELEASE, NAMESPACE = "prod", "veritas"
FULLNAME = f"{RELEASE}-veritas"
TARGET_LABELS = {"namespace", "pod", "job", "instance"}  # attached by Prometheus per target
NOT_EXPORTED_HERE = {
    "up": "Prometheus's own, one per scrape target",
    "kube_pod_container_resource_limits": "kube-state-metrics",
    "kube_deployment_status_replicas_available": "kube-state-metrics",
    "container_memory_working_set_bytes": "cAdvisor (the kubelet)",
    "nv_gpu_memory_used_bytes": "Triton exports GPU gauges only where it sees a GPU",
    "nv_gpu_memory_total_bytes": "Triton exports GPU gauges only where it sees a GPU",
}
# Labelled metrics with nothing observed yet show only their HELP and TYPE lines; the live
# ones stay that way until a live stream runs, so their label names come from their
# definitions (veritas/live.py), the registry the services export.
LIVE = {c.describe()[0].name: c for c in (live.STREAMS_OPEN, live.WINDOWS, live.SKIPPED)} | {
    live.UPDATE_LATENCY.describe()[0].name: live.UPDATE_LATENCY
}


@dataclass(frozen=True)
class Use:
    """One selector of one query: the metric, the labels it needs, who it should come from."""

    where: str
    metric: str
    labels: frozenset[str]
    targets: tuple[str, ...]  # services (or "triton") its job matcher selects


def _targets(matchers: list[Any]) -> tuple[str, ...]:
    everyone = (*SERVICES, "triton")
    for m in matchers:
        if m.name != "job":
            continue
        jobs = {f"{FULLNAME}-{s}": s for s in everyone}
        if str(m.op) == "MatchOp.Equal":
            return tuple(s for j, s in jobs.items() if j == m.value)
        if str(m.op) == "MatchOp.Re":
            return tuple(s for j, s in jobs.items() if re.fullmatch(m.value, j))
    return ()  # no job matcher: any target will do


def uses(where: str, expr: str) -> list[Use]:
    """Every selector in a PromQL expression with the labels the query needs on it."""
    found: list[Use] = []

    def walk(node: Any, need: frozenset[str]) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = list(node.matchers.matchers)
            labels = need | {m.name for m in matchers if m.name != "__name__"}
            found.append(Use(where, node.name, frozenset(labels), _targets(matchers)))
        elif isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector, need)
        elif isinstance(node, promql_parser.AggregateExpr):
            modifier = node.modifier
            if modifier is not None and str(modifier.type) == "AggModifierType.By":
                walk(node.expr, frozenset(modifier.labels))
            else:
                walk(node.expr, need if modifier is not None else frozenset())
        elif isinstance(node, promql_parser.Call):
            args = [a for a in node.args if not isinstance(a, promql_parser.StringLiteral)]
            if node.func.name == "label_replace":  # makes args[1] out of args[3]
                dst, src = node.args[1].val, node.args[3].val
                walk(node.args[0], (need - {dst}) | {src})
            elif node.func.name == "histogram_quantile":
                walk(node.args[1], need | {"le"})
            else:
                for arg in args:
                    walk(arg, need)
        elif isinstance(node, promql_parser.BinaryExpr):
            matching = node.modifier.matching if node.modifier is not None else None
            on = frozenset(matching.labels) if matching is not None else frozenset()
            if matching is not None and str(matching.type) != "LabelModifierType.Include":
                on = frozenset()  # ignoring(...): nothing required
            walk(node.lhs, need | on)
            walk(node.rhs, need | on)
        elif isinstance(node, (promql_parser.UnaryExpr, promql_parser.ParenExpr)):
            walk(node.expr, need)
        elif hasattr(node, "expr"):  # subqueries and the like
            walk(node.expr, need)

    walk(promql_parser.parse(expr), frozenset())
    return found


def chart_uses() -> list[Use]:
    """Every selector of every alert and dashboard panel of the rendered chart."""
    docs = render_chart(None, RELEASE, NAMESPACE)
    out: list[Use] = []
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            out += uses(f"alert {r['alert']}", r["expr"])
    (board,) = [d for d in docs if d["kind"] == "ConfigMap" and "veritas.json" in d["data"]]
    for panel in json.loads(board["data"]["veritas.json"])["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$namespace", NAMESPACE).replace("$release", RELEASE)
            out += uses(f"panel {panel['title']!r}", expr)
    return out


@dataclass
class Exported:
    """What one target's /metrics says: series names with the label names seen on them,
    and families announced by HELP/TYPE."""

    series: dict[str, set[str]]
    families: set[str]


def scrape(port: int) -> Exported:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    # prometheus_client's parser names every counter sample <family>_total, as OpenMetrics
    # does; Prometheus keeps the name on the line (Triton's counters have no _total).
    raw = {m.group(0) for m in re.finditer(r"^[a-zA-Z_:][a-zA-Z0-9_:]*", text, re.MULTILINE)}
    exported = Exported({}, set())
    for family in text_string_to_metric_families(text):
        exported.families.add(family.name)
        for sample in family.samples:
            name = sample.name
            if name not in raw and name.removesuffix("_total") in raw:
                name = name.removesuffix("_total")
            exported.series.setdefault(name, set()).update(sample.labels)
    return exported


def family_of(series: str) -> str:
    for suffix in ("_total", "_bucket", "_sum", "_count"):
        if series.endswith(suffix):
            return series.removesuffix(suffix)
    return series


def problems(use: Use, exported: dict[str, Exported]) -> list[str]:
    """Why `use` is not met by the scraped targets (empty when it is)."""
    targets = use.targets or tuple(exported)
    need = use.labels - TARGET_LABELS
    out = []
    for target in targets:
        seen = exported[target]
        if use.metric in seen.series:
            missing = need - seen.series[use.metric]
        elif family_of(use.metric) in LIVE and family_of(use.metric) in seen.families:
            missing = need - set(LIVE[family_of(use.metric)]._labelnames) - {"le"}
        else:
            missing = None
        if missing is None:
            if use.targets:  # the query selects this target: it must export the metric
                out.append(f"{use.where}: {use.metric} not exported by {target}")
            continue
        if missing:
            out.append(f"{use.where}: {use.metric} on {target} lacks labels {sorted(missing)}")
    if not use.targets and not any(
        use.metric in exported[t].series
        or (family_of(use.metric) in LIVE and family_of(use.metric) in exported[t].families)
        for t in targets
    ):
        out.append(f"{use.where}: {use.metric} exported by no target")
    return out


def test_the_walker_finds_names_and_labels() -> None:
    (latency,) = uses(
        "x",
        "histogram_quantile(0.95, sum by (le, service) "
        '(rate(m_bucket{job=~"prod-veritas-(text|audio)",method!~"Check"}[5m])))',
    )
    assert latency.metric == "m_bucket"
    assert latency.labels == {"le", "service", "job", "method"}
    assert latency.targets == ("audio", "text")
    down = uses(
        "y",
        'max by (service) (label_replace(1 - max by (job) (up{job="prod-veritas-vision"}), '
        '"service", "$1", "job", "(.+)"))',
    )
    assert down == [Use("y", "up", frozenset({"job"}), ("vision",))]
    a, b = uses("z", "max by (namespace, pod) (a) / on (namespace, pod) sum by (pod) (b{x='1'})")
    assert a.labels == {"namespace", "pod"} and b.labels == {"pod", "x"}


def test_a_metric_nobody_exports_is_caught() -> None:
    exported = {
        "text": Exported({"veritas_requests_total": {"service", "method", "status"}}, set())
    }
    wrong = uses(
        "alert X", 'sum by (service) (rate(veritas_requests_totl{job="prod-veritas-text"}[5m]))'
    )
    assert problems(wrong[0], exported) == ["alert X: veritas_requests_totl not exported by text"]
    label = uses(
        "alert Y", 'sum by (tenant) (rate(veritas_requests_total{job="prod-veritas-text"}[5m]))'
    )
    assert problems(label[0], exported) == [
        "alert Y: veritas_requests_total on text lacks labels ['tenant']"
    ]


@pytest.fixture(scope="module")
def exported(mesh: Mesh) -> dict[str, Exported]:
    """Every target's /metrics after one analysis of the bundled sample."""
    with Client(mesh.address("gateway"), timeout_s=120) as client:
        client.analyze(sample_request())  # type: ignore[arg-type]
    out = {name: scrape(mesh.ports.metrics[name]) for name in SERVICES}
    out["triton"] = scrape(mesh.ports.triton_metrics)
    return out


def test_every_metric_an_alert_or_panel_names_is_exported(exported: dict[str, Exported]) -> None:
    found = chart_uses()
    checked = [u for u in found if u.metric not in NOT_EXPORTED_HERE]
    assert {u.where for u in found if u.where.startswith("alert")} >= {
        "alert VeritasLiveStreamsFallingBehind",
        "alert VeritasTritonQueueTimeHigh",
        "alert VeritasModalityFailing",
    }
    assert len(checked) >= 20  # the check has something to check
    failures = [p for u in checked for p in problems(u, exported)]
    assert not failures, "\n".join(failures)
    # Triton's own families are Triton's (not a Veritas service's) and carry `model`.
    assert "model" in exported["triton"].series["nv_inference_queue_duration_us"]


def test_the_live_metrics_are_exported_by_every_modality_service(
    exported: dict[str, Exported],
) -> None:
    """veritas_live_* (announced even before a live stream, HELP and TYPE only)."""
    for service in ("vision", "audio", "text", "physiology"):
        assert set(LIVE) <= exported[service].families, service
