"""The harness end to end on the tiny profile: a real mesh, every section, every output.

Checks that the run completes and writes well-formed files; never how fast anything was."""

import json
from pathlib import Path

import pytest

from benchmarks.harness import run
from benchmarks.headline import headline
from benchmarks.profiles import PROFILES
from benchmarks.workloads import WORKLOADS

pytestmark = pytest.mark.integration

SECTIONS = ("latency", "batch", "cache", "streaming", "throughput", "http_load", "resources")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, Path]]:
    out = tmp_path_factory.mktemp("results")
    results, files, ok = run(PROFILES["tiny"], out, machine="Test Box", run_dir=out / "mesh")
    assert ok, results["errors"]
    return results, files


def test_json_is_strict_and_complete(tiny_run: tuple[dict, dict[str, Path]]) -> None:
    results, files = tiny_run
    assert files["json"].name.endswith("-test-box-tiny.json")
    on_disk = json.loads(files["json"].read_text())  # strict: NaN was written as null
    assert on_disk == results
    for section in SECTIONS:
        assert section in results and "error" not in results[section], section
    assert results["machine"]["cores"] >= 1
    assert results["profile"]["name"] == "tiny"


def test_every_workload_measured_both_ways_with_the_same_scores(
    tiny_run: tuple[dict, dict[str, Path]],
) -> None:
    latency = tiny_run[0]["latency"]
    assert set(latency) == set(WORKLOADS)
    for workload, d in latency.items():
        runs = PROFILES["tiny"].latency_runs[workload]
        assert d["mesh"]["latency"]["n"] == runs == d["in_process"]["latency"]["n"]
        assert d["mesh"]["outcomes"] == {"OK": runs}
        assert d["p50_ratio"] > 0
        for modality, scores in d["scores"].items():
            assert scores["abs_diff"] is not None and scores["abs_diff"] < 1e-6, modality


def test_the_bare_hops_floor_is_measured_beside_the_text_latency(
    tiny_run: tuple[dict, dict[str, Path]],
) -> None:
    floor = tiny_run[0]["latency"]["text"]["floor"]
    runs = PROFILES["tiny"].latency_runs["text"]
    assert floor["runs"] == runs and floor["hops"] == 3
    for side in ("chain", "local", "triton", "onnx"):
        assert floor[side]["n"] == runs and floor[side]["p50_ms"] > 0, side
    assert set(floor["relay_cpu_s_per_call"]) == {"relay1", "relay2", "relay3"}
    assert "Hop floor, text only" in tiny_run[1]["markdown"].read_text()


def test_one_hop_is_measured_unary_and_on_an_open_stream(
    tiny_run: tuple[dict, dict[str, Path]],
) -> None:
    hop = tiny_run[0]["latency"]["text"]["transport"]
    for way in ("unary", "stream"):
        assert hop[way]["latency"]["n"] == hop["messages"] >= 100, way
        assert hop[way]["client_cpu_ms"] > 0, way
    assert "| message on an open stream |" in tiny_run[1]["markdown"].read_text()


def test_load_sections_counted_every_call(tiny_run: tuple[dict, dict[str, Path]]) -> None:
    results = tiny_run[0]
    profile = PROFILES["tiny"]
    assert [b["batch_size"] for b in results["batch"]["sizes"]] == list(profile.batch_sizes)
    assert set(results["batch"]["by_workload"]) == set(profile.batch_workloads)
    for sizes in results["batch"]["by_workload"].values():
        assert [b["batch_size"] for b in sizes] == list(profile.batch_sizes)
        assert all(b["item_errors"] == 0 for b in sizes)
    for workload, cached in results["cache"].items():
        runs, hits = profile.cache_runs[workload], profile.cache_hits_per_run
        assert cached["miss"]["n"] == runs and cached["hit"]["n"] == runs * hits
        # Every repeat was answered from the cache and said so; the opt-outs never were.
        assert cached["answers"] == {
            "miss analysed": runs,
            "hit said cached": runs * hits,
            "off analysed": runs,
        }
    for workload, levels in profile.throughput_levels.items():
        measured = results["throughput"][workload]
        assert [lv["concurrency"] for lv in measured] == list(levels)
        assert all(lv["error_count"] == 0 and lv["latency"]["n"] > 0 for lv in measured)
        assert all("gateway" in lv["cpu_s_per_request"] for lv in measured)
    live = results["streaming"]
    assert live["part_errors"] == {}
    stream = live["fps"][0]
    assert stream["frames_sent"] == round(profile.stream_fps[0] * profile.stream_seconds)
    assert stream["error"] is None and stream["modalities"]["vision"]["windows_answered"] > 0
    flat = live["flat_cost"]
    assert flat["error"] is None and flat["memory"]["samples"] > 0
    assert len(flat["series"]["window_end_s"]) == flat["modalities"]["vision"]["windows_expected"]
    assert live["many_auto"]["levels"][0]["streams"] == 1
    assert live["one_high"]["quality_asked"] == "HIGH"
    multimodal = live["multimodal"]
    assert multimodal["streams"] == profile.live_multimodal_streams
    for s in multimodal["per_stream"]:
        assert s["error"] is None
        assert set(s["modalities"]) == {"vision", "audio", "text", "physiology"}
    http = results["http_load"]
    if "skipped" not in http:  # locust installed and the gateway serves HTTP
        # Locust picks tasks at random by weight: in a few seconds on a loaded machine one
        # endpoint may get no request, so only what ran is checked (never a timing accident).
        names = {
            "POST /v1/analyze text",
            "POST /v1/analyze audio+text",
            "POST /api/analyze (old body)",
        }
        assert {e["name"] for e in http["endpoints"]} <= names
        assert all(e["failures"] == 0 for e in http["endpoints"])
        assert http["total"]["failures"] == 0 and http["total"]["requests"] > 0


def test_resources_cover_every_service_and_model(tiny_run: tuple[dict, dict[str, Path]]) -> None:
    resources = tiny_run[0]["resources"]
    assert set(resources["processes"]) == {
        "vision",
        "audio",
        "text",
        "physiology",
        "fusion",
        "gateway",
        "triton",
    }
    assert all(p["peak_rss_bytes"] > 0 for p in resources["processes"].values())
    repository = Path(__file__).resolve().parents[2] / "models" / "repository"
    models = {p.name for p in repository.iterdir() if (p / "config.pbtxt").exists()}
    assert set(resources["model_load_s"]) == models
    assert set(resources["model_loads_at_start"]) == models
    assert isinstance(resources["models_reloaded_during_run"], list)
    assert resources["cold_start_s"] > 0
    assert [t["met"] in (True, False) for t in tiny_run[0]["targets"]] == [True] * 19
    scaled = tiny_run[0]["scaling"]["workloads"]
    assert {"full", "text"} <= set(scaled)
    for row in scaled["full"]["rows"]:
        assert row["replicas_needed"] >= 1 and isinstance(row["fits"], bool), row


def test_plots_and_summary_beside_the_json(tiny_run: tuple[dict, dict[str, Path]]) -> None:
    results, files = tiny_run
    plots = [p for k, p in files.items() if k.startswith("plot_")]
    assert len(plots) == 6
    for path in plots:
        assert path.parent == files["json"].parent and path.read_bytes()[:8] == PNG
    summary = files["markdown"].read_text()
    for heading in (
        "## Targets",
        "## Workloads",
        "## Single analysis latency",
        "## Batch",
        "## Streaming",
        "## Throughput",
        "## HTTP load",
        "## Resources",
        "## Plots",
    ):
        assert heading in summary
    for path in plots:
        assert f"]({path.name})" in summary
    assert "Targets met" in headline(results, files["markdown"].name)
