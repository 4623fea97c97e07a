"""The live-streams section of the vision benchmark end to end on a tiny plan: a real mesh
(Triton, the vision service and the gateway's path for one full analysis), the dlib
benchmark service beside it, one short stream to each.

Checks that both pipelines were measured with every field the report needs, that each
found faces its own way (the face models on Triton only for the neural one) and that the
report says so; never how fast anything was, nor whether a level held."""

from pathlib import Path
from typing import Any

import pytest

from benchmarks import vision_live
from benchmarks.vision_pipeline import FullRun, report

pytestmark = pytest.mark.integration

PLAN = vision_live.Plan(levels=(1, 2), seconds=2.0, qualities=("AUTO",), mesh_runs=1, mesh_warmup=0)
FIELDS = (
    "held",
    "streams_held",
    "sent_fps_min",
    "windows_answered",
    "windows_expected",
    "update_latency_p95_ms_max",
    "analysed_fps_mean",
    "quality",
    "cpu_cores",
)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run_dir: Path = tmp_path_factory.mktemp("vision-live")
    return vision_live.run(PLAN, run_dir=run_dir)


def test_both_pipelines_measured_with_the_held_fields(result: dict[str, Any]) -> None:
    assert result["errors"] == {}
    by_pipeline = result["live"]["by_quality"]["AUTO"]
    assert set(by_pipeline) == {"dlib", "neural"}
    for name, measured in by_pipeline.items():
        levels = measured["levels"]
        first = levels[0]
        assert [lv["streams"] for lv in levels] == [1, 2][: len(levels)], name
        # A pipeline goes on to the next level only while it holds.
        assert len(levels) == 2 or not first["held"], name
        for field in FIELDS:
            assert field in first, (name, field)
        assert isinstance(first["held"], bool)
        assert first["pipeline"] == name
        # Every window of the stream is answered in the end (on time or not).
        assert first["windows_expected"] > 0, name
        assert first["per_stream"][0]["error"] is None, name
        assert measured["max_streams_held"] in (0, 1, 2)


def test_each_pipeline_finds_faces_its_own_way(result: dict[str, Any]) -> None:
    by_pipeline = result["live"]["by_quality"]["AUTO"]
    dlib = by_pipeline["dlib"]["levels"][0]
    neural = by_pipeline["neural"]["levels"][0]
    assert vision_live.face_model_requests(dlib) == 0
    assert vision_live.face_model_requests(neural) > 0
    # Both scored their windows on the same Triton.
    assert dlib["triton_requests"].get("vision_behaviour", 0) > 0
    assert neural["triton_requests"].get("vision_behaviour", 0) > 0


def test_the_full_analysis_went_through_the_mesh(result: dict[str, Any]) -> None:
    mesh = result["mesh_full"]
    assert mesh["latency"]["n"] == 1 and mesh["outcomes"] == {"OK": 1}
    assert "vision" in mesh["cpu_s_per_request"] and "triton" in mesh["cpu_s_per_request"]


def test_the_report_shows_both_pipelines_per_level(result: dict[str, Any]) -> None:
    full = [FullRun("dlib", [1.0], [1.0], [1.0])]
    machine = {"label": "test", "cpu_model": "cpu", "cores": 2}
    text = report(machine, [0.0, 0.0, 0.0], [], [], full, "2026-01-01", result, [0.0])
    assert "CPU only, no GPU" in text and "commit " in text
    assert "### Quality AUTO: most streams held (of the levels tried): dlib " in text
    rows = [line for line in text.splitlines() if line.startswith("| 1 | ")]
    assert [row.split(" | ")[1] for row in rows] == ["dlib", "neural"]
    for row in rows:
        assert row.split(" | ")[2] in ("yes", "**no**")
    assert "| neural through the mesh" in text
