"""`veritas cluster status`: one Helm release's deployments as Kubernetes sees them.

For each Deployment of the release (gateway, fusion, the modality services, Triton): ready
and desired replicas, the autoscaler's range and targets (chart-made HPAs and the ones KEDA
makes alike, matched by their scaleTargetRef), and the restarts of its current pods with the
last termination's reason, so an OOM-killed or crash-looping service stands out.

Reads through the official kubernetes client (kubeconfig, or the in-cluster service account)
and only lists: the caller needs get/list on deployments, horizontalpodautoscalers and pods.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CHART_NAME = "veritas"


@dataclass(frozen=True)
class ClusterApi:
    """The three API groups the status reads (kubernetes.client *Api objects)."""

    apps: Any  # AppsV1Api
    autoscaling: Any  # AutoscalingV2Api
    core: Any  # CoreV1Api

    @classmethod
    def from_client(cls, api_client: Any) -> ClusterApi:
        from kubernetes import client

        return cls(
            client.AppsV1Api(api_client),
            client.AutoscalingV2Api(api_client),
            client.CoreV1Api(api_client),
        )

    @classmethod
    def from_config(cls, context: str | None = None) -> ClusterApi:
        """In a pod: its service account; elsewhere: the kubeconfig (optionally `context`)."""
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config(context=context)
        return cls.from_client(client.ApiClient())


@dataclass(frozen=True)
class Autoscaling:
    """An HPA's view of one Deployment."""

    name: str
    min_replicas: int
    max_replicas: int
    current_replicas: int
    desired_replicas: int
    targets: tuple[str, ...]  # "cpu 45%/70%", "veritas_requests_in_flight 3/16", ...


@dataclass(frozen=True)
class DeploymentStatus:
    """One row of `veritas cluster status`."""

    name: str
    component: str
    desired: int
    ready: int
    updated: int
    available: int
    autoscaling: Autoscaling | None
    restarts: int
    last_restart: datetime | None
    last_restart_reason: str

    @property
    def healthy(self) -> bool:
        return self.ready >= self.desired and self.available >= self.desired


def release_selector(release: str) -> str:
    """The label selector of every object the chart made for `release`."""
    return f"app.kubernetes.io/instance={release},app.kubernetes.io/name={CHART_NAME}"


def _matches(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    if not selector:
        return False
    return all((labels or {}).get(k) == v for k, v in selector.items())


def _quantity(value: Any) -> str:
    return "<unknown>" if value is None else str(value)


_SOURCE_ATTR = {
    "Resource": "resource",
    "ContainerResource": "container_resource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


def _metric_key(metric: Any) -> tuple[str, str]:
    """(type, metric name): identifies an HPA metric in its spec and its status alike."""
    source = getattr(metric, _SOURCE_ATTR[metric.type])
    if metric.type in ("Resource", "ContainerResource"):
        return metric.type, source.name
    return metric.type, source.metric.name


def _metric_target(spec: Any, status: Any | None) -> str:
    """One HPA metric as `kubectl get hpa` shows it: "<name> <current>/<target>"."""
    _, name = _metric_key(spec)
    target = getattr(spec, _SOURCE_ATTR[spec.type]).target
    now = getattr(status, _SOURCE_ATTR[spec.type]).current if status is not None else None
    if target.type == "Utilization":
        value = now.average_utilization if now is not None else None
        shown = "<unknown>" if value is None else f"{value}%"
        return f"{name} {shown}/{target.average_utilization}%"
    if target.type == "Value":
        return f"{name} {_quantity(now.value if now else None)}/{target.value}"
    return f"{name} {_quantity(now.average_value if now else None)}/{target.average_value}"


def autoscaling_of(hpa: Any) -> Autoscaling:
    status = hpa.status
    current = {_metric_key(m): m for m in (status.current_metrics or [])} if status else {}
    targets = tuple(
        _metric_target(m, current.get(_metric_key(m))) for m in (hpa.spec.metrics or [])
    )
    return Autoscaling(
        name=hpa.metadata.name,
        min_replicas=hpa.spec.min_replicas or 1,
        max_replicas=hpa.spec.max_replicas,
        current_replicas=(status.current_replicas or 0) if status else 0,
        desired_replicas=(status.desired_replicas or 0) if status else 0,
        targets=targets,
    )


def _restarts(pods: list[Any]) -> tuple[int, datetime | None, str]:
    """Total restarts of the pods' containers, and when and why the latest one stopped."""
    total, last, reason = 0, None, ""
    for pod in pods:
        statuses = [
            *(pod.status.init_container_statuses or []),
            *(pod.status.container_statuses or []),
        ]
        for cs in statuses:
            total += cs.restart_count or 0
            terminated = cs.last_state.terminated if cs.last_state else None
            if (
                terminated
                and terminated.finished_at
                and (last is None or terminated.finished_at > last)
            ):
                last, reason = terminated.finished_at, terminated.reason or ""
    return total, last, reason


def cluster_status(
    release: str, namespace: str, api: ClusterApi | None = None
) -> list[DeploymentStatus]:
    """The release's deployments, sorted by name. Raises kubernetes ApiException on API errors."""
    api = api or ClusterApi.from_config()
    selector = release_selector(release)
    deployments = api.apps.list_namespaced_deployment(namespace, label_selector=selector).items
    # KEDA's HPAs carry KEDA's labels, not the chart's: match every HPA by its target instead.
    hpas = api.autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace).items
    pods = api.core.list_namespaced_pod(namespace, label_selector=selector).items

    rows = []
    for d in sorted(deployments, key=lambda d: d.metadata.name):
        name = d.metadata.name
        hpa = next(
            (
                h
                for h in hpas
                if h.spec.scale_target_ref.kind == "Deployment"
                and h.spec.scale_target_ref.name == name
            ),
            None,
        )
        own_pods = [p for p in pods if _matches(d.spec.selector.match_labels, p.metadata.labels)]
        restarts, last, reason = _restarts(own_pods)
        st = d.status
        rows.append(
            DeploymentStatus(
                name=name,
                component=(d.metadata.labels or {}).get("app.kubernetes.io/component", ""),
                desired=d.spec.replicas if d.spec.replicas is not None else 1,
                ready=(st.ready_replicas or 0) if st else 0,
                updated=(st.updated_replicas or 0) if st else 0,
                available=(st.available_replicas or 0) if st else 0,
                autoscaling=autoscaling_of(hpa) if hpa else None,
                restarts=restarts,
                last_restart=last,
                last_restart_reason=reason,
            )
        )
    return rows


def _ago(when: datetime, now: datetime) -> str:
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_status(rows: list[DeploymentStatus], now: datetime | None = None) -> str:
    """The rows as a table, one line per deployment."""
    now = now or datetime.now(UTC)
    header = ("DEPLOYMENT", "READY", "UP-TO-DATE", "AVAILABLE", "AUTOSCALING", "RESTARTS")
    table = [header]
    for r in rows:
        if r.autoscaling:
            a = r.autoscaling
            scaling = f"{a.min_replicas}-{a.max_replicas} now {a.current_replicas}"
            if a.targets:
                scaling += "; " + ", ".join(a.targets)
        else:
            scaling = "-"
        restarts = str(r.restarts)
        if r.last_restart is not None:
            why = f"{r.last_restart_reason} " if r.last_restart_reason else ""
            restarts += f" ({why}{_ago(r.last_restart, now)} ago)"
        table.append(
            (
                r.name,
                f"{r.ready}/{r.desired}",
                str(r.updated),
                str(r.available),
                scaling,
                restarts,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table
    )


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`veritas cluster status --release R --namespace N [--context C]`."""
    cluster = commands.add_parser("cluster", help="a Kubernetes release of Veritas")
    actions = cluster.add_subparsers(dest="cluster_command", required=True)
    status = actions.add_parser(
        "status", help="readiness, replicas, autoscaling and restarts of each deployment"
    )
    status.add_argument("--release", default="veritas", help="Helm release name")
    status.add_argument("--namespace", "-n", default="default", help="its namespace")
    status.add_argument("--context", help="kubeconfig context (default: the current one)")
    status.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace, api: ClusterApi | None = None) -> int:
    """Print the table; exit 0 when every deployment is ready, 1 when not, 2 on API errors."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import ConfigException

    try:
        rows = cluster_status(
            args.release, args.namespace, api or ClusterApi.from_config(args.context)
        )
    except ConfigException as e:
        print(f"veritas: no Kubernetes configuration: {e}", file=sys.stderr)
        return 2
    except ApiException as e:
        print(f"veritas: Kubernetes API: {e.status} {e.reason}", file=sys.stderr)
        return 2
    if not rows:
        print(
            f"veritas: no deployments of release {args.release!r} in namespace {args.namespace!r}",
            file=sys.stderr,
        )
        return 1
    print(format_status(rows))
    return 0 if all(r.healthy for r in rows) else 1
