"""The live pacing and quality control around every modality's session (veritas/live.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from veritas.live import HIGH, LOW, MEDIUM, Climbs, Cpu, CpuMeter, Pacer, QualityController

TARGET = 0.150


def run(
    controller: QualityController, cost: dict[int, float], windows: int, cpu_busy: float = 0.2
) -> list[int]:
    """Levels over `windows` windows when a window at level L takes cost[L] seconds."""
    levels = []
    for _ in range(windows):
        level = controller.level
        levels.append(level)
        controller.observe(cost[level], lag_s=0.0, cpu=Cpu(cpu_busy, cpu_busy))
    return levels


def changes(levels: list[int]) -> int:
    return sum(1 for a, b in zip(levels, levels[1:]) if a != b)


def test_steps_down_under_injected_slowness_and_back_up_when_idle() -> None:
    controller = QualityController(0, TARGET)  # AUTO
    idle = {LOW: 0.01, MEDIUM: 0.02, HIGH: 0.04}
    slow = {LOW: 0.05, MEDIUM: 0.4, HIGH: 0.8}  # the machine got busy: only LOW fits
    assert run(controller, idle, 10) == [MEDIUM] * 3 + [HIGH] * 7  # HIGH is earned
    busy = run(controller, slow, 40)
    assert busy[:3] == [HIGH, MEDIUM, LOW]  # one late window steps down at once
    assert busy.count(LOW) >= 34  # it probes MEDIUM again rarely, with growing waits
    assert HIGH not in busy[1:]
    calm = run(controller, idle, 120)
    assert calm[-10:] == [HIGH] * 10  # back up once the slowness is gone


def test_does_not_oscillate_at_the_edge_of_a_level() -> None:
    """HIGH is just too slow, MEDIUM fits: the controller tries HIGH again now and then, but
    each failed try doubles the wait, so changes become rare instead of periodic."""
    controller = QualityController(0, TARGET)
    cost = {LOW: 0.03, MEDIUM: 0.06, HIGH: 0.2}
    levels = run(controller, cost, 400)
    assert changes(levels[200:]) <= 4
    assert levels[200:].count(MEDIUM) >= 190
    assert LOW not in levels[20:]  # it never had a reason to go below MEDIUM


def test_needs_calm_windows_and_spare_cpu_to_step_up() -> None:
    controller = QualityController(0, TARGET)
    assert controller.level == MEDIUM
    controller.observe(1.0)
    assert controller.level == LOW  # the starting guess failed: climbing back waits longer
    assert controller.up_after == 6
    for _ in range(10):  # inside the target but not well inside: stay
        controller.observe(0.1)
    assert controller.level == LOW
    for _ in range(10):  # quick, but the process is saturating its cores: stay
        controller.observe(0.01, cpu=Cpu(0.95, 0.95))
    assert controller.level == LOW
    for _ in range(5):
        controller.observe(0.01, cpu=Cpu(0.3, 0.3))
    assert controller.level == LOW
    controller.observe(0.01, cpu=Cpu(0.3, 0.3))
    assert controller.level == MEDIUM


def test_steps_up_only_where_the_cpu_has_room_for_the_next_level() -> None:
    """Eight streams share a process at 60% of the cores: one stream going from 6 to 30
    frames/s would add 4 x 7.5% (over CPU_ROOM), from 3 to 6 frames/s 7.5% (under it)."""
    rate = {LOW: 3.0, MEDIUM: 6.0, HIGH: 30.0}
    medium = QualityController(0, TARGET, cost=rate.__getitem__)
    for _ in range(20):
        medium.observe(0.01, cpu=Cpu(0.6, 0.6), streams=8)
    assert medium.level == MEDIUM
    assert not medium.room(Cpu(0.6, 0.6), 8)
    assert medium.room(Cpu(0.075, 0.075), 1)  # one stream alone: room
    # The same process share on a machine whose other processes keep it busy: no room.
    assert not medium.room(Cpu(0.075, 0.7), 1)
    low = QualityController(0, TARGET, cost=rate.__getitem__)
    low.observe(1.0)
    for _ in range(6):
        low.observe(0.01, cpu=Cpu(0.6, 0.6), streams=8)
    assert low.level == MEDIUM


def test_lag_behind_arrival_counts_as_late() -> None:
    controller = QualityController(0, TARGET)
    controller.observe(0.01, lag_s=0.5)
    assert controller.level == LOW  # one step down from MEDIUM, where AUTO starts


def test_a_pinned_level_stays_whatever_happens() -> None:
    controller = QualityController(LOW, TARGET)
    assert run(controller, {LOW: 5.0, MEDIUM: 5.0, HIGH: 5.0}, 5) == [LOW] * 5
    controller = QualityController(HIGH, TARGET)
    assert run(controller, {LOW: 5.0, MEDIUM: 5.0, HIGH: 5.0}, 5) == [HIGH] * 5


def test_pacer_keeps_frames_evenly_at_the_rate() -> None:
    pacer = Pacer()
    kept = [i for i in range(300) if pacer.take(i / 30, 10.0, 0.0, 1.0)]
    assert len(kept) == 100
    assert {b - a for a, b in zip(kept, kept[1:])} == {3}  # every third frame


def test_pacer_thins_further_while_behind() -> None:
    pacer = Pacer()
    on_time = sum(pacer.take(i / 30, 10.0, 0.0, 1.0) for i in range(300))
    pacer = Pacer()
    behind = sum(pacer.take(i / 30, 10.0, 2.5, 1.0) for i in range(300))  # 2.5 windows behind
    assert behind * 4 <= on_time
    assert behind > 0  # skipping, never stopping


def test_pacer_keeps_every_frame_below_the_rate() -> None:
    pacer = Pacer()
    assert all(pacer.take(i / 5, 10.0, 0.0, 1.0) for i in range(50))


def test_cpu_meter_reads_the_process_and_the_whole_machine(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 100 700 100 0 0 0 0 0\n")  # busy 200 of 1000
    meter = CpuMeter(str(stat))
    stat.write_text("cpu  250 0 250 800 100 0 0 0 0 0\n")  # +300 busy of +400
    time.sleep(0.25)
    cpu = meter.read()
    assert cpu.machine == pytest.approx(0.75)
    assert 0 <= cpu.process <= cpu.machine
    assert CpuMeter(str(tmp_path / "missing")).read().machine >= 0  # falls back to the process


def test_streams_of_one_process_step_up_one_at_a_time() -> None:
    """Four calm streams with room: the first to ask steps up; the others hold for two
    windows of every stream before the next may try."""
    climbs = Climbs()
    streams = [QualityController(0, TARGET, climbs=climbs) for _ in range(4)]
    stepped = []
    for window in range(6):
        for i, c in enumerate(streams):
            before = c.level
            c.observe(0.01, cpu=Cpu(0.1, 0.1), streams=4)
            if c.level != before:
                stepped.append((window, i))
    assert stepped[0] == (2, 0)  # after up_after (3) calm windows
    assert stepped[1][0] - stepped[0][0] >= 2  # the next, two windows of every stream later
    assert len(stepped) == 2
