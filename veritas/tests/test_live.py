"""The live pacing and quality control around every modality's session (veritas/live.py)."""

from __future__ import annotations

from veritas.live import HIGH, LOW, MEDIUM, Pacer, QualityController

TARGET = 0.150


def run(controller: QualityController, cost: dict[int, float], windows: int) -> list[int]:
    """Levels over `windows` windows when a window at level L takes cost[L] seconds."""
    levels = []
    for _ in range(windows):
        level = controller.level
        levels.append(level)
        controller.observe(cost[level], lag_s=0.0, cpu_busy=0.5)
    return levels


def changes(levels: list[int]) -> int:
    return sum(1 for a, b in zip(levels, levels[1:]) if a != b)


def test_steps_down_under_injected_slowness_and_back_up_when_idle() -> None:
    controller = QualityController(0, TARGET)  # AUTO
    idle = {LOW: 0.01, MEDIUM: 0.02, HIGH: 0.04}
    slow = {LOW: 0.05, MEDIUM: 0.4, HIGH: 0.8}  # the machine got busy: only LOW fits
    assert run(controller, idle, 10) == [HIGH] * 10
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
    controller.observe(1.0)
    assert controller.level == MEDIUM
    for _ in range(10):  # inside the target but not well inside: stay
        controller.observe(0.1)
    assert controller.level == MEDIUM
    for _ in range(10):  # quick, but the process is saturating its cores: stay
        controller.observe(0.01, cpu_busy=0.95)
    assert controller.level == MEDIUM
    for _ in range(3):
        controller.observe(0.01, cpu_busy=0.3)
    assert controller.level == HIGH


def test_lag_behind_arrival_counts_as_late() -> None:
    controller = QualityController(0, TARGET)
    controller.observe(0.01, lag_s=0.5)
    assert controller.level == MEDIUM


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
