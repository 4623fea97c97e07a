"""The chart's alert rules, proven with promtool: they load, and every alert fires on the
fault it describes and stays quiet otherwise (tests/alert_rules/*.test.yaml: series in,
alerts out).

The rules are rendered from the chart exactly as a cluster gets them (release "prod",
namespace "veritas"). promtool ships in Debian's `prometheus` package, which `make test`
installs (`make sysdeps`); without it these tests skip locally and FAIL in CI (CI=true).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import system_binary
from tools.prometheus_local import rule_groups

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests" / "alert_rules"
RELEASE, NAMESPACE = "prod", "veritas"


@pytest.fixture(scope="module")
def promtool() -> str:
    return system_binary("promtool", "prometheus")


def write_rules(directory: Path, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Render the chart's rules into directory/rules.yaml and copy the unit tests beside it."""
    groups = rule_groups(values, RELEASE, NAMESPACE)
    (directory / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    for test in TESTS.glob("*.test.yaml"):
        shutil.copy(test, directory / test.name)
    return groups


def run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_rules_load(promtool: str, tmp_path: Path) -> None:
    groups = write_rules(tmp_path)
    result = run(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(g["rules"]) for g in groups)
    assert f"SUCCESS: {count} rules found" in result.stdout


def test_every_alert_fires_as_described(promtool: str, tmp_path: Path) -> None:
    write_rules(tmp_path)
    tests = sorted(p.name for p in tmp_path.glob("*.test.yaml"))
    result = run(promtool, "test", "rules", *tests, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests), result.stdout


def test_every_alert_has_a_firing_test() -> None:
    """No alert without a unit test that makes it fire (and the test names real alerts)."""
    alerts = {r["alert"] for g in rule_groups(None, RELEASE, NAMESPACE) for r in g["rules"]}
    fired: set[str] = set()
    named: set[str] = set()
    for path in TESTS.glob("*.test.yaml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                named.add(check["alertname"])
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    assert named <= alerts, named - alerts
    assert fired == alerts, alerts - fired
    wanted = {  # the faults of the operators' guide (docs/kubernetes.md, "Alerts")
        "VeritasHighLatencyP95",
        "VeritasHighErrorRate",
        "VeritasMemoryNearLimit",
        "VeritasTritonQueueTimeHigh",
        "VeritasModalityFailing",
        "VeritasLiveStreamsFallingBehind",
        "VeritasTritonDown",
    }
    assert wanted <= alerts


def test_a_changed_threshold_fails_the_tests(promtool: str, tmp_path: Path) -> None:
    """The unit tests pin the behaviour: an error-ratio threshold of 50% no longer fires on
    9% errors, and promtool says so."""
    write_rules(tmp_path, {"metrics": {"prometheusRule": {"errorRatio": 0.5}}})
    result = run(promtool, "test", "rules", "services.test.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert "VeritasHighErrorRate" in result.stdout + result.stderr


def test_a_broken_expression_fails_the_check(promtool: str, tmp_path: Path) -> None:
    groups = write_rules(tmp_path)
    groups[0]["rules"][0]["expr"] = "sum(rate(veritas_requests_total[5m])"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    result = run(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode != 0
