"""The local Prometheus of `make observe`, with the chart's alert rules, on a real mesh:
stopping Triton makes VeritasTritonDown go pending (then firing once its short local `for:`
has passed), stopping a modality service makes VeritasModalityFailing go pending.

Triton and the text service on free ports, Prometheus scraping them every second: the
faults are made deliberately, and each alert is shown quiet before its fault.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import system_binary, wait_until
from tools.mesh import Mesh, free_port
from tools.prometheus_local import (
    LOCAL_RULE_VALUES,
    NAMESPACE,
    RELEASE,
    LocalPrometheus,
    render_chart,
    scrape_config,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    return system_binary("prometheus", "prometheus")


def test_local_jobs_are_the_charts_services() -> None:
    """The local targets carry the labels a cluster's ServiceMonitors give them, so the
    chart's selectors (namespace, job) match the local mesh."""
    docs = render_chart(LOCAL_RULE_VALUES, RELEASE, NAMESPACE)
    monitored = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    config = scrape_config(
        {s: 9000 + i for i, s in enumerate(("gateway", "fusion", "text"))}, 8002, 1.0, "r.yaml"
    )
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert set(jobs) == {"veritas-gateway", "veritas-fusion", "veritas-text", "veritas-triton"}
    assert set(jobs) <= monitored, set(jobs) - monitored
    for name, job in jobs.items():
        assert job["static_configs"][0]["labels"]["namespace"] == NAMESPACE
        assert job["honor_labels"] == (name != "veritas-triton")  # as the ServiceMonitors


@pytest.fixture(scope="module")
def observed(
    prometheus_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Mesh, LocalPrometheus]]:
    run_dir = tmp_path_factory.mktemp("observed")
    mesh = Mesh(run_dir, extra_env={"VERITAS_AUTH": "none"})
    with mesh.start(services=("text",)):
        prometheus = LocalPrometheus(
            run_dir / "prometheus",
            {"text": mesh.ports.metrics["text"]},
            mesh.ports.triton_metrics,
            port=free_port(),
            interval_s=1.0,
        )
        with prometheus.start():  # started once; leaving the block stops it
            yield mesh, prometheus


def active(prometheus: LocalPrometheus, name: str) -> list[dict[str, Any]]:
    return [a for a in prometheus.alerts() if a["labels"]["alertname"] == name]


def test_stopping_triton_makes_its_alert_pending_then_firing(
    observed: tuple[Mesh, LocalPrometheus],
) -> None:
    mesh, prometheus = observed

    def all_up() -> bool:
        targets = prometheus.api("targets")["activeTargets"]
        return len(targets) == 2 and all(t["health"] == "up" for t in targets)

    wait_until("both targets scraped", all_up, 30)
    time.sleep(3)  # a few evaluations with everything up
    assert prometheus.alerts() == []  # nothing fires on a healthy mesh

    mesh.stop_triton()
    (alert,) = wait_until("VeritasTritonDown", lambda: active(prometheus, "VeritasTritonDown"), 30)
    assert alert["state"] == "pending"  # `for:` (15 s locally) has not passed yet
    assert alert["labels"]["job"] == f"{RELEASE}-triton"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["summary"] == "Triton is down: every modality fails"
    firing = wait_until(
        "VeritasTritonDown firing",
        lambda: [a for a in active(prometheus, "VeritasTritonDown") if a["state"] == "firing"],
        45,
    )
    assert firing[0]["labels"]["job"] == f"{RELEASE}-triton"


def test_stopping_a_modality_service_makes_it_a_failing_modality(
    observed: tuple[Mesh, LocalPrometheus],
) -> None:
    mesh, prometheus = observed
    assert active(prometheus, "VeritasModalityFailing") == []
    assert mesh.stop_service("text") == 0
    (alert,) = wait_until(
        "VeritasModalityFailing", lambda: active(prometheus, "VeritasModalityFailing"), 30
    )
    assert alert["state"] == "pending"
    assert alert["labels"]["service"] == "text"
    assert "analyses go on without it" in alert["annotations"]["summary"]


def test_one_process_per_start_and_no_second_start(
    observed: tuple[Mesh, LocalPrometheus],
) -> None:
    """`with prometheus.start():` runs one prometheus (entering the block started none
    more, which would have outlived the test), and a second start() is refused."""
    _, prometheus = observed
    config = f"--config.file={prometheus.work_dir / 'prometheus.yml'}".encode()
    running = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if config in args:
            running.append(int(entry.name))
    assert prometheus.process is not None and running == [prometheus.process.pid]
    with pytest.raises(RuntimeError, match="already started"):
        prometheus.start()


def test_prometheus_loaded_the_charts_rules(observed: tuple[Mesh, LocalPrometheus]) -> None:
    _, prometheus = observed
    groups = prometheus.api("rules")["groups"]
    loaded = {r["name"] for g in groups for r in g["rules"]}
    rendered = Path(prometheus.work_dir / "rules.yaml").read_text()
    assert {"VeritasTritonDown", "VeritasModalityFailing", "VeritasHighLatencyP95"} <= loaded
    assert all(name in rendered for name in loaded)
