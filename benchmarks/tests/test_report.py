from pathlib import Path
from typing import Any

from benchmarks.headline import headline
from benchmarks.plots import write_all
from benchmarks.profiles import PROFILES
from benchmarks.report import render
from benchmarks.targets import evaluate
from benchmarks.tests.test_streaming import streaming_section


def _failed_run() -> dict[str, Any]:
    results: dict[str, Any] = {
        "date": "2026-01-02T03:04:05+00:00",
        "machine_label": "box",
        "machine": {
            "cpu_model": "",
            "cores": 2,
            "cores_usable": 2,
            "memory_bytes": 2**33,
            "kernel": "6",
            "python": "3.11",
        },
        "git": {"commit": "abc", "dirty": False},
        "profile": PROFILES["quick"].as_json(),
        "load_average_start": [1.0, 1.0, 1.0],
        "load_average_end": [1.0, 1.0, 1.0],
        "workloads": {"error": "RuntimeError: no samples"},
        "latency": {"error": "RuntimeError: gateway down"},
        "batch": {"error": "RuntimeError: gateway down"},
        "streaming": {"error": "RuntimeError: gateway down"},
        "throughput": {"error": "RuntimeError: gateway down"},
        "http_load": {"skipped": "no HTTP API answered on port 1 (GET /healthz)"},
        "resources": {"error": "RuntimeError: gone"},
        "errors": {"latency": "RuntimeError: gateway down"},
        "wall_s": 1.0,
    }
    results["targets"] = evaluate(results)
    return results


def test_failed_sections_are_reported_as_not_measured() -> None:
    text = render(_failed_run(), {})
    for heading in ("## Targets", "## Single analysis latency", "## Streaming", "## Resources"):
        assert heading in text
    assert "Not measured: the section failed (RuntimeError: gateway down)." in text
    assert "Not measured: no HTTP API answered" in text
    assert "**met**" not in text and "not measured" in text
    assert "## Failed sections" in text


def test_headline_claims_no_target_that_was_not_measured() -> None:
    text = headline(_failed_run(), "benchmarks/results/x.md")
    assert "2026-01-02" in text and "`box`" in text
    assert "Targets met" not in text
    assert "(benchmarks/results/x.md)" in text


def test_a_live_section_is_reported_and_plotted(tmp_path: Path) -> None:
    results = _failed_run() | {"streaming": streaming_section()}
    results["targets"] = evaluate(results)
    files = write_all(results, tmp_path, "x")
    assert set(files) == {"plot_streaming", "plot_live"}
    text = render(results, {k: v.name for k, v in files.items()})
    for needle in (
        "## Streaming: live analysis (AnalyzeStream)",
        "same 2-core machine as the mesh",
        "### Flat cost",
        "p95 update latency, last quarter / first quarter: 1.00",
        "Windows answered: 8 of 8",
        "### Many streams, AUTO quality",
        "### Many streams, pinned HIGH",
        "### One stream at HIGH",
        "### Multimodal streams",
        "Held: 4 of 4",
        "| live flat cost: p95 update latency, last / first quarter | <= 1.2 x |",
        "](x-live.png)",
    ):
        assert needle in text, needle
    assert "concurrent 30-fps streams held at AUTO" in headline(results, "x.md")
