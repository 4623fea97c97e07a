"""`veritas cluster status` against the real kubernetes client and API responses.

A loopback HTTP server answers the three list calls with the JSON bodies in
tools/tests/fixtures/k8s/ (an API server's list responses for a release "veritas": HPA-managed
and fixed deployments, a KEDA-made HPA, a crash-looping pod, an HPA of another app), so the
client's own request building and deserialisation run as they would against a cluster.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tools.cluster import ClusterApi, cluster_status, cmd_status, format_status, release_selector

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "k8s"
NAMESPACE = "veritas"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

ROUTES = {
    f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments": "deployments.json",
    f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers": "hpas.json",
    f"/api/v1/namespaces/{NAMESPACE}/pods": "pods.json",
}


class FakeApiServer(ThreadingHTTPServer):
    """Serves the recorded list responses; records each request's path and query."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.routes = dict(ROUTES)  # path -> fixture file (absolute paths allowed)
        self.forbidden: set[str] = set()


class _Handler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        self.server.requests.append((url.path, parse_qs(url.query)))
        if url.path in self.server.forbidden:
            self._reply(403, _status(403, "Forbidden", f"cannot list {url.path}"))
        elif url.path in self.server.routes:
            self._reply(200, (FIXTURES / self.server.routes[url.path]).read_bytes())
        else:
            self._reply(404, _status(404, "NotFound", f"{url.path} not found"))

    def _reply(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _status(code: int, reason: str, message: str) -> bytes:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message}
    return json.dumps(body | {"reason": reason, "code": code}).encode()


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    srv = FakeApiServer()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def api(server: FakeApiServer) -> ClusterApi:
    from kubernetes import client

    configuration = client.Configuration(host=f"http://127.0.0.1:{server.server_address[1]}")
    return ClusterApi.from_client(client.ApiClient(configuration))


def test_lists_the_release_by_its_labels(server: FakeApiServer, api: ClusterApi) -> None:
    cluster_status("veritas", NAMESPACE, api)
    queries = dict(server.requests)
    selector = ["app.kubernetes.io/instance=veritas,app.kubernetes.io/name=veritas"]
    assert release_selector("veritas") == selector[0]
    assert queries[f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"]["labelSelector"] == selector
    assert queries[f"/api/v1/namespaces/{NAMESPACE}/pods"]["labelSelector"] == selector
    # HPAs are matched by target, not label: KEDA's carry KEDA's labels.
    assert (
        "labelSelector"
        not in queries[f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers"]
    )


def test_rows_per_deployment(api: ClusterApi) -> None:
    rows = {r.component: r for r in cluster_status("veritas", NAMESPACE, api)}
    assert sorted(rows) == ["audio", "fusion", "gateway", "physiology", "text", "triton", "vision"]

    gateway = rows["gateway"]
    assert (gateway.name, gateway.ready, gateway.desired, gateway.available) == (
        "veritas-gateway",
        2,
        2,
        2,
    )
    assert gateway.healthy and gateway.restarts == 0 and gateway.last_restart is None
    assert gateway.autoscaling is not None
    assert gateway.autoscaling.targets == ("cpu 23%/70%",)
    assert (gateway.autoscaling.min_replicas, gateway.autoscaling.max_replicas) == (2, 10)

    vision = rows["vision"]  # scaling up: 4 wanted, 3 ready
    assert (vision.ready, vision.desired, vision.updated, vision.available) == (3, 4, 4, 3)
    assert not vision.healthy
    assert vision.autoscaling is not None and vision.autoscaling.desired_replicas == 4

    audio = rows["audio"]  # crash-looping pod, KEDA-made HPA with an external metric
    assert (audio.restarts, audio.last_restart_reason) == (3, "OOMKilled")
    assert audio.last_restart == datetime(2026, 11, 27, 11, 56, tzinfo=UTC)
    assert audio.autoscaling is not None
    assert audio.autoscaling.name == "keda-hpa-veritas-audio"
    assert audio.autoscaling.targets == ("cpu 64%/70%", "s1-prometheus 5/4")

    fusion = rows["fusion"]  # prometheus-adapter custom metric next to CPU
    assert fusion.autoscaling is not None
    assert fusion.autoscaling.targets == ("cpu 31%/70%", "veritas_requests_in_flight 3500m/16")

    assert rows["text"].autoscaling is None  # fixed replicas; "other-app"'s HPA is not its
    assert (rows["text"].restarts, rows["text"].last_restart_reason) == (1, "Error")
    physiology = rows["physiology"].autoscaling
    assert physiology is not None and physiology.targets == ("cpu <unknown>/70%",)


def test_format_status_table(api: ClusterApi) -> None:
    text = format_status(cluster_status("veritas", NAMESPACE, api), now=NOW)
    lines = text.splitlines()
    assert lines[0].split() == [
        "DEPLOYMENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AUTOSCALING",
        "RESTARTS",
    ]
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert list(by_name) == sorted(by_name)
    assert len(by_name) == 7
    assert "3 (OOMKilled 4m ago)" in by_name["veritas-audio"]
    assert "1/2" in by_name["veritas-audio"].split()
    assert "2-20 now 2; cpu 64%/70%, s1-prometheus 5/4" in by_name["veritas-audio"]
    assert "1 (Error 3h ago)" in by_name["veritas-text"]
    assert by_name["veritas-text"].split()[4] == "-"
    assert "3/4" in by_name["veritas-vision"].split()
    assert by_name["veritas-gateway"].endswith("  0")
    # Columns line up: every row's READY cell starts where the header's does.
    column = lines[0].index("READY")
    assert all(line[column - 2 : column] == "  " for line in lines[1:])


def _args(release: str = "veritas") -> argparse.Namespace:
    return argparse.Namespace(release=release, namespace=NAMESPACE, context=None)


def test_command_exit_codes(
    server: FakeApiServer, api: ClusterApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_status(_args(), api) == 1  # vision and audio are not ready
    assert "veritas-audio" in capsys.readouterr().out

    server.forbidden.add(f"/api/v1/namespaces/{NAMESPACE}/pods")
    assert cmd_status(_args(), api) == 2
    assert "403 Forbidden" in capsys.readouterr().err


def _replace_deployments(server: FakeApiServer, tmp_path: Path, items: list[object]) -> None:
    body = json.loads((FIXTURES / "deployments.json").read_text()) | {"items": items}
    path = tmp_path / "deployments.json"
    path.write_text(json.dumps(body))
    server.routes[f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"] = str(path)


def test_command_all_ready(
    server: FakeApiServer, api: ClusterApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = json.loads((FIXTURES / "deployments.json").read_text())["items"]
    for item in items:
        replicas = item["spec"]["replicas"]
        item["status"].update(readyReplicas=replicas, availableReplicas=replicas)
    _replace_deployments(server, tmp_path, items)
    assert cmd_status(_args(), api) == 0
    assert "veritas-triton" in capsys.readouterr().out


def test_command_unknown_release(
    server: FakeApiServer, api: ClusterApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _replace_deployments(server, tmp_path, [])
    assert cmd_status(_args("nope"), api) == 1
    assert "no deployments of release 'nope'" in capsys.readouterr().err


def test_cli_wiring() -> None:
    from tools.cluster import add_parser

    parser = argparse.ArgumentParser(prog="veritas")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["cluster", "status", "--release", "r1", "-n", "ns1"])
    assert (args.release, args.namespace, args.context, args.func) == (
        "r1",
        "ns1",
        None,
        cmd_status,
    )
