"""Behaviour codes from known per-frame signals: swings, closures, thresholds, windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.vision import behaviour
from services.vision.behaviour import (
    Neutral,
    eye_closures,
    frame_codes,
    neutral,
    repeated_movement,
    turning_points,
    window_features,
)
from services.vision.features import FrameMeasures
from services.vision.observation import FrameStatus
from services.vision.tests import signals

FPS = 10.0
T = np.arange(0, 6, 1 / FPS)
JITTER = np.random.default_rng(0).normal(0, 0.8, len(T))


def bump(t0: float, length: float, depth: float) -> np.ndarray:
    inside = (T >= t0) & (T < t0 + length)
    out = np.zeros(len(T))
    out[inside] = depth * np.sin(np.pi * (T[inside] - t0) / length)
    return out


def test_zigzag_ignores_jitter_and_finds_a_nod() -> None:
    assert turning_points(JITTER, 6.0) == []
    nod = JITTER + bump(3.0, 0.6, -10.0)
    points = turning_points(nod, 6.0)
    assert len(points) == 3
    assert T[points[1]] == pytest.approx(3.3, abs=0.15)  # the bottom of the nod


def test_nods_and_shakes_are_quick_repeated_swings() -> None:
    nod = JITTER + bump(3.0, 0.6, -10.0)
    mask = repeated_movement(T, nod, 6.0, min_swings=2)
    assert mask.any() and T[mask].min() >= 2.8 and T[mask].max() <= 3.8
    shake = JITTER + np.where((T >= 2) & (T < 4), 15 * np.sin(2 * np.pi * 2 * (T - 2)), 0)
    mask = repeated_movement(T, shake, 8.0, min_swings=3)
    assert 1.7 <= T[mask].min() and T[mask].max() <= 4.1 and mask.sum() >= 15
    # Looking down for two seconds is one slow movement, not a nod.
    slow = JITTER + np.where((T >= 2) & (T < 4), -15.0, 0.0)
    assert not repeated_movement(T, slow, 6.0, min_swings=2).any()
    # A single nod is not a shake (needs three swings).
    assert not repeated_movement(T, nod, 6.0, min_swings=3).any()


def test_blinks_and_long_closures() -> None:
    ear = np.full(len(T), 0.30)
    ear[10:12] = 0.08  # 0.2 s: a blink
    ear[30:36] = 0.08  # 0.6 s: eyes closed
    blinks, closed, starts = eye_closures(T, ear, open_ear=0.30, frame_s=0.1)
    assert starts == [10]
    assert blinks.sum() == 2 and closed.sum() == 6


def frames_with(**series: np.ndarray) -> list[FrameMeasures]:
    return signals.frames_with(T, **series)


def resting(frames: list[FrameMeasures]) -> Neutral:
    ref = neutral(frames)
    assert ref is not None
    return ref


def test_codes_read_anatomy_against_the_neutral_face() -> None:
    brow = np.full(len(T), 0.30)
    brow[:10] = 0.40  # raised brows in the first second
    brow[20:25] = 0.24  # lowered in the third
    corner = np.zeros(len(T))
    corner[40:] = 0.15  # lip corners up for the last two seconds
    width = np.full(len(T), 0.8)
    width[50:] = 1.0  # and a wide mouth for the last one: a smile
    frames = frames_with(brow_height=brow, lip_corner=corner, mouth_width=width)
    ref = neutral(frames)
    assert ref is not None
    assert ref.brow_height == pytest.approx(0.30)
    codes = frame_codes(frames, ref)
    assert codes["Raise"].sum() == 10 and codes["Frown"].sum() == 5
    assert codes["lipsUp"].sum() == 20 and codes["Smile"].sum() == 10
    assert codes["gazeInterlocutor"].all() and not codes["openMouth"].any()


def test_window_rates_and_descriptives() -> None:
    yaw = np.where(T >= 3, 25.0, 0.0)  # head turned away for the second half
    frames = frames_with(yaw=yaw)
    frames[5] = FrameMeasures(T[5], FrameStatus.NO_FACE, 0, 120.0)  # one frame lost
    ref = Neutral(brow_height=0.3, ear=0.3, yaw=0.0, pitch=0.0, roll=0.0, iod_px=60.0)
    codes = frame_codes(frames, ref)
    first, total, measured = window_features(frames, codes, [], 0.0, 2.0, 0.1)
    assert (total, measured) == (20, 19)
    assert first["face_frames_ratio"] == pytest.approx(19 / 20)
    assert first["gazeSide"] == 0.0 and first["gazeInterlocutor"] == 1.0
    last, _, _ = window_features(frames, codes, [], 4.0, 6.0, 0.1)
    assert last["gazeSide"] == 1.0 and last["SideTurn"] == 1.0
    assert last["yaw_mean"] == pytest.approx(25.0)
    assert set(behaviour.BEHAVIOUR_CODES) <= set(last)
    assert all(0.0 <= last[c] <= 1.0 for c in behaviour.BEHAVIOUR_CODES)


def test_no_face_gives_no_codes() -> None:
    frames = [FrameMeasures(t, FrameStatus.TOO_DARK, 0, 10.0) for t in T]
    assert neutral(frames) is None
    features, total, measured = window_features(frames, {}, [], 0.0, 2.0, 0.1)
    assert measured == 0 and total == 20
    assert features == {"face_frames_ratio": 0.0}
    assert not any(math.isnan(v) for v in features.values())


def test_gaze_adds_the_eyes_to_the_head_near_neutral_only() -> None:
    eyes = np.zeros(len(T))
    eyes[10:20] = 20.0  # eyes turned 20 deg with the head still: averted
    yaw = np.zeros(len(T))
    yaw[40:50] = 25.0  # head turned 25 deg: past the limit, the pupil no longer counts
    eyes[40:50] = -25.0  # (a pupil estimate that would cancel the turn)
    frames = frames_with(eye_yaw=eyes, yaw=yaw)
    ref = neutral(frames)
    assert ref is not None and ref.gaze_yaw == pytest.approx(0.0)
    codes = frame_codes(frames, ref)
    assert np.flatnonzero(codes["gazeSide"]).tolist() == [*range(10, 20), *range(40, 50)]
    assert codes["gaze_aversion_ratio"].sum() == 20
    # Without any pupil, gaze falls back to the head: eyes-only aversion is not seen.
    head_only = frames_with(yaw=yaw)
    codes = frame_codes(head_only, resting(head_only))
    assert np.flatnonzero(codes["gazeSide"]).tolist() == list(range(40, 50))


def test_lip_press_needs_thin_lips_and_a_shut_mouth() -> None:
    thickness = np.full(len(T), 0.2)
    thickness[5:15] = 0.1  # half the neutral: pressed
    mouth = np.full(len(T), 0.02)
    mouth[10:15] = 0.2  # ... but from frame 10 the mouth is open: talking, not pressing
    frames = frames_with(lip_thickness=thickness, mouth_open=mouth)
    codes = frame_codes(frames, resting(frames))
    assert np.flatnonzero(codes["lip_press_ratio"]).tolist() == list(range(5, 10))


def test_brows_are_not_read_on_shut_eyes() -> None:
    ear = np.full(len(T), 0.3)
    ear[20:22] = 0.05
    brow = np.full(len(T), 0.3)
    brow[20:22] = 0.45  # the landmark model lifts the brows off a shut eye
    frames = frames_with(ear=ear, brow_height=brow)
    codes = frame_codes(frames, resting(frames))
    assert not codes["Raise"].any() and codes["Close-R"].sum() == 2
