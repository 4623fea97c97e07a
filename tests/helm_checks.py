"""What a rendered Veritas release must satisfy, as pure functions over its manifests.

Each check returns a list of problems (empty: fine), so tests/test_helm.py can assert both
that the chart passes and that a broken manifest is caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]

COMPONENT = "app.kubernetes.io/component"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


@dataclass(frozen=True)
class PodTemplate:
    """A pod the release runs: a Deployment's template or a bare Pod (the helm test)."""

    owner: str  # "Deployment/name" or "Pod/name"
    labels: dict[str, str]
    spec: dict[str, Any]

    @property
    def component(self) -> str:
        return self.labels.get(COMPONENT, "")

    def containers(self, init: bool = False) -> list[dict[str, Any]]:
        found = list(self.spec.get("containers", []))
        return found + list(self.spec.get("initContainers", [])) if init else found

    def port_names(self) -> dict[str, int]:
        return {
            p["name"]: p["containerPort"]
            for c in self.containers()
            for p in c.get("ports", [])
            if "name" in p
        }

    def port_numbers(self) -> set[int]:
        return {p["containerPort"] for c in self.containers() for p in c.get("ports", [])}


def of_kind(docs: Iterable[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d.get("kind") == kind]


def by_name(docs: Iterable[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in of_kind(docs, kind)}


def pods(docs: Iterable[Doc]) -> list[PodTemplate]:
    docs = list(docs)
    found = [
        PodTemplate(
            f"Deployment/{d['metadata']['name']}",
            d["spec"]["template"]["metadata"]["labels"],
            d["spec"]["template"]["spec"],
        )
        for d in of_kind(docs, "Deployment")
    ]
    found += [
        PodTemplate(f"Pod/{d['metadata']['name']}", d["metadata"]["labels"], d["spec"])
        for d in of_kind(docs, "Pod")
    ]
    return found


def matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels only: the chart uses nothing else) against labels."""
    if selector is None:
        return False
    if selector.get("matchExpressions"):
        raise NotImplementedError("matchExpressions: extend helm_checks.matches")
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


# --------------------------------------------------------------------------- deployments


def deployment_problems(docs: Iterable[Doc]) -> list[str]:
    """Every Deployment container has the three probes and CPU/memory requests and limits."""
    problems = []
    for pod in pods(docs):
        if not pod.owner.startswith("Deployment/"):
            continue
        for c in pod.containers():
            where = f"{pod.owner} container {c['name']}"
            problems += [f"{where}: no {p}" for p in PROBES if p not in c]
            resources = c.get("resources", {})
            for kind in ("requests", "limits"):
                for res in ("cpu", "memory"):
                    if res not in resources.get(kind, {}):
                        problems.append(f"{where}: no {res} {kind[:-1]}")
    return problems


def security_problems(docs: Iterable[Doc]) -> list[str]:
    """Every container of every pod: non-root, no privilege escalation, no capabilities."""
    problems = []
    for pod in pods(docs):
        pod_ctx = pod.spec.get("securityContext", {})
        for c in pod.containers(init=True):
            ctx = {**pod_ctx, **c.get("securityContext", {})}
            where = f"{pod.owner} container {c['name']}"
            if ctx.get("runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            if ctx.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities not dropped")
    return problems


def image_problems(docs: Iterable[Doc]) -> list[str]:
    """Every image is pinned: an explicit tag other than latest, or a digest."""
    problems = []
    for pod in pods(docs):
        for c in pod.containers(init=True):
            image = c["image"]
            name = image.rsplit("/", 1)[-1]
            if "@sha256:" in image:
                continue
            if ":" not in name:
                problems.append(f"{pod.owner}: image {image} has no tag")
            elif name.rsplit(":", 1)[1] == "latest":
                problems.append(f"{pod.owner}: image {image} uses :latest")
    return problems


# --------------------------------------------------------------------------- autoscaling


def autoscaler_problems(docs: Iterable[Doc]) -> list[str]:
    """Each HPA/ScaledObject targets a Deployment of the release, one autoscaler per
    Deployment, and an autoscaled Deployment leaves `replicas` to its autoscaler."""
    docs = list(docs)
    deployments = by_name(docs, "Deployment")
    problems, targets = [], []
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for a in of_kind(docs, kind):
            ref = a["spec"]["scaleTargetRef"]
            where = f"{kind}/{a['metadata']['name']}"
            if ref.get("kind", "Deployment") != "Deployment" or ref["name"] not in deployments:
                problems.append(f"{where}: target {ref.get('kind')}/{ref['name']} does not exist")
                continue
            if ref.get("apiVersion", "apps/v1") != "apps/v1":
                problems.append(f"{where}: target apiVersion {ref['apiVersion']}")
            targets.append(ref["name"])
            if "replicas" in deployments[ref["name"]]["spec"]:
                problems.append(f"{where}: Deployment {ref['name']} also sets replicas")
    problems += [
        f"Deployment {t}: more than one autoscaler" for t in set(targets) if targets.count(t) > 1
    ]
    return problems


def pdb_problems(docs: Iterable[Doc]) -> list[str]:
    """Every Deployment's pods are covered by exactly one PodDisruptionBudget."""
    docs = list(docs)
    problems = []
    budgets = of_kind(docs, "PodDisruptionBudget")
    for pod in pods(docs):
        if not pod.owner.startswith("Deployment/"):
            continue
        n = sum(matches(b["spec"]["selector"], pod.labels) for b in budgets)
        if n != 1:
            problems.append(f"{pod.owner}: {n} PodDisruptionBudgets")
    return problems


def most_replicas(docs: Iterable[Doc], deployment: str) -> int:
    """The most pods a Deployment may run: its autoscaler's maximum, else its replicas."""
    docs = list(docs)
    most = int(by_name(docs, "Deployment")[deployment]["spec"].get("replicas", 1))
    for kind, key in (
        ("HorizontalPodAutoscaler", "maxReplicas"),
        ("ScaledObject", "maxReplicaCount"),
    ):
        for a in of_kind(docs, kind):
            if a["spec"]["scaleTargetRef"]["name"] == deployment:
                most = max(most, int(a["spec"][key]))
    return most


def shared_limit_problems(docs: Iterable[Doc]) -> list[str]:
    """A gateway that may run more than one replica shares its rate limits through Redis:
    VERITAS_REDIS_URL from a Secret (never a plain value: it holds a password), and when the
    Secret is the release's own, its URL names a release Service and that Service's port."""
    import base64
    from urllib.parse import urlsplit

    docs = list(docs)
    problems = []
    secrets, services = by_name(docs, "Secret"), by_name(docs, "Service")
    for pod in pods(docs):
        if pod.component != "gateway" or not pod.owner.startswith("Deployment/"):
            continue
        name = pod.owner.split("/", 1)[1]
        most = most_replicas(docs, name)
        env = {e["name"]: e for c in pod.containers() for e in c.get("env", [])}
        url = env.get("VERITAS_REDIS_URL")
        if url is None:
            if most > 1:
                problems.append(
                    f"{pod.owner}: up to {most} replicas and no VERITAS_REDIS_URL: each "
                    f"replica would count every tenant's rate limit alone"
                )
            continue
        ref = url.get("valueFrom", {}).get("secretKeyRef")
        if ref is None:
            problems.append(f"{pod.owner}: VERITAS_REDIS_URL is not read from a Secret")
            continue
        secret = secrets.get(ref["name"])
        if secret is None:
            continue  # the operator's own Secret
        value = base64.b64decode(secret.get("data", {}).get(ref["key"], "")).decode()
        parts = urlsplit(value)
        service = (parts.hostname or "").split(".")[0]
        ports = {p["port"] for p in services.get(service, {}).get("spec", {}).get("ports", [])}
        if parts.scheme != "redis" or parts.port not in ports:
            problems.append(
                f"{pod.owner}: VERITAS_REDIS_URL from Secret/{ref['name']} names no release "
                f"Service port ({service}:{parts.port})"
            )
    return problems


# --------------------------------------------------------------------------- ports


def _probe_ports(container: dict[str, Any]) -> Iterator[tuple[str, int | str]]:
    for probe in PROBES:
        spec = container.get(probe, {})
        for handler in ("grpc", "httpGet", "tcpSocket"):
            if handler in spec:
                yield f"{probe}.{handler}", spec[handler]["port"]


def port_problems(docs: Iterable[Doc]) -> list[str]:
    """Services, probes, containers, Ingress, ServiceMonitors and env agree on ports."""
    docs = list(docs)
    problems = []
    all_pods = pods(docs)
    services = by_name(docs, "Service")
    for pod in all_pods:
        for c in pod.containers():
            names = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
            numbers = {p["containerPort"] for p in c.get("ports", [])}
            for where, port in _probe_ports(c):
                ok = port in names if isinstance(port, str) else port in numbers
                if not ok:
                    problems.append(f"{pod.owner} {where}: port {port} is not a container port")
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            for var, port_name in (("VERITAS_PORT", "grpc"), ("VERITAS_METRICS_PORT", "metrics")):
                if var in env and str(names.get(port_name)) != env[var]:
                    problems.append(
                        f"{pod.owner}: {var}={env[var]} but port {port_name} is "
                        f"{names.get(port_name)}"
                    )

    for name, svc in services.items():
        selected = [
            p for p in all_pods if matches({"matchLabels": svc["spec"]["selector"]}, p.labels)
        ]
        if not selected:
            problems.append(f"Service/{name}: selects no pod")
        for sp in svc["spec"]["ports"]:
            target = sp.get("targetPort", sp["port"])
            for pod in selected:
                ok = (
                    target in pod.port_names()
                    if isinstance(target, str)
                    else (target in pod.port_numbers())
                )
                if not ok:
                    problems.append(
                        f"Service/{name} port {sp['name']}: target {target} not on {pod.owner}"
                    )

    for ing in of_kind(docs, "Ingress"):
        for rule in ing["spec"].get("rules", []):
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = services.get(backend["name"])
                if svc is None:
                    problems.append(
                        f"Ingress/{ing['metadata']['name']}: no Service {backend['name']}"
                    )
                    continue
                wanted = backend["port"]
                ports = svc["spec"]["ports"]
                ok = any(
                    p["name"] == wanted.get("name") or p["port"] == wanted.get("number")
                    for p in ports
                )
                if not ok:
                    problems.append(f"Ingress/{ing['metadata']['name']}: no port {wanted}")

    for sm in of_kind(docs, "ServiceMonitor"):
        selected = [
            s for s in services.values() if matches(sm["spec"]["selector"], s["metadata"]["labels"])
        ]
        if not selected:
            problems.append(f"ServiceMonitor/{sm['metadata']['name']}: selects no Service")
        for ep in sm["spec"]["endpoints"]:
            for s in selected:
                if ep["port"] not in {p["name"] for p in s["spec"]["ports"]}:
                    problems.append(
                        f"ServiceMonitor/{sm['metadata']['name']}: Service "
                        f"{s['metadata']['name']} has no port {ep['port']}"
                    )
    return problems


_ADDRESS = re.compile(r"^(?:dns:///)?([a-z0-9.-]+):(\d+)$")


def address_problems(docs: Iterable[Doc], namespace: str) -> list[str]:
    """Each VERITAS_*_ADDR and VERITAS_TRITON_URL names a release Service and its gRPC port."""
    docs = list(docs)
    problems = []
    services = by_name(docs, "Service")
    for cm in of_kind(docs, "ConfigMap"):
        for key, value in (cm.get("data") or {}).items():
            if not (key.endswith("_ADDR") or key == "VERITAS_TRITON_URL"):
                continue
            m = _ADDRESS.match(value)
            if not m:
                problems.append(f"{key}={value}: not host:port")
                continue
            host, port = m.group(1), int(m.group(2))
            service, _, rest = host.partition(".")
            if rest and not rest.startswith(f"{namespace}.svc"):
                problems.append(f"{key}={value}: not in namespace {namespace}")
            svc = services.get(service)
            if svc is None:
                problems.append(f"{key}={value}: no Service {service}")
            elif port not in {p["port"] for p in svc["spec"]["ports"] if p["name"] == "grpc"}:
                problems.append(f"{key}={value}: Service {service} has no grpc port {port}")
    return problems


# --------------------------------------------------------------------------- network policy


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    port: str


def _selected(policy: Doc, pod: PodTemplate) -> bool:
    return matches(policy["spec"]["podSelector"], pod.labels)


def _peer_allows(peers: list[Doc] | None, pod: PodTemplate) -> bool:
    """Does a from/to list admit a pod of the same namespace?"""
    if peers is None:
        return True  # no from/to: everyone
    for peer in peers:
        if "namespaceSelector" in peer or "ipBlock" in peer:
            continue  # other namespaces / addresses, not this release's pods
        if "podSelector" in peer and matches(peer["podSelector"], pod.labels):
            return True
    return False


def _port_allows(ports: list[Doc] | None, pod: PodTemplate, port_name: str) -> bool:
    if not ports:
        return True
    number = pod.port_names()[port_name]
    return any(p.get("port") in (port_name, number) for p in ports)


def policy_coverage_problems(docs: Iterable[Doc]) -> list[str]:
    """Every pod is selected by a policy that restricts both ingress and egress."""
    docs = list(docs)
    policies = of_kind(docs, "NetworkPolicy")
    problems = []
    for pod in pods(docs):
        types = {t for p in policies if _selected(p, pod) for t in p["spec"].get("policyTypes", [])}
        for t in ("Ingress", "Egress"):
            if t not in types:
                problems.append(f"{pod.owner}: no NetworkPolicy restricts {t}")
    return problems


def allowed_edges(docs: Iterable[Doc]) -> set[Edge]:
    """Pod-to-pod connections inside the release that the NetworkPolicies let through."""
    docs = list(docs)
    policies = of_kind(docs, "NetworkPolicy")
    all_pods = pods(docs)
    edges = set()
    for src in all_pods:
        egress = [p for p in policies if _selected(p, src) and "Egress" in p["spec"]["policyTypes"]]
        for dst in all_pods:
            ingress = [
                p for p in policies if _selected(p, dst) and "Ingress" in p["spec"]["policyTypes"]
            ]
            for port_name in dst.port_names():
                let_out = not egress or any(
                    _peer_allows(rule.get("to"), dst)
                    and _port_allows(rule.get("ports"), dst, port_name)
                    for p in egress
                    for rule in p["spec"].get("egress") or []
                )
                let_in = not ingress or any(
                    _peer_allows(rule.get("from"), src)
                    and _port_allows(rule.get("ports"), dst, port_name)
                    for p in ingress
                    for rule in p["spec"].get("ingress") or []
                )
                if let_out and let_in:
                    edges.add(Edge(src.component, dst.component, port_name))
    return edges


def external_ingress(docs: Iterable[Doc]) -> set[tuple[str, str]]:
    """(component, port) that some peer outside the release (namespace or ipBlock) may reach."""
    docs = list(docs)
    reachable = set()
    policies = of_kind(docs, "NetworkPolicy")
    for pod in pods(docs):
        for p in policies:
            if not _selected(p, pod):
                continue
            for rule in p["spec"].get("ingress") or []:
                peers = rule.get("from")
                outside = peers is None or any(
                    "namespaceSelector" in peer or "ipBlock" in peer for peer in peers
                )
                if not outside:
                    continue
                for name in pod.port_names():
                    if _port_allows(rule.get("ports"), pod, name):
                        reachable.add((pod.component, name))
    return reachable


# --------------------------------------------------------------------------- PromQL


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (raises ValueError when it does not parse)."""
    import promql_parser

    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            return
        for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, (str, int, float)):
                walk(child)
        for arg in getattr(node, "args", None) or []:
            walk(arg)

    walk(promql_parser.parse(expr))
    return names
