"""A local Prometheus for the local mesh, with the Helm chart's own alert rules loaded.

`make observe` (`veritas up --observe`) starts it beside the mesh. The rules are rendered
from the chart (templates/prometheusrule.yaml over helm/veritas/rules/*.yaml, through the
Helm SDK), so the alerts that fire here are the ones a cluster gets; only their `for:`
durations are shortened (LOCAL_RULE_VALUES) and the low-traffic alert is off, since one
machine is quiet by design. The scrape targets get the labels Prometheus gives them in the
cluster (namespace, job = the chart's Service name, pod), so the chart's selectors match.

Needs the `prometheus` binary (Debian package `prometheus`; `make sysdeps` installs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from veritas import modalities

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "veritas"
RELEASE, NAMESPACE = "veritas", "local"  # chart fullname "veritas": jobs veritas-<name>
SERVICES = ("gateway", "fusion", *modalities.NAMES)

# The chart's thresholds as they are; shorter waits so a fault shows within seconds.
LOCAL_RULE_VALUES: dict[str, Any] = {
    "metrics": {
        "prometheusRule": {
            "minRequestRate": 0,  # a local mesh is idle most of the time: no low-rate alert
            "latencyFor": "30s",
            "lowRateFor": "30s",
            "errorFor": "30s",
            "memoryFor": "1m",
            "gpuMemoryFor": "1m",
            "downFor": "15s",
            "modalityFailingFor": "30s",
            "tritonQueueFor": "30s",
            "liveBehindFor": "1m",
        }
    }
}


def render_chart(
    values: dict[str, Any] | None = None, release: str = RELEASE, namespace: str = NAMESPACE
) -> list[dict[str, Any]]:
    """The chart's manifests for these values, parsed (Helm v4 SDK, no cluster)."""
    import helm_python as helm  # a dev dependency: only rendering needs it

    with helm.Chart.load(CHART) as chart:
        out = chart.render(values=values or {}, name=release, namespace=namespace)
    return [
        doc
        for path, text in sorted(out.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def rule_groups(
    values: dict[str, Any] | None = None, release: str = RELEASE, namespace: str = NAMESPACE
) -> list[dict[str, Any]]:
    """The rule groups of the chart's PrometheusRule (what `promtool` and Prometheus load)."""
    rules = [d for d in render_chart(values, release, namespace) if d["kind"] == "PrometheusRule"]
    if len(rules) != 1:
        raise ValueError(f"the chart rendered {len(rules)} PrometheusRules, expected 1")
    groups: list[dict[str, Any]] = rules[0]["spec"]["groups"]
    return groups


def scrape_config(
    metrics_ports: dict[str, int],
    triton_metrics_port: int,
    interval_s: float,
    rule_file: str,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
) -> dict[str, Any]:
    """prometheus.yml for the local mesh: one job per service, named as in the cluster."""
    fullname = release if "veritas" in release else f"{release}-veritas"
    interval = f"{max(1, round(interval_s))}s"

    def job(name: str, port: int, honor_labels: bool) -> dict[str, Any]:
        return {
            "job_name": f"{fullname}-{name}",
            "honor_labels": honor_labels,  # keep the metrics' own `service` (as the chart)
            "static_configs": [
                {
                    "targets": [f"127.0.0.1:{port}"],
                    "labels": {"namespace": namespace, "pod": f"{fullname}-{name}-local"},
                }
            ],
        }

    jobs = [job(name, metrics_ports[name], True) for name in SERVICES if name in metrics_ports]
    jobs.append(job("triton", triton_metrics_port, False))
    return {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "rule_files": [rule_file],
        "scrape_configs": jobs,
    }


class LocalPrometheus:
    """One prometheus process scraping a local mesh; start() waits until it is ready,
    stop() (or leaving a `with`) ends it."""

    def __init__(
        self,
        work_dir: Path,
        metrics_ports: dict[str, int],
        triton_metrics_port: int,
        port: int = 9090,
        interval_s: float = 5.0,
        rule_values: dict[str, Any] | None = None,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.metrics_ports = dict(metrics_ports)
        self.triton_metrics_port = triton_metrics_port
        self.port = port
        self.interval_s = interval_s
        self.rule_values = LOCAL_RULE_VALUES if rule_values is None else rule_values
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def for_mesh(cls, mesh: Any, **kwargs: Any) -> LocalPrometheus:
        return cls(
            Path(mesh.run_dir) / "prometheus",
            mesh.ports.metrics,
            mesh.ports.triton_metrics,
            **kwargs,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        """Render the chart's rules and write rules.yaml and prometheus.yml; returns the latter."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        rules = self.work_dir / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": rule_groups(self.rule_values)}, sort_keys=False))
        config = self.work_dir / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                scrape_config(
                    self.metrics_ports, self.triton_metrics_port, self.interval_s, str(rules)
                ),
                sort_keys=False,
            )
        )
        return config

    def start(self, ready_timeout_s: float = 60) -> LocalPrometheus:
        """Start prometheus and wait until it is ready; refuses a second start (its own
        readiness check would find the first one ready and hide the second's failure)."""
        if self.process is not None:
            raise RuntimeError("prometheus already started")
        binary = shutil.which("prometheus")
        if binary is None:
            raise FileNotFoundError(
                "prometheus not installed: `make sysdeps` (apt-get install prometheus)"
            )
        config = self.write_config()
        log = open(self.work_dir / "prometheus.log", "ab")  # noqa: SIM115 (lives with the process)
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.work_dir / 'data'}",
                "--storage.tsdb.retention.time=1d",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with {self.process.returncode}: {self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"prometheus not ready after {ready_timeout_s:.0f} s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        path = self.work_dir / "prometheus.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def api(self, path: str) -> Any:
        """GET /api/v1/<path>; returns its `data`."""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}", timeout=5) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus /api/v1/{path}: {body}")
        return body["data"]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts now pending or firing, each with labels, annotations and state."""
        alerts: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return alerts

    def stop(self, timeout_s: float = 15) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        process.terminate()
        try:
            return process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def __enter__(self) -> LocalPrometheus:
        """`with LocalPrometheus(...).start():` as with Mesh: start() starts, exit stops."""
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
