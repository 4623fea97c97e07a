"""Events from known per-frame signals: onset, apex and offset where the signal put them."""

from __future__ import annotations

import numpy as np
import pytest

from services.vision import events
from services.vision.behaviour import frame_codes, neutral
from services.vision.features import FrameMeasures
from services.vision.observation import FrameStatus
from services.vision.tests import signals

FPS = 30.0
T = np.arange(0, 3, 1 / FPS)


def found(frames: list[FrameMeasures]) -> list[events.Event]:
    ref = neutral(frames)
    assert ref is not None
    return events.find_events(frames, ref, frame_codes(frames, ref), 1 / FPS)


def test_a_closure_of_n_frames_is_one_blink_n_frames_long() -> None:
    ear = np.full(len(T), 0.3)
    ear[30:34] = [0.2, 0.06, 0.08, 0.15]  # four frames under 70% of the open eye
    (blink,) = found(signals.frames_with(T, ear=ear))
    assert blink.name == "blink"
    assert blink.onset_s == pytest.approx(1.0)
    assert blink.apex_s == pytest.approx(31 / FPS)  # the lowest eye aspect ratio
    assert blink.offset_s - blink.onset_s == pytest.approx(4 / FPS)
    assert blink.magnitude == pytest.approx(0.8)
    ear[60:75] = 0.05  # half a second shut: a closure, not a blink
    names = [e.name for e in found(signals.frames_with(T, ear=ear))]
    assert names == ["blink", "eye_closure"]


def test_a_brief_brow_raise_is_a_micro_expression() -> None:
    brow = np.full(len(T), 0.30)
    brow[30:33] = [0.36, 0.40, 0.37]  # 100 ms, apex in the middle
    (event,) = found(signals.frames_with(T, brow_height=brow))
    assert event.name == "micro_expression"
    assert event.detail.startswith("brow raise")
    assert (event.onset_s, event.apex_s, event.offset_s) == pytest.approx((1.0, 31 / FPS, 1.1))
    assert event.magnitude == pytest.approx(0.10)


def test_a_long_raise_is_an_expression_not_a_micro_one() -> None:
    brow = np.full(len(T), 0.30)
    brow[30:54] = 0.40  # 800 ms
    (event,) = found(signals.frames_with(T, brow_height=brow))
    assert event.name == "brow_raise"
    assert event.offset_s - event.onset_s == pytest.approx(0.8)


def test_what_is_not_seen_is_not_an_event() -> None:
    corner = np.zeros(len(T))
    corner[30:33] = -0.1  # brief lip corners down...
    frames = signals.frames_with(T, lip_corner=corner)
    (event,) = found(frames)
    assert event.name == "micro_expression" and "lip corners down" in event.detail
    # ... but the face is lost right after: the offset was not seen, so no micro-expression.
    frames[33] = FrameMeasures(T[33], FrameStatus.NO_FACE, 0, 120.0)
    (event,) = found(frames)
    assert event.name == "lip_corners_down" and "not seen" in event.detail
    # One frame is not enough to tell a movement from a landmark glitch.
    corner[:] = 0
    corner[30] = -0.2
    assert found(signals.frames_with(T, lip_corner=corner)) == []


def test_micro_expressions_must_stand_out_of_the_landmark_noise() -> None:
    rng = np.random.default_rng(1)
    noisy = 0.30 + rng.normal(0, 0.03, len(T))  # landmark jitter of half the threshold
    noisy[30:33] = 0.37
    assert not [
        e for e in found(signals.frames_with(T, brow_height=noisy)) if e.name == "micro_expression"
    ]
    steady = 0.30 + rng.normal(0, 0.002, len(T))
    steady[30:33] = 0.37
    assert [e.name for e in found(signals.frames_with(T, brow_height=steady))] == [
        "micro_expression"
    ]


def test_a_one_frame_slip_does_not_split_an_expression() -> None:
    corner = np.zeros(len(T))
    corner[20:50] = 0.1
    corner[35] = 0.0  # the landmarks slip for one frame
    (event,) = found(signals.frames_with(T, lip_corner=corner))
    assert event.name == "lip_corners_up"
    assert (event.onset_s, event.offset_s) == pytest.approx((20 / FPS, 50 / FPS))


def test_expressions_are_not_read_while_the_head_nods() -> None:
    t = T
    pitch = np.where((t >= 1) & (t < 2), -12 * np.sin(2 * np.pi * (t - 1)) ** 2, 0.0)
    corner = 0.08 * np.abs(pitch) / 12  # the mouth corners 'rise' in the picture as it nods
    found_events = found(signals.frames_with(T, pitch=pitch, lip_corner=corner))
    assert [e.name for e in found_events] == ["head_nod"]
    (nod,) = found_events
    assert 0.9 <= nod.onset_s and nod.offset_s <= 2.1 and nod.magnitude > 10


def test_gaze_aversion_says_where_and_how() -> None:
    eyes = np.zeros(len(T))
    eyes[30:60] = -25.0  # the eyes alone, a second to the image's left
    (event,) = found(signals.frames_with(T, eye_yaw=eyes))
    assert event.name == "gaze_aversion"
    assert (event.onset_s, event.offset_s) == pytest.approx((1.0, 2.0))
    assert event.detail == "to the image's left 25 deg (head +0, eyes -25)"
    eyes[30:35] = 0
    eyes[40:] = 0  # a 5-frame glance is a saccade, not aversion
    assert found(signals.frames_with(T, eye_yaw=eyes)) == []


def test_segments_split_at_unmeasured_frames() -> None:
    frames = signals.frames_with(T[:6])
    frames[2] = FrameMeasures(T[2], FrameStatus.TOO_DARK, 0, 10.0)
    assert events.segments(frames).tolist() == [0, 0, 1, 1, 1]
    mask = np.array([True, True, True, False, True])
    assert events.runs(mask, events.segments(frames)) == [(0, 2), (2, 3), (4, 5)]
