"""The Helm chart helm/veritas, proven without a cluster.

Renders the chart with its default, dev and GPU values through the Helm v4 SDK
(helm-python-sdk), lints it, checks values against values.schema.json, validates every
manifest with kubernetes-validate --strict for Kubernetes 1.29 and 1.32, and asserts what
an operator relies on (tests/helm_checks.py). Each check is also shown to catch a broken
manifest, so none can pass vacuously. The helm test's script runs against the real mesh.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import urllib.request
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests import helm_checks as hc
from veritas.config import DEFAULT_METRICS_PORTS, DEFAULT_PORTS
from veritas.modalities import NAMES as MODALITY_SERVICES

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "veritas"
VALUES = {
    "default": None,
    "dev": CHART / "values-dev.yaml",
    "gpu": CHART / "values-gpu.yaml",
}
KUBE_VERSIONS = ("1.29.0", "1.32.0")
RELEASE, NAMESPACE = "prod", "veritas"
SERVICES = ("gateway", "fusion", *MODALITY_SERVICES)
REDIS = f"{RELEASE}-veritas-redis"
# The values files that deploy the bundled Redis (dev runs one gateway; gpu names its own).
BUNDLED_REDIS = {"default"}

# Custom resources: kubernetes-validate bundles only the built-in API schemas, and no package
# that installs cleanly here ships the CRDs' own schemas (cloudcoil's generated models do,
# but install a pytest plugin that breaks every test run without filelock). These kinds are
# skipped BY NAME for schema validation; the tests below check the fields the chart relies on
# (ports, targets, PromQL).
CRD_KINDS_WITHOUT_SCHEMA = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("keda.sh/v1alpha1", "ScaledObject"),
}

# Metrics the chart's alerts, dashboard and KEDA queries may use besides Veritas's own:
# Triton's (server docs, "Metrics"), kube-state-metrics' and cAdvisor's.
TRITON_METRICS = {
    "nv_inference_request_success",
    "nv_inference_queue_duration_us",
    "nv_inference_count",
    "nv_inference_exec_count",
    "nv_gpu_memory_used_bytes",
    "nv_gpu_memory_total_bytes",
}
CLUSTER_METRICS = {
    "kube_pod_container_resource_limits",
    "kube_deployment_status_replicas_available",
    "kube_deployment_labels",
    "container_memory_working_set_bytes",
    "up",  # Prometheus's own, one per scrape target (the down alerts)
}
LIVE_METRICS = {  # veritas/live.py, exported by the modality services
    "veritas_live_windows_total",
    "veritas_live_streams_open",
    "veritas_live_input_skipped_total",
    "veritas_live_update_latency_seconds_bucket",
}


def veritas_metric_names() -> set[str]:
    """The series names veritas/metrics.py exposes (what /metrics shows)."""
    from veritas import metrics

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names = set()
    for m in (metrics.REQUESTS, metrics.LATENCY, metrics.IN_FLIGHT, metrics.MEMORY):
        family = m.describe()[0]
        names |= {family.name + s for s in suffixes[family.type]}
    return names


def load_values(name: str) -> dict[str, Any] | None:
    path = VALUES[name]
    return yaml.safe_load(path.read_text()) if path else None


@cache
def _render_cached(values_json: str) -> tuple[hc.Doc, ...]:
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values=json.loads(values_json), name=RELEASE, namespace=NAMESPACE)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(
        doc
        for path, text in sorted(out.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.load_all(text, Loader=loader)
        if doc
    )


def render(values: dict[str, Any] | None) -> list[hc.Doc]:
    """The release's manifests, parsed (a fresh copy each call: tests may mutate it)."""
    return copy.deepcopy(list(_render_cached(json.dumps(values))))


@pytest.fixture(params=list(VALUES), scope="module")
def values_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def docs(values_name: str) -> list[hc.Doc]:
    return render(load_values(values_name))


# --------------------------------------------------------------------------- chart level


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_lint_strict(values_name: str, kube_version: str) -> None:
    report = helm.lint(
        CHART,
        load_values(values_name),
        strict=True,
        kube_version=f"v{kube_version}",
        namespace=NAMESPACE,
    )
    serious = [m for m in report["messages"] if m["severity"] >= 2]
    assert serious == [] and report["errors"] == []


def test_values_match_the_schema(values_name: str) -> None:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(chart.merge_values(load_values(values_name)))


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"gateway": {"prot": 50051}}, "/gateway"),  # a typo: unknown keys are refused
        ({"vision": {"resources": {"requests": {"cpu": "lots"}}}}, "/vision/resources"),
        ({"audio": {"resources": {"limits": None}}}, "/audio/resources"),  # null deletes
        ({"triton": {"image": {"tag": "latest"}}}, "/triton/image/tag"),
        ({"autoscaling": {"mode": "magic"}}, "/autoscaling/mode"),
        ({"text": {"port": 70000}}, "/text/port"),
    ],
)
def test_schema_refuses_bad_values(bad: dict[str, Any], where: str) -> None:
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmValuesError, match=where):
            chart.render(values=bad, name=RELEASE, namespace=NAMESPACE)


def test_schema_declares_every_value() -> None:
    """additionalProperties: false on every object the values files fill in."""
    schema = json.loads((CHART / "values.schema.json").read_text())

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
        return node

    def walk(value: Any, node: dict[str, Any], path: str) -> list[str]:
        node = resolve(node)
        if not isinstance(value, dict) or "properties" not in node:
            return []
        missing = []
        for key, child in value.items():
            if key not in node["properties"]:
                if node.get("additionalProperties") is False or "additionalProperties" not in node:
                    missing.append(f"{path}/{key}")
                continue
            missing += walk(child, node["properties"][key], f"{path}/{key}")
        return missing

    for name in VALUES:
        values = load_values(name) or yaml.safe_load((CHART / "values.yaml").read_text())
        assert walk(values, schema, "") == [], name


def test_latest_tag_fails_the_render() -> None:
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmError, match="/image/tag"):
            chart.render(values={"image": {"tag": "latest"}}, name=RELEASE, namespace=NAMESPACE)


# --------------------------------------------------------------------------- manifests


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_manifests_validate_strictly(docs: list[hc.Doc], kube_version: str) -> None:
    skipped = set()
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        if key in CRD_KINDS_WITHOUT_SCHEMA:
            skipped.add(key)
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            where = "/".join(str(p) for p in e.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} at {where}: {e.message}")
    assert skipped <= CRD_KINDS_WITHOUT_SCHEMA


def test_strict_validation_catches_a_bad_manifest() -> None:
    deployment = copy.deepcopy(hc.of_kind(render(None), "Deployment")[0])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["grpc"]["port"] = "grpc"  # gRPC probes take numbers only
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.32.0", strict=True)
    container["readinessProbe"]["grpc"]["port"] = 50051
    container["livenessProbe"]["grcp"] = container["livenessProbe"].pop("grpc")  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.29.0", strict=True)


def test_all_components_rendered(docs: list[hc.Doc], values_name: str) -> None:
    deployments = hc.by_name(docs, "Deployment")
    redis = ("redis",) if values_name in BUNDLED_REDIS else ()
    components = (*SERVICES, "triton", *redis)
    assert sorted(deployments) == sorted(f"{RELEASE}-veritas-{c}" for c in components)
    for c in SERVICES:
        container = deployments[f"{RELEASE}-veritas-{c}"]["spec"]["template"]["spec"]["containers"][
            0
        ]
        module = c if c in ("gateway", "fusion") else f"services.{c}"
        assert container["command"] == ["python", "-m", module]
        assert (ROOT / module.replace(".", "/") / "__main__.py").is_file()


def test_deployments_have_probes_and_limits(docs: list[hc.Doc]) -> None:
    assert hc.deployment_problems(docs) == []
    for pod in hc.pods(docs):
        if pod.component in SERVICES:
            c = pod.containers()[0]
            assert all("grpc" in c[p] for p in hc.PROBES), "native gRPC health probes"


def test_missing_probe_or_limit_is_caught() -> None:
    docs = render(None)
    container = hc.of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    del container["startupProbe"]
    del container["resources"]["limits"]["memory"]
    problems = hc.deployment_problems(docs)
    assert len(problems) == 2
    assert "no startupProbe" in problems[0] and "no memory limit" in problems[1]


def test_containers_are_hardened(docs: list[hc.Doc]) -> None:
    assert hc.security_problems(docs) == []
    for pod in hc.pods(docs):
        if pod.component in SERVICES:
            assert pod.containers()[0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_images_are_pinned(docs: list[hc.Doc]) -> None:
    assert hc.image_problems(docs) == []
    broken = render(None)
    hc.of_kind(broken, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "veritas-gateway:latest"
    )
    assert len(hc.image_problems(broken)) == 1


def test_autoscalers_target_real_deployments(docs: list[hc.Doc], values_name: str) -> None:
    assert hc.autoscaler_problems(docs) == []
    autoscalers = hc.of_kind(docs, "HorizontalPodAutoscaler") + hc.of_kind(docs, "ScaledObject")
    expected = 0 if values_name == "dev" else len(SERVICES) + 1
    assert len(autoscalers) == expected
    broken = render(None)
    hc.of_kind(broken, "HorizontalPodAutoscaler")[0]["spec"]["scaleTargetRef"]["name"] = "gone"
    assert hc.autoscaler_problems(broken) == [
        "HorizontalPodAutoscaler/prod-veritas-gateway: target Deployment/gone does not exist"
    ]


def test_autoscaling_modes() -> None:
    cpu = hc.of_kind(render(None), "HorizontalPodAutoscaler")
    assert {m["type"] for h in cpu for m in h["spec"]["metrics"]} == {"Resource"}

    adapter = hc.of_kind(
        render({"autoscaling": {"mode": "prometheus-adapter"}}), "HorizontalPodAutoscaler"
    )
    custom = {
        h["metadata"]["name"]: m["pods"]["metric"]["name"]
        for h in adapter
        for m in h["spec"]["metrics"]
        if m["type"] == "Pods"
    }
    assert custom[f"{RELEASE}-veritas-triton"] == "triton_queue_duration_us"
    assert {custom[f"{RELEASE}-veritas-{s}"] for s in SERVICES} == {"veritas_requests_in_flight"}

    keda = render({"autoscaling": {"mode": "keda"}})
    assert hc.of_kind(keda, "HorizontalPodAutoscaler") == []  # KEDA makes its own
    scaled = hc.of_kind(keda, "ScaledObject")
    assert len(scaled) == len(SERVICES) + 1
    for so in scaled:
        prom = [t for t in so["spec"]["triggers"] if t["type"] == "prometheus"]
        assert len(prom) == 1
        names = hc.metric_names(prom[0]["metadata"]["query"])
        assert names <= veritas_metric_names() | TRITON_METRICS


def test_pod_disruption_budgets(docs: list[hc.Doc]) -> None:
    assert hc.pdb_problems(docs) == []


def test_ports_line_up(docs: list[hc.Doc]) -> None:
    assert hc.port_problems(docs) == []
    assert hc.address_problems(docs, NAMESPACE) == []
    services = hc.by_name(docs, "Service")
    for s in SERVICES:
        ports = {p["name"]: p for p in services[f"{RELEASE}-veritas-{s}"]["spec"]["ports"]}
        assert ports["grpc"]["port"] == DEFAULT_PORTS[s]
        assert ports["grpc"]["appProtocol"]
        assert ports["metrics"]["port"] == DEFAULT_METRICS_PORTS[s]
    assert "http" in {p["name"] for p in services[f"{RELEASE}-veritas-gateway"]["spec"]["ports"]}


def test_port_mismatch_is_caught() -> None:
    docs = render(None)
    svc = hc.by_name(docs, "Service")[f"{RELEASE}-veritas-fusion"]
    svc["spec"]["ports"][0]["targetPort"] = "grcp"
    deployment = hc.by_name(docs, "Deployment")[f"{RELEASE}-veritas-text"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["grpc"]["port"] = 50099
    config = hc.of_kind(docs, "ConfigMap")[0]
    config["data"]["VERITAS_VISION_ADDR"] = config["data"]["VERITAS_VISION_ADDR"].replace(
        "50053", "50054"
    )
    problems = hc.port_problems(docs) + hc.address_problems(docs, NAMESPACE)
    assert any("Service/prod-veritas-fusion port grpc: target grcp" in p for p in problems)
    assert any("readinessProbe.grpc: port 50099" in p for p in problems)
    assert any("VERITAS_VISION_ADDR" in p for p in problems)


def test_grpc_services_are_headless_for_client_round_robin(docs: list[hc.Doc]) -> None:
    services = hc.by_name(docs, "Service")
    for c in (*SERVICES, "triton"):
        headless = services[f"{RELEASE}-veritas-{c}"]["spec"].get("clusterIP") == "None"
        assert headless == (c != "gateway"), c
    config = hc.of_kind(docs, "ConfigMap")[0]["data"]
    for key in ("VERITAS_FUSION_ADDR", "VERITAS_TEXT_ADDR", "VERITAS_TRITON_URL"):
        assert config[key].startswith("dns:///"), key
    assert config["VERITAS_HOST"] == "0.0.0.0"


def documented_variables() -> set[str]:
    """Environment variables the code reads and docs/configuration.md lists."""
    from veritas import config

    return set(config.VARIABLES)


def test_chart_sets_only_variables_the_code_reads(docs: list[hc.Doc]) -> None:
    """A misspelt variable would be ignored silently by the services; catch it here."""
    config = hc.by_name(docs, "ConfigMap")[f"{RELEASE}-veritas-config"]["data"]
    set_by_chart = {k for k in config if k.startswith("VERITAS_")}
    for pod in hc.pods(docs):
        for c in pod.containers():
            set_by_chart |= {
                e["name"] for e in c.get("env", []) if e["name"].startswith("VERITAS_")
            }
    per_process = {"VERITAS_PORT", "VERITAS_METRICS_PORT", "VERITAS_API_KEY"}
    assert set_by_chart - documented_variables() - per_process == set()


# --------------------------------------------------------------------------- network


EXPECTED_EDGES = {
    hc.Edge("test", "gateway", "grpc"),
    hc.Edge("gateway", "fusion", "grpc"),
    hc.Edge("gateway", "triton", "grpc"),  # the result cache reads Triton's model index
    *(hc.Edge("fusion", m, "grpc") for m in MODALITY_SERVICES),
    *(hc.Edge(m, "triton", "grpc") for m in MODALITY_SERVICES),
}


def test_every_pod_is_under_a_network_policy(docs: list[hc.Doc]) -> None:
    assert hc.policy_coverage_problems(docs) == []


def test_network_allows_only_the_call_chain(docs: list[hc.Doc], values_name: str) -> None:
    """gateway -> fusion -> modality services -> Triton (and gateway -> its bundled Redis),
    nothing else inside the release; from outside only the gateway's API ports and
    everyone's metrics port (Prometheus)."""
    redis = {hc.Edge("gateway", "redis", "redis")} if values_name in BUNDLED_REDIS else set()
    assert hc.allowed_edges(docs) == EXPECTED_EDGES | redis
    outside = hc.external_ingress(docs)
    assert {port for _, port in outside if _ != "gateway"} == {"metrics"}
    assert {port for c, port in outside if c == "gateway"} == {"grpc", "http", "metrics"}


def test_network_checks_catch_an_open_door() -> None:
    docs = render(None)
    policies = hc.by_name(docs, "NetworkPolicy")
    policies[f"{RELEASE}-veritas-vision"]["spec"]["egress"].append({})  # vision: egress anywhere
    assert hc.Edge("vision", "gateway", "grpc") not in hc.allowed_edges(docs)  # gateway refuses
    policies[f"{RELEASE}-veritas-gateway"]["spec"]["ingress"].append({})  # gateway: open ingress
    assert hc.Edge("vision", "gateway", "grpc") in hc.allowed_edges(docs)

    uncovered = [d for d in render(None) if d["kind"] != "NetworkPolicy"]
    assert len(hc.policy_coverage_problems(uncovered)) == 2 * len(hc.pods(uncovered))


def test_egress_to_collector_only_when_configured() -> None:
    def collector_rules(docs: list[hc.Doc]) -> int:
        return sum(
            1
            for p in hc.of_kind(docs, "NetworkPolicy")
            for rule in p["spec"].get("egress") or []
            for port in rule.get("ports") or []
            if port.get("port") == 4317
        )

    assert collector_rules(render(None)) == 0
    gpu = render(load_values("gpu"))
    assert collector_rules(gpu) == len(SERVICES) + 1  # the services and Triton's OTLP/HTTP
    env = hc.of_kind(gpu, "ConfigMap")[0]["data"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://otel-collector")


# --------------------------------------------------------------------------- auth


def _gateway_pod(docs: list[hc.Doc]) -> dict[str, Any]:
    deployment = hc.by_name(docs, "Deployment")[f"{RELEASE}-veritas-gateway"]
    return dict(deployment["spec"]["template"]["spec"])


def test_gateway_reads_its_keys_from_a_secret() -> None:
    pod = _gateway_pod(render(None))
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["VERITAS_AUTH"] == "keys"
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert env["VERITAS_API_KEYS_FILE"].startswith(mounts["api-keys"]["mountPath"] + "/")
    assert mounts["api-keys"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["api-keys"]["secret"]["secretName"] == "veritas-api-keys"


def test_key_file_given_at_install_becomes_a_secret() -> None:
    import base64

    key_file = '{"keys": []}'
    docs = render({"auth": {"apiKeys": {"file": key_file}}})
    secret = hc.by_name(docs, "Secret")[f"{RELEASE}-veritas-api-keys"]
    assert base64.b64decode(secret["data"]["api-keys.json"]).decode() == key_file
    volumes = {v["name"]: v for v in _gateway_pod(docs)["volumes"]}
    assert volumes["api-keys"]["secret"]["secretName"] == f"{RELEASE}-veritas-api-keys"


def test_shared_key_file_on_a_volume_is_writable() -> None:
    values = {"auth": {"apiKeys": {"existingSecret": "", "existingClaim": "veritas-keys"}}}
    pod = _gateway_pod(render(values))
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["api-keys"]["readOnly"] is False  # the Admin API writes the key file
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["api-keys"]["persistentVolumeClaim"]["claimName"] == "veritas-keys"


def test_jwt_with_an_inline_jwks() -> None:
    jwks = '{"keys": []}'
    values = {
        "auth": {
            "methods": "jwt",
            "jwt": {"issuer": "https://id.example/", "audience": "veritas", "jwks": jwks},
        }
    }
    docs = render(values)
    pod = _gateway_pod(docs)
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["VERITAS_AUTH"] == "jwt" and "VERITAS_API_KEYS_FILE" not in env
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert env["VERITAS_JWT_JWKS"] == mounts["jwks"] + "/jwks.json"
    config = hc.by_name(docs, "ConfigMap")[f"{RELEASE}-veritas-jwks"]
    assert config["data"]["jwks.json"] == jwks


@pytest.mark.parametrize(
    "auth, message",
    [
        ({"apiKeys": {"existingSecret": ""}}, "auth.apiKeys.existingSecret"),
        ({"methods": "jwt", "jwt": {"jwksUrl": "https://id.example/jwks"}}, "auth.jwt.issuer"),
        ({"methods": "keys,jwt", "jwt": {"issuer": "i", "audience": "a"}}, "auth.jwt.jwksUrl"),
        ({"methods": "none"}, "/auth/methods"),  # anonymous callers: loopback only, never here
    ],
)
def test_half_configured_auth_fails_the_render(auth: dict[str, Any], message: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError, match=message):
        chart.render(values={"auth": auth}, name=RELEASE, namespace=NAMESPACE)


# --------------------------------------------------------------------------- shared limits


def _redis_env(docs: list[hc.Doc]) -> dict[str, Any] | None:
    env = {e["name"]: e for e in _gateway_pod(docs)["containers"][0]["env"]}
    return env.get("VERITAS_REDIS_URL")


def test_gateway_replicas_share_their_rate_limits(docs: list[hc.Doc]) -> None:
    assert hc.shared_limit_problems(docs) == []


def test_the_bundled_redis_by_default() -> None:
    import base64

    docs = render(None)
    assert hc.most_replicas(docs, f"{RELEASE}-veritas-gateway") == 10
    ref = _redis_env(docs)["valueFrom"]["secretKeyRef"]  # type: ignore[index]
    assert ref == {"name": REDIS, "key": "redis-url"}
    data = hc.by_name(docs, "Secret")[REDIS]["data"]
    password = base64.b64decode(data["password"]).decode()
    assert len(password) >= 32 and password.isalnum()
    host = f"{REDIS}.{NAMESPACE}.svc.cluster.local"
    assert base64.b64decode(data["redis-url"]).decode() == f"redis://:{password}@{host}:6379/0"
    redis = hc.by_name(docs, "Deployment")[REDIS]["spec"]["template"]["spec"]["containers"][0]
    assert redis["args"][redis["args"].index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert redis["env"][0]["valueFrom"]["secretKeyRef"] == {"name": REDIS, "key": "password"}
    assert "--appendonly" in redis["args"] and "--maxmemory" in redis["args"]
    # Only the gateway reaches Redis, Redis reaches no one, nothing outside reaches it.
    edges = hc.allowed_edges(docs)
    assert {e for e in edges if "redis" in (e.source, e.target)} == {
        hc.Edge("gateway", "redis", "redis")
    }
    assert not any(component == "redis" for component, _ in hc.external_ingress(docs))


def test_your_own_redis_replaces_the_bundled_one() -> None:
    docs = render({"auth": {"redis": {"existingSecret": "my-redis"}}})
    assert REDIS not in hc.by_name(docs, "Deployment") and REDIS not in hc.by_name(docs, "Secret")
    ref = _redis_env(docs)["valueFrom"]["secretKeyRef"]  # type: ignore[index]
    assert ref == {"name": "my-redis", "key": "redis-url"}
    gateway = hc.by_name(docs, "NetworkPolicy")[f"{RELEASE}-veritas-gateway"]
    ports = [p["port"] for rule in gateway["spec"]["egress"] for p in rule.get("ports", [])]
    assert 6379 in ports
    assert hc.shared_limit_problems(docs) == []


@pytest.mark.parametrize(
    "gateway, replicas",
    [
        ({}, 10),  # the autoscaler's maximum
        ({"autoscaling": {"enabled": False}, "replicas": 3}, 3),
        ({"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 2}}, 2),
    ],
)
def test_several_gateways_without_a_shared_redis_fail_the_render(
    gateway: dict[str, Any], replicas: int
) -> None:
    values = {"gateway": gateway, "auth": {"redis": {"bundled": {"enabled": False}}}}
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmError, match=f"may run {replicas} replicas.*existingSecret"):
            chart.render(values=values, name=RELEASE, namespace=NAMESPACE)


def test_one_gateway_needs_no_redis() -> None:
    values = {
        "gateway": {"autoscaling": {"enabled": False}, "replicas": 1},
        "auth": {"redis": {"bundled": {"enabled": False}}},
    }
    docs = render(values)
    assert _redis_env(docs) is None and REDIS not in hc.by_name(docs, "Deployment")
    assert hc.shared_limit_problems(docs) == []


def test_unshared_limits_are_caught() -> None:
    import base64

    docs = render(None)
    container = _gateway_pod(docs)["containers"][0]
    container["env"] = [e for e in container["env"] if e["name"] != "VERITAS_REDIS_URL"]
    assert hc.shared_limit_problems(docs) == [
        f"Deployment/{RELEASE}-veritas-gateway: up to 10 replicas and no VERITAS_REDIS_URL: "
        "each replica would count every tenant's rate limit alone"
    ]
    docs = render(None)
    secret = hc.by_name(docs, "Secret")[REDIS]
    secret["data"]["redis-url"] = base64.b64encode(b"redis://:pw@elsewhere:6379/0").decode()
    assert "names no release Service port" in hc.shared_limit_problems(docs)[0]
    docs = render(None)
    container = _gateway_pod(docs)["containers"][0]
    for e in container["env"]:
        if e["name"] == "VERITAS_REDIS_URL":
            e.pop("valueFrom")
            e["value"] = "redis://:pw@somewhere:6379/0"
    assert "not read from a Secret" in hc.shared_limit_problems(docs)[0]


# --------------------------------------------------------------------------- Triton


def _triton(docs: list[hc.Doc]) -> dict[str, Any]:
    spec = hc.by_name(docs, "Deployment")[f"{RELEASE}-veritas-triton"]["spec"]["template"]["spec"]
    return dict(spec)


def test_triton_official_image_and_model_repository(docs: list[hc.Doc], values_name: str) -> None:
    spec = _triton(docs)
    triton = spec["containers"][0]
    assert triton["image"].startswith("nvcr.io/nvidia/tritonserver:")
    assert triton["command"] == ["tritonserver"]
    args = triton["args"]
    assert "--grpc-port=8001" in args
    repository = next(a.split("=", 1)[1] for a in args if a.startswith("--model-repository="))
    if values_name == "gpu":
        assert repository.startswith("s3://") and "initContainers" not in spec
        assert triton["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert spec["tolerations"][0]["key"] == "nvidia.com/gpu"
    else:
        assert repository == "/models"
        init = spec["initContainers"][0]
        assert init["image"].split(":")[0].endswith("veritas-model-repository")
        mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
        assert init["command"][-1].rstrip("/") == mounts["model-repository"]
        assert "nvidia.com/gpu" not in triton["resources"]["limits"]


def test_triton_from_a_pvc() -> None:
    docs = render(
        {"triton": {"modelRepository": {"source": "pvc", "pvc": {"claimName": "models"}}}}
    )
    spec = _triton(docs)
    volume = next(v for v in spec["volumes"] if v["name"] == "model-repository")
    assert volume["persistentVolumeClaim"]["claimName"] == "models"
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError, match="claimName"):
        chart.render(
            values={"triton": {"modelRepository": {"source": "pvc"}}},
            name=RELEASE,
            namespace=NAMESPACE,
        )


def test_production_model_configs_are_what_the_image_ships() -> None:
    """models/repository/ (copied whole into the model image) holds the production configs:
    native ONNX Runtime, dynamic batching, and a model.onnx for every model."""
    configs = sorted((ROOT / "models" / "repository").glob("*/config.pbtxt"))
    assert len(configs) >= 4
    for config in configs:
        text = config.read_text()
        assert 'platform: "onnxruntime_onnx"' in text, config
        assert "dynamic_batching" in text, config
        assert list(config.parent.glob("[0-9]*/model.onnx")), config
    dockerfile = (ROOT / "docker" / "model-repository.Dockerfile").read_text()
    assert "COPY models/repository /models" in dockerfile


# --------------------------------------------------------------------------- monitoring


def test_alerts_of_the_operators_guide() -> None:
    rule = hc.of_kind(render(None), "PrometheusRule")[0]
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert alerts["VeritasHighLatencyP95"]["expr"].endswith("> 0.5")
    assert alerts["VeritasHighLatencyP95"]["for"] == "2m"
    assert alerts["VeritasLowRequestRate"]["expr"].endswith("< 10")
    assert alerts["VeritasLowRequestRate"]["for"] == "5m"
    assert alerts["VeritasHighErrorRate"]["expr"].endswith("> 0.05")
    assert alerts["VeritasHighErrorRate"]["for"] == "2m"
    assert alerts["VeritasMemoryNearLimit"]["expr"].endswith("> 0.9")
    assert alerts["VeritasGPUMemoryHigh"]["expr"].endswith("> 0.95")
    # + the modality services' live metrics (veritas/live.py); tests/test_metrics_exist.py
    # checks every name and label an alert uses on a running mesh.
    known = veritas_metric_names() | TRITON_METRICS | CLUSTER_METRICS | LIVE_METRICS
    for name, alert in alerts.items():
        names = hc.metric_names(alert["expr"])  # raises when the PromQL does not parse
        assert names and names <= known, (name, names - known)
    assert "veritas_request_duration_seconds_bucket" in hc.metric_names(
        alerts["VeritasHighLatencyP95"]["expr"]
    )


def test_bad_promql_is_caught() -> None:
    with pytest.raises(ValueError):
        hc.metric_names("sum(rate(veritas_requests_total[5m])")


def test_dashboard_queries_parse_and_use_known_metrics() -> None:
    cm = next(
        c
        for c in hc.of_kind(render(None), "ConfigMap")
        if c["metadata"]["name"].endswith("-dashboard")
    )
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["veritas.json"])
    known = veritas_metric_names() | TRITON_METRICS | CLUSTER_METRICS | LIVE_METRICS
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 8
    for expr in exprs:
        names = hc.metric_names(expr.replace("$namespace", "veritas").replace("$release", "prod"))
        assert names <= known, names - known


def test_service_monitors_keep_the_service_label(docs: list[hc.Doc], values_name: str) -> None:
    monitors = hc.of_kind(docs, "ServiceMonitor")
    if values_name == "dev":
        assert monitors == []
        return
    assert len(monitors) == len(SERVICES) + 1
    for sm in monitors:
        component = sm["spec"]["selector"]["matchLabels"][hc.COMPONENT]
        assert sm["spec"]["endpoints"][0].get("honorLabels", False) == (component != "triton")


# --------------------------------------------------------------------------- helm test


def test_helm_test_hook(docs: list[hc.Doc]) -> None:
    pod = hc.of_kind(docs, "Pod")[0]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    command = pod["spec"]["containers"][0]["command"]
    assert command[:2] == ["python", "/smoke/smoke_test.py"]
    assert command[command.index("--target") + 1] == f"{RELEASE}-veritas-gateway:50051"
    script = next(c for c in hc.of_kind(docs, "ConfigMap") if "smoke_test.py" in c.get("data", {}))
    assert script["data"]["smoke_test.py"] == (
        CHART / "files" / "smoke_test.py"
    ).read_text().rstrip("\n")


def _smoke(target: str, api_key: str = "", *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the helm test's script as its pod does (an API key in VERITAS_API_KEY)."""
    env = {k: v for k, v in os.environ.items() if k != "VERITAS_API_KEY"}
    if api_key:
        env["VERITAS_API_KEY"] = api_key
    return subprocess.run(
        [sys.executable, str(CHART / "files" / "smoke_test.py"), "--target", target, *extra],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env=env | {"PYTHONPATH": str(ROOT)},
    )


def test_smoke_script_against_the_mesh(mesh: Any) -> None:
    """What `helm test` runs in the cluster, run against the local mesh."""
    result = _smoke(mesh.address("gateway"), getattr(mesh, "api_key", ""))
    assert result.returncode == 0, result.stderr
    assert "gateway health: SERVING" in result.stdout
    assert "analysis:" in result.stdout


def test_smoke_script_fails_when_the_gateway_is_down() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _smoke(f"127.0.0.1:{port}", "", "--timeout", "2")
    assert result.returncode == 1
    assert "gateway health:" in result.stderr


def test_metric_names_exist_on_a_real_mesh(mesh: Any) -> None:
    """The names the alerts and autoscalers use are what the services and Triton expose."""
    smoke = _smoke(mesh.address("gateway"), getattr(mesh, "api_key", ""))
    assert smoke.returncode == 0, smoke.stderr

    def scrape(port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return r.read().decode()

    gateway = scrape(mesh.ports.metrics["gateway"])
    for name in veritas_metric_names():
        assert f"\n{name}{{" in gateway or f"\n{name} " in gateway, name
    triton = scrape(mesh.ports.triton_metrics)
    for name in TRITON_METRICS - {"nv_gpu_memory_used_bytes", "nv_gpu_memory_total_bytes"}:
        assert f"\n{name}{{" in triton, name  # GPU gauges exist only where a GPU does


def test_triton_tracing_needs_a_release_that_survives_it() -> None:
    """Triton before 25.04 crashes when it traces every request (docs/kubernetes.md): with a
    trace URL, the default 24.10 image is refused and 25.04 renders with the trace flags."""
    tracing = {"telemetry": {"tritonTraceUrl": "http://collector:4318/v1/traces"}}
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmError, match="needs triton.image.tag 25.04-py3 or later"):
            chart.render(values=tracing, name=RELEASE, namespace=NAMESPACE)
    docs = render(tracing | {"triton": {"image": {"tag": "25.04-py3"}}})
    args = [
        a
        for d in docs
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
        for a in c.get("args", [])
    ]
    assert any("opentelemetry,url=http://collector:4318" in a for a in args)
