"""The GPU vision benchmark runs end to end on this CPU as a labelled dry run, and never calls a
CPU run a GPU run (no GPU machine is lent here: this is what keeps the script working)."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest

from benchmarks import gpu_vision

ON_GPU = gpu_vision.CUDA in ort.get_available_providers()


@pytest.mark.skipif(ON_GPU, reason="the CUDA provider is here: the script runs on the GPU")
def test_without_a_gpu_it_refuses_unless_asked_for_a_dry_run(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--allow-cpu"):
        gpu_vision.main(["--out", str(tmp_path / "x.md")])
    assert not (tmp_path / "x.md").exists()


def test_a_dry_run_measures_every_table_and_says_it_is_cpu(tmp_path: Path) -> None:
    out = tmp_path / "dry.md"
    assert (
        gpu_vision.main(["--allow-cpu", "--repeats", "1", "--streams", "2", "--out", str(out)]) == 0
    )
    text = out.read_text()
    device = "GPU: " if ON_GPU else "CPU (dry run, no GPU)"
    assert text.startswith(f"# Vision face models on {device}")
    for model in ("face_detector", "face_landmarks"):
        for batch in (1, 8, 32):
            assert f"| {model} | {batch} |" in text
    assert "| in-process, CPU (same run) |" in text
    assert "| 2 streams at once" in text
