"""The physiology CSV reader: the documented format, and errors that name line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from veritas.physio_csv import read_physio_csv
from veritas.v1 import common_pb2

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.csv"
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ValueError) as info:
        read_physio_csv(_write(tmp_path, text))
    return str(info.value)


def test_time_column_gives_rate_and_start(tmp_path: Path) -> None:
    rows = "\n".join(f"{10 + i * 0.25:.2f},{2 + i / 100:.2f},{70 + i % 3}" for i in range(8))
    p = read_physio_csv(_write(tmp_path, f"# a comment\ntime_s,eda,heart_rate\n{rows}\n"))
    eda, hr = p.channels
    assert (eda.name, eda.unit, eda.sampling_rate_hz, eda.start_s) == ("eda", "uS", 4.0, 10.0)
    assert list(eda.samples)[:2] == [2.0, 2.01] and len(eda.samples) == 8
    assert (hr.name, hr.unit, hr.sampling_rate_hz) == ("heart_rate", "bpm", 4.0)


def test_rate_comment_without_time_column(tmp_path: Path) -> None:
    p = read_physio_csv(_write(tmp_path, "#sampling_rate_hz = 50\necg,respiration\n1,2\n3,4\n"))
    assert [c.sampling_rate_hz for c in p.channels] == [50.0, 50.0]
    assert [c.start_s for c in p.channels] == [0.0, 0.0]
    assert list(p.channels[1].samples) == [2.0, 4.0]


def test_per_channel_rate_takes_non_empty_cells(tmp_path: Path) -> None:
    text = "# sampling_rate_hz=4\n# heart_rate.sampling_rate_hz=1\neda,heart_rate\n"
    text += "\n".join(f"2.0,{'70' if i % 4 == 0 else ''}" for i in range(8)) + "\n"
    eda, hr = read_physio_csv(_write(tmp_path, text)).channels
    assert len(eda.samples) == 8 and eda.sampling_rate_hz == 4.0
    assert list(hr.samples) == [70.0, 70.0] and hr.sampling_rate_hz == 1.0


def test_rounded_times_are_uniform_enough(tmp_path: Path) -> None:
    rows = "\n".join(f"{i / 256:.3f},{i}" for i in range(512))
    p = read_physio_csv(_write(tmp_path, f"time_s,ecg\n{rows}\n"))
    assert p.channels[0].sampling_rate_hz == pytest.approx(256, rel=2e-3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time_s,eda\n0,1\n0.25,x\n", "line 3, column 2 (eda): 'x' is not a number"),
        ("time_s,eda\n0,1\n0.25,nan\n", "line 3, column 2 (eda): 'nan' is not a finite"),
        ("time_s,eda\n0,1\n0.25,\n", "line 3, column 2 (eda): empty cell"),
        ("time_s,eda\n0,1\n0.25\n", "line 3: 1 cells, the header has 2"),
        ("time_s,gsr\n0,1\n", "line 1, column 2: unknown column 'gsr'"),
        ("eda,time_s\n0,1\n", "line 1, column 2: time_s must be the first column"),
        ("time_s,eda,eda\n0,1,1\n", "line 1, column 3: column 'eda' given twice"),
        ("time_s,eda\n0,1\n0.1,1\n0.3,1\n0.4,1\n", "line 4, column 1 (time_s): step 0.2"),
        ("time_s,eda\n0,1\n0,1\n", "time_s): times must increase"),
        ("eda\n1\n2\n", "no sampling rate for 'eda'"),
        ("# sampling_rate_hz=0\neda\n1\n", "line 1: sampling rate must be a number > 0"),
        ("# sampling_rate_hz=abc\neda\n1\n", "line 1: 'abc' is not a number"),
        ("# gsr.sampling_rate_hz=4\neda\n1\n", "line 1: sampling rate for unknown channel"),
        ("# sampling_rate_hz=4\n# ecg.sampling_rate_hz=4\neda\n1\n", "'ecg', which has no col"),
        ("# sampling_rate_hz=10\ntime_s,eda\n0,1\n0.25,1\n", "time_s gives 4 Hz"),
        ("# only comments\n", "no header row"),
        ("time_s,eda\n", "no data rows"),
        ("time_s\n0\n1\n", "no channel columns"),
        ("# sampling_rate_hz=4\n# eda.sampling_rate_hz=1\necg,eda\n1,\n", "(eda): no values"),
    ],
)
def test_errors_name_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    assert message in _error(tmp_path, text)


def test_bundled_sample_reads_and_is_small() -> None:
    path = ROOT / "samples" / "physiology.csv"
    assert path.stat().st_size < 300_000
    assert "SIMULATED" in path.read_text().splitlines()[0]
    p = read_physio_csv(path)
    rates = {c.name: c.sampling_rate_hz for c in p.channels}
    assert rates == {"heart_rate": 1.0, "ecg": 100.0, "eda": 100.0, "respiration": 100.0}
    assert len(p.channels[0].samples) == 60
    assert len(p.channels[1].samples) == 6000


def test_question_markers_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "# marker=comparison,5,8,C1\n# marker=Relevant, 15, 18.5\n"
        "# sampling_rate_hz=1\nheart_rate\n70\n71\n72\n",
    )
    markers = read_physio_csv(path).markers
    assert [(m.kind, m.start_s, m.end_s, m.label) for m in markers] == [
        (common_pb2.QuestionMarker.COMPARISON, 5.0, 8.0, "C1"),
        (common_pb2.QuestionMarker.RELEVANT, 15.0, 18.5, ""),
    ]


@pytest.mark.parametrize(
    "line",
    ["# marker=suspicious,1,2", "# marker=relevant,3,2", "# marker=relevant,a,2", "# marker=x"],
)
def test_bad_markers_name_the_line(tmp_path: Path, line: str) -> None:
    message = _error(tmp_path, f"# sampling_rate_hz=1\n{line}\nheart_rate\n70\n")
    assert "line 2" in message and "marker" in message
