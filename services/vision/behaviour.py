"""Automatic counterparts of the MUMIN behaviour codes, per frame and per window.

The vision model was trained on the Real-life Trial clips' hand-coded MUMIN codes
(/work/shared/data/rldd_gestures/gestures.csv). Each code a video can measure is computed
here under the CSV's own column name, as the fraction of face frames in a window where the
behaviour is present. A coder marks a clip when a behaviour is the clip's dominant one; we
measure a rate per window: the model card states that shift.

Two kinds of thresholds, on purpose:
- Shape measures that carry their own zero (mouth opening, lip corners against the lip
  midline, eye closure against the open eye) use fixed thresholds.
- Measures whose resting value depends on anatomy and camera placement (brow height, head
  angles, face scale, how wide the eyes usually are) are read against the subject's neutral:
  the median over the baseline video when one is given, otherwise over the input itself.
The thresholds are heuristics chosen from the geometry (see each constant); no labelled
video was available to tune them.

Gaze: dlib's 68 landmarks have no iris. Sideways gaze is the head's yaw plus the eyes' own
turn estimated from the pupil (gaze.py) in frames where a pupil was found and the head is
near its neutral yaw, the head's yaw alone elsewhere; vertical gaze is the head's pitch
("gaze down" means "face turned down"). Two rates that are no MUMIN code are reported for
explanation only (EXTRA_RATES): lip press and gaze aversion. Brows are not read while the
eyes are shut (see brow_series).
Repeated movements (nods, shakes, repeated tilts) are found as runs of quick back-and-forth
swings of the head angle. Timestamped events (blinks, micro-expressions, nods...) are built
from these per-frame flags and signals in events.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.vision.features import FrameMeasures
from veritas.analysis import Event

# --- fixed thresholds (inter-ocular units unless noted) ---
MOUTH_OPEN_RATIO = 0.10  # inner-lip gap / mouth width: lips visibly apart
LIP_CORNER_UP = 0.08  # corners above the lip midline (a smile lifts them ~0.15)
LIP_CORNER_DOWN = -0.03  # corners below the midline
SMILE_MOUTH_WIDTH = 0.90  # a smile also widens the mouth (rest ~0.8 of inter-ocular)
# The next three are set for the landmarks the service measures with, MediaPipe's face mesh
# (neural_face.py), which moves its lid and brow points less than dlib's 68-point model did
# for the same movement. On the bundled sample (test_dlib_reference.py prints these): shut
# eyes read 0.70-0.80 of the median eye aspect ratio (dlib: 0.19-0.34), open eyes never under
# 0.87 (the lowest while frowning); a 0.12 inter-ocular brow raise reads +0.05-0.06 (dlib up
# to +0.07), a 0.09 frown -0.027 to -0.038 (dlib -0.06 to -0.07), against a spread of about
# +-0.012 at rest. dlib's values were 0.70, 0.06 and 0.04.
EYES_CLOSED_FRACTION = 0.84  # eye aspect ratio under 84% of the subject's open-eye value
LONG_CLOSURE_S = 0.40  # closures shorter than this are blinks (Close-R), longer Close-BE
# --- thresholds against the subject's neutral ---
BROW_RAISE = 0.035  # brows this much above neutral (as the face mesh measures a raise)
BROW_LOWER = 0.025  # brows this much below neutral (frown)
EYES_WIDE_FRACTION = 1.25  # eye aspect ratio 25% above neutral (X-Open)
GAZE_PITCH_DEG = 10.0  # face turned this far down / up from neutral
GAZE_YAW_DEG = 15.0  # gaze (head + eyes) turned this far sideways from neutral
EYE_GAZE_MAX_HEAD_DEG = 15.0  # the pupil counts only while the head is this near neutral
SIDE_TURN_DEG = 20.0  # a clear side turn of the head
SIDE_TILT_DEG = 10.0  # head leaned sideways
LEAN_FORWARD_SCALE = 1.12  # face 12% larger than neutral: leaning towards the camera
LIP_PRESS_FRACTION = 0.65  # red of the lips under 65% of neutral, mouth shut: lips pressed
LIP_PRESS_MOUTH_SHUT = 0.05  # inner-lip gap / mouth width under this: the mouth is shut
# --- repeated movements: swings of at least this many degrees, each within MAX_SWING_S ---
NOD_SWING_DEG = 6.0
SHAKE_SWING_DEG = 8.0
TILT_SWING_DEG = 5.0
MAX_SWING_S = 1.0
MAX_DWELL_S = 0.5  # holding the head at a turn longer than this ends the movement

# The MUMIN columns measured here (exact gestures.csv names), in a stable order.
BEHAVIOUR_CODES: tuple[str, ...] = (
    "Smile",
    "Scowl",
    "Frown",
    "Raise",
    "Close-R",
    "X-Open",
    "Close-BE",
    "gazeInterlocutor",
    "gazeDown",
    "gazeUp",
    "gazeSide",
    "openMouth",
    "closeMouth",
    "lipsUp",
    "lipsDown",
    "SideTurn",
    "sideTilt",
    "sideTurnR",
    "sideTiltR",
    "forwardHead",
    "downRHead",
)
# Event counts: they depend on the span's length, so they get no baseline (rates do).
COUNTS: tuple[str, ...] = (
    "blink_count",
    "micro_expression_count",
    "head_nod_count",
    "head_shake_count",
)
# Rates that are no MUMIN code (never model inputs), reported for explanation.
EXTRA_RATES: tuple[str, ...] = ("lip_press_ratio", "gaze_aversion_ratio")
# Means over a span's measured frames: (feature, FrameMeasures attribute).
MEANS: tuple[tuple[str, str], ...] = (
    ("ear_mean", "ear"),
    ("mouth_open_mean", "mouth_open"),
    ("brow_height_mean", "brow_height"),
    ("lip_corner_mean", "lip_corner"),
    ("yaw_mean", "yaw"),
    ("pitch_mean", "pitch"),
    ("roll_mean", "roll"),
    ("eye_yaw_mean", "eye_yaw"),
    ("gaze_yaw_mean", "gaze_yaw"),
)
DESCRIPTIVE: tuple[str, ...] = (
    "blink_count",
    "blink_rate_per_min",
    "blink_duration_mean_s",
    "micro_expression_count",
    "head_nod_count",
    "head_shake_count",
    "ear_mean",
    "mouth_open_mean",
    "brow_height_mean",
    "lip_corner_mean",
    "yaw_mean",
    "pitch_mean",
    "roll_mean",
    "eye_yaw_mean",
    "gaze_yaw_mean",
    "pupil_found_ratio",
    "face_frames_ratio",
)
UNITS: dict[str, str] = {
    **{code: "fraction of face frames" for code in BEHAVIOUR_CODES + EXTRA_RATES},
    "blink_count": "blinks",
    "blink_rate_per_min": "blinks per minute of face",
    "blink_duration_mean_s": "s",
    "micro_expression_count": "events",
    "head_nod_count": "events",
    "head_shake_count": "events",
    "ear_mean": "eye aspect ratio",
    "mouth_open_mean": "lip gap / mouth width",
    "brow_height_mean": "inter-ocular distances",
    "lip_corner_mean": "inter-ocular distances",
    "yaw_mean": "deg",
    "pitch_mean": "deg",
    "roll_mean": "deg",
    "eye_yaw_mean": "deg",
    "gaze_yaw_mean": "deg",
    "pupil_found_ratio": "fraction of face frames",
    "face_frames_ratio": "fraction of frames",
}


@dataclass(frozen=True)
class Neutral:
    """The subject's resting values: medians over frames with exactly one face."""

    brow_height: float
    ear: float
    yaw: float
    pitch: float
    roll: float
    iod_px: float
    lip_corner: float = 0.0
    lip_thickness: float = math.nan
    gaze_yaw: float = math.nan  # NaN when no pupil was ever found: gaze is the head's yaw


def neutral(frames: Sequence[FrameMeasures]) -> Neutral | None:
    """Medians of the anatomy-dependent measures, or None when no frame had one face."""
    measured = [f for f in frames if f.measured]
    if not measured:
        return None

    def median(name: str) -> float:
        values = np.array([getattr(f, name) for f in measured], dtype=np.float64)
        values = values[np.isfinite(values)]
        return float(np.median(values)) if values.size else math.nan

    return Neutral(
        brow_height=median("brow_height"),
        ear=median("ear"),
        yaw=median("yaw"),
        pitch=median("pitch"),
        roll=median("roll"),
        iod_px=median("iod_px"),
        lip_corner=median("lip_corner"),
        lip_thickness=median("lip_thickness"),
        gaze_yaw=median("gaze_yaw"),
    )


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs, end exclusive, of consecutive True values."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def turning_points(values: np.ndarray, amplitude: float) -> list[int]:
    """Indices of the swing extremes of `values` (a zig-zag filter).

    An extreme is confirmed once the signal has come back from it by `amplitude`, so jitter
    smaller than `amplitude` never makes a swing. The extreme the signal starts from and the
    last one it reaches count too, so one down-and-back nod gives three points.
    """
    n = len(values)
    if n < 2:
        return []
    low = high = 0
    direction = 0
    for i in range(1, n):  # which way does the first real swing go?
        low = i if values[i] < values[low] else low
        high = i if values[i] > values[high] else high
        if values[i] - values[low] >= amplitude:
            direction, pivots, extreme = 1, [low], i
            break
        if values[high] - values[i] >= amplitude:
            direction, pivots, extreme = -1, [high], i
            break
    if direction == 0:
        return []
    for i in range(extreme + 1, n):
        v = values[i]
        if (v - values[extreme]) * direction > 0:
            extreme = i
        elif (values[extreme] - v) * direction >= amplitude:
            pivots.append(extreme)
            direction, extreme = -direction, i
    pivots.append(extreme)
    return pivots


def _near(values: np.ndarray, target: float, tolerance: float, indices: range) -> int:
    """The first index in `indices` whose value is within `tolerance` of `target`."""
    return next(j for j in indices if abs(values[j] - target) <= tolerance)


def repeated_movement(
    times: np.ndarray, values: np.ndarray, amplitude: float, min_swings: int
) -> np.ndarray:
    """Mask of samples inside runs of >= `min_swings` quick swings of >= `amplitude`.

    A swing's time runs from when the head leaves one extreme to when it reaches the next,
    and the head may not rest at a turn for longer than MAX_DWELL_S, so looking down for a
    while and back up is not a nod.
    """
    mask = np.zeros(len(values), dtype=bool)
    pivots = turning_points(values, amplitude)
    tolerance = amplitude / 3
    # When the head reaches each extreme (coming from the previous one) and leaves it.
    arrive = pivots[:1] + [
        _near(values, values[p], tolerance, range(q + 1, p + 1))
        for q, p in zip(pivots, pivots[1:], strict=False)
    ]
    leave = [
        _near(values, values[p], tolerance, range(nxt - 1, p - 1, -1))
        for p, nxt in zip(pivots, pivots[1:], strict=False)
    ] + pivots[-1:]

    def close(first: int, last: int) -> None:
        if last - first >= min_swings:
            mask[leave[first] : arrive[last] + 1] = True

    first = 0
    for k in range(1, len(pivots)):
        if k - 1 > first and times[leave[k - 1]] - times[arrive[k - 1]] > MAX_DWELL_S:
            close(first, k - 1)  # held the pose at the turn: the movement ended there
            first = k - 1
        if times[arrive[k]] - times[leave[k - 1]] > MAX_SWING_S:
            close(first, k - 1)  # a slow swing is not part of a nod or a shake
            first = k
    if pivots:
        close(first, len(pivots) - 1)
    return mask


def eye_closures(
    times: np.ndarray, ear: np.ndarray, open_ear: float, frame_s: float
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(blink mask, long-closure mask, blink start indices) over measured frames."""
    closed = ear < EYES_CLOSED_FRACTION * open_ear
    blinks = np.zeros(len(ear), dtype=bool)
    long = np.zeros(len(ear), dtype=bool)
    starts: list[int] = []
    for start, end in true_runs(closed):
        duration = times[end - 1] - times[start] + frame_s
        if duration < LONG_CLOSURE_S:
            blinks[start:end] = True
            starts.append(int(start))
        else:
            long[start:end] = True
    return blinks, long, starts


def measured_series(frames: Sequence[FrameMeasures], name: str) -> np.ndarray:
    """One per-frame measure over the frames with exactly one face, in time order."""
    return np.array([getattr(f, name) for f in frames if f.measured], dtype=np.float64)


def sampling_interval(times: Sequence[float]) -> float:
    """The time one sample stands for: the mean spacing of all sampled frames (a 12 fps
    source sampled at 10 fps has spacings of 1/12 and 1/6 s that average to 1/10); 0.1 s
    when there is one frame."""
    return (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 0.1


def brow_series(frames: Sequence[FrameMeasures], reference: Neutral) -> np.ndarray:
    """Brow height per measured frame, NaN while the eyes are shut: brows are measured from
    the eye corners, and the landmark model places those differently on a closed eye."""
    brow = measured_series(frames, "brow_height")
    shut = measured_series(frames, "ear") < EYES_CLOSED_FRACTION * reference.ear
    return np.where(shut, np.nan, brow)


def gaze_deviation(frames: Sequence[FrameMeasures], reference: Neutral) -> np.ndarray:
    """Sideways gaze against neutral (deg): head + eyes where a pupil was found and the head
    is within EYE_GAZE_MAX_HEAD_DEG of its neutral yaw, else the head alone.

    Beyond that the pupil estimate is biased: on rendered head turns of ~20 deg with the
    eyes still in the head it read an eye turn of 10-15 deg (synthetic.py, the sample).
    """
    head = measured_series(frames, "yaw") - reference.yaw
    if not math.isfinite(reference.gaze_yaw):
        return head
    gaze = measured_series(frames, "gaze_yaw") - reference.gaze_yaw
    usable = np.isfinite(gaze) & (np.abs(head) <= EYE_GAZE_MAX_HEAD_DEG)
    return np.where(usable, gaze, head)


def frame_codes(frames: Sequence[FrameMeasures], reference: Neutral) -> dict[str, np.ndarray]:
    """Per measured frame, whether each behaviour code (and extra rate) is present.

    Arrays run over the frames with one face only (`FrameMeasures.measured`), in order.
    """
    m = [f for f in frames if f.measured]
    t = np.array([f.timestamp_s for f in m])

    def col(name: str) -> np.ndarray:
        return measured_series(m, name)

    frame_s = sampling_interval([f.timestamp_s for f in frames])
    ear, brow, corner, mouth = col("ear"), col("brow_height"), col("lip_corner"), col("mouth_open")
    width, iod = col("mouth_width"), col("iod_px")
    d_yaw, d_pitch = col("yaw") - reference.yaw, col("pitch") - reference.pitch
    d_roll = col("roll") - reference.roll
    d_gaze = gaze_deviation(m, reference)

    blinks, long_closure, _ = eye_closures(t, ear, reference.ear, frame_s)
    brow = brow_series(m, reference)

    def angle(name: str) -> np.ndarray:  # a pose solvePnP could not fit counts as neutral
        return np.nan_to_num(col(name), nan=getattr(reference, name))

    shake = repeated_movement(t, angle("yaw"), SHAKE_SWING_DEG, 3)
    tilts = repeated_movement(t, angle("roll"), TILT_SWING_DEG, 3)
    nods = repeated_movement(t, angle("pitch"), NOD_SWING_DEG, 2)
    frown = brow < reference.brow_height - BROW_LOWER
    up, down = corner > LIP_CORNER_UP, corner < LIP_CORNER_DOWN
    gaze_down, gaze_up = d_pitch < -GAZE_PITCH_DEG, d_pitch > GAZE_PITCH_DEG
    gaze_side = np.abs(d_gaze) > GAZE_YAW_DEG
    posed = np.isfinite(d_gaze) & np.isfinite(d_pitch)  # no pose, no claim about gaze
    looking = posed & ~(gaze_down | gaze_up | gaze_side)
    opened = mouth > MOUTH_OPEN_RATIO
    pressed = (mouth < LIP_PRESS_MOUTH_SHUT) & (
        col("lip_thickness") < LIP_PRESS_FRACTION * reference.lip_thickness
    )
    return {
        "Smile": up & (width > SMILE_MOUTH_WIDTH),
        "Scowl": frown & down,
        "Frown": frown,
        "Raise": brow > reference.brow_height + BROW_RAISE,
        "Close-R": blinks,
        "X-Open": ear > EYES_WIDE_FRACTION * reference.ear,
        "Close-BE": long_closure,
        "gazeInterlocutor": looking,
        "gazeDown": gaze_down,
        "gazeUp": gaze_up,
        "gazeSide": gaze_side,
        "openMouth": opened,
        "closeMouth": ~opened,
        "lipsUp": up,
        "lipsDown": down,
        "SideTurn": (np.abs(d_yaw) > SIDE_TURN_DEG) & ~shake,
        "sideTilt": (np.abs(d_roll) > SIDE_TILT_DEG) & ~tilts,
        "sideTurnR": shake,
        "sideTiltR": tilts,
        "forwardHead": iod > LEAN_FORWARD_SCALE * reference.iod_px,
        "downRHead": nods,
        "lip_press_ratio": pressed,
        "gaze_aversion_ratio": posed & ~looking,
    }


def window_features(
    frames: Sequence[FrameMeasures],
    codes: dict[str, np.ndarray],
    events: Sequence[Event],
    start_s: float,
    end_s: float,
    frame_s: float,
    events_in_span: bool = True,
) -> tuple[dict[str, float], int, int]:
    """Features of the frames in [start_s, end_s): (features, frames, measured frames).

    `codes` come from `frame_codes` over the same `frames`, `events` from
    events.find_events (those whose onset lies in the span are counted); `frame_s` is the
    sampling interval (the time one measured frame stands for). Codes are reported only
    when the window has a measured face; never guessed from nothing. With
    `events_in_span=False` every event given is counted (live windows are given the events
    that ended in them, which may have begun in the window before).
    """
    in_window = [start_s <= f.timestamp_s < end_s for f in frames]
    total = sum(in_window)
    measured_mask = np.array([ok for ok, f in zip(in_window, frames, strict=True) if f.measured])
    measured = [f for ok, f in zip(in_window, frames, strict=True) if ok and f.measured]
    features: dict[str, float] = {"face_frames_ratio": len(measured) / total if total else 0.0}
    if not measured:
        return features, total, 0
    for code in BEHAVIOUR_CODES + EXTRA_RATES:
        features[code] = float(codes[code][measured_mask].mean())
    here = [e for e in events if start_s <= e.onset_s < end_s or not events_in_span]

    def count(*names: str) -> float:
        return float(sum(e.name in names for e in here))

    blinks = [e.offset_s - e.onset_s for e in here if e.name == "blink"]
    features["blink_count"] = float(len(blinks))
    features["blink_rate_per_min"] = len(blinks) * 60.0 / (len(measured) * frame_s)
    features["blink_duration_mean_s"] = float(np.mean(blinks)) if blinks else math.nan
    features["micro_expression_count"] = count("micro_expression")
    features["head_nod_count"] = count("head_nod")
    features["head_shake_count"] = count("head_shake")
    for name, attr in MEANS:
        values = np.array([getattr(f, attr) for f in measured], dtype=np.float64)
        features[name] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    pupils = np.array([f.eye_yaw for f in measured], dtype=np.float64)
    features["pupil_found_ratio"] = float(np.isfinite(pupils).mean())
    return features, total, len(measured)
