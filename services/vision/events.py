"""Timestamped facial events from the per-frame measures: blinks, expressions, head movements.

Every event has an onset (the first frame it is seen in), an apex (the frame where it is
strongest) and an offset (the end of its last frame), in seconds on the input's timeline.
Events never bridge a gap (a frame with no face, several faces or too dark): what was not
seen is not filled in. Facial actions are read only in frames where the head is near its
neutral pose and not nodding or shaking (`expression_readable`).

- `blink` / `eye_closure`: runs of closed eyes (behaviour.eye_closures), shorter or longer
  than LONG_CLOSURE_S. Magnitude: how far the eye aspect ratio fell (1 = fully shut).
- Facial actions, each read against the subject's neutral face with a hysteresis (a run
  starts and ends at half the threshold and must reach the full threshold once):
  `brow_raise`, `brow_lower` (frown), `lip_corners_up`, `lip_corners_down`, `lip_press`.
  One that comes and goes within MICRO_MAX_S (500 ms, the usual upper bound, e.g. Yan et
  al. 2013) is reported as a `micro_expression` instead, with the action in `detail`, if
  both its onset and its offset were seen and its apex stands out of the landmark noise.
  Any action must span MIN_SAMPLES frames: one frame cannot be told from a landmark
  glitch. At the default 10 fps this means movements of 200-500 ms; send `target_fps`
  25-30 to catch the shortest ones. Lip press is never a micro-expression: speech (p, b, m)
  presses the lips for that long, and from landmarks alone speech and expression look alike.
- `head_nod`, `head_shake`, `head_tilt` (repeated or held), `head_turn` (held) and
  `gaze_aversion`: runs of the matching behaviour codes. Magnitude in degrees (the swing's
  range for repeated movements, the largest turn otherwise); gaze aversion's detail says
  where the gaze went and how much of it the eyes did.

Magnitudes of facial actions are the apex's distance from neutral: inter-ocular distances
for brows and lip corners, a share of the neutral thickness for lip press.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from services.vision import behaviour
from services.vision.behaviour import Neutral
from services.vision.features import FrameMeasures
from veritas.analysis import Event

MICRO_MAX_S = 0.5
MIN_SAMPLES = 2  # one frame cannot be told from a landmark glitch
NOISE_MULTIPLE = 4.0  # a micro-expression's apex is this many noise SDs from neutral
MIN_GAZE_AVERSION_S = 0.3  # shorter glances away are saccades, not aversion
MIN_HELD_S = 0.3  # a held head turn or tilt lasts at least this long
EXPRESSION_MAX_YAW_DEG = 15.0  # facial actions are read only this near the neutral pose
EXPRESSION_MAX_PITCH_DEG = 10.0


@dataclass(frozen=True)
class Action:
    """A facial action read as a signed deviation from the neutral face."""

    name: str
    measure: str  # FrameMeasures attribute
    sign: float  # +1: the action raises the measure; -1: lowers it
    threshold: float  # in the measure's units (inter-ocular distances, or a share)
    label: str
    may_be_micro: bool = True


ACTIONS: tuple[Action, ...] = (
    Action("brow_raise", "brow_height", +1, behaviour.BROW_RAISE, "brow raise"),
    Action("brow_lower", "brow_height", -1, behaviour.BROW_LOWER, "brow lower (frown)"),
    Action("lip_corners_up", "lip_corner", +1, 0.06, "lip corners up"),
    Action("lip_corners_down", "lip_corner", -1, 0.06, "lip corners down"),
    Action(
        "lip_press",
        "lip_thickness",
        -1,
        1 - behaviour.LIP_PRESS_FRACTION,
        "lip press",
        may_be_micro=False,
    ),
)


def segments(frames: Sequence[FrameMeasures]) -> np.ndarray:
    """A segment id per measured frame: frames with no unmeasured frame between them share
    one (the id counts the unmeasured frames before the frame)."""
    lost = np.cumsum([not f.measured for f in frames])
    return np.array([n for n, f in zip(lost, frames, strict=True) if f.measured], dtype=int)


def runs(mask: np.ndarray, segment: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) pairs, end exclusive, of consecutive True values within one segment."""
    edges = np.flatnonzero(np.diff(segment) != 0) + 1
    out = []
    for lo, hi in zip(np.concatenate([[0], edges]), np.concatenate([edges, [len(mask)]])):
        out += [(int(lo + a), int(lo + b)) for a, b in behaviour.true_runs(mask[lo:hi])]
    return out


def fill_single_gaps(mask: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """`mask` with lone False samples between two True ones (same segment) set True: one
    frame where the landmarks slip does not split a held expression in two."""
    out = mask.copy()
    inner = mask[:-2] & ~mask[1:-1] & mask[2:] & (segment[:-2] == segment[2:])
    out[1:-1] |= inner
    return out


def hysteresis_runs(
    signal: np.ndarray, threshold: float, segment: np.ndarray
) -> list[tuple[int, int]]:
    """Runs above threshold/2 that reach `threshold` at least once (NaN counts as below;
    lone dips inside a run are bridged, see fill_single_gaps)."""
    above = np.nan_to_num(signal, nan=-np.inf)
    mask = fill_single_gaps(above > threshold / 2, segment)
    return [(a, b) for a, b in runs(mask, segment) if np.max(above[a:b]) > threshold]


def noise_sd(signal: np.ndarray) -> float:
    """Frame-to-frame landmark noise: a robust SD of the first differences, / sqrt(2)."""
    diffs = np.diff(signal[np.isfinite(signal)])
    if len(diffs) < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(diffs - np.median(diffs))) / math.sqrt(2))


def _event(
    name: str,
    times: np.ndarray,
    run: tuple[int, int],
    apex: int,
    frame_s: float,
    magnitude: float,
    detail: str,
) -> Event:
    a, b = run
    return Event(
        name=name,
        onset_s=float(times[a]),
        apex_s=float(times[apex]),
        offset_s=float(times[b - 1] + frame_s),
        magnitude=float(magnitude),
        detail=detail,
    )


def _seen_whole(run: tuple[int, int], segment: np.ndarray) -> bool:
    """Both ends of the run border a measured frame of the same segment without it."""
    a, b = run
    return a > 0 and b < len(segment) and segment[a - 1] == segment[a] == segment[b]


def blink_events(
    times: np.ndarray, ear: np.ndarray, open_ear: float, frame_s: float, segment: np.ndarray
) -> list[Event]:
    closed = ear < behaviour.EYES_CLOSED_FRACTION * open_ear
    out = []
    for a, b in runs(closed, segment):
        apex = a + int(np.nanargmin(ear[a:b]))
        duration = times[b - 1] - times[a] + frame_s
        name = "blink" if duration < behaviour.LONG_CLOSURE_S else "eye_closure"
        depth = max(0.0, 1 - ear[apex] / open_ear)
        out.append(_event(name, times, (a, b), apex, frame_s, depth, f"{duration * 1000:.0f} ms"))
    return out


def action_events(
    times: np.ndarray,
    values: np.ndarray,
    action: Action,
    neutral_value: float,
    frame_s: float,
    segment: np.ndarray,
) -> list[Event]:
    """Expression events of one facial action; the short, whole ones as micro-expressions."""
    if not math.isfinite(neutral_value):
        return []
    deviation = action.sign * (values - neutral_value)
    threshold = action.threshold
    if action.measure == "lip_thickness":  # a share of the neutral thickness
        deviation = deviation / neutral_value if neutral_value > 0 else deviation * np.nan
    noise = noise_sd(deviation)
    out = []
    for run in hysteresis_runs(deviation, threshold, segment):
        a, b = run
        if b - a < MIN_SAMPLES:
            continue
        apex = a + int(np.nanargmax(deviation[a:b]))
        peak = float(deviation[apex])
        duration = times[b - 1] - times[a] + frame_s
        micro = (
            action.may_be_micro
            and duration < MICRO_MAX_S
            and _seen_whole(run, segment)
            and peak > NOISE_MULTIPLE * noise
        )
        if micro:
            detail = f"{action.label}, {duration * 1000:.0f} ms"
            out.append(_event("micro_expression", times, run, apex, frame_s, peak, detail))
            continue
        notes = [f"{duration:.2f} s"]
        if not _seen_whole(run, segment):
            notes.append("onset or offset not seen")
        out.append(_event(action.name, times, run, apex, frame_s, peak, "; ".join(notes)))
    return out


def movement_events(
    name: str,
    times: np.ndarray,
    mask: np.ndarray,
    deviation: np.ndarray,
    frame_s: float,
    segment: np.ndarray,
    detail: str,
    min_s: float = 0.0,
) -> list[Event]:
    """One event per run of a head-movement or gaze code; apex at the largest deviation."""
    out = []
    for a, b in runs(mask, segment):
        duration = times[b - 1] - times[a] + frame_s
        if duration < min_s:
            continue
        window = np.abs(np.nan_to_num(deviation[a:b]))
        apex = a + int(np.argmax(window))
        span = deviation[a:b][np.isfinite(deviation[a:b])]
        size = float(np.ptp(span)) if "repeated" in detail else float(window.max())
        out.append(_event(name, times, (a, b), apex, frame_s, size, detail))
    return out


def expression_readable(
    d_yaw: np.ndarray, d_pitch: np.ndarray, codes: dict[str, np.ndarray]
) -> np.ndarray:
    """Frames whose 2D landmark geometry can show an expression: the head near its neutral
    pose and not in a nod, shake or repeated tilt. Turning the head moves the mouth corners
    against the lip midline and the brows against the eye corners in the picture (on the
    rendered nods of the sample: lip corners 'up' by 0.05 inter-ocular at 7 deg of pitch)."""
    moving = codes["downRHead"] | codes["sideTurnR"] | codes["sideTiltR"]
    near = (np.abs(np.nan_to_num(d_yaw, nan=np.inf)) <= EXPRESSION_MAX_YAW_DEG) & (
        np.abs(np.nan_to_num(d_pitch, nan=np.inf)) <= EXPRESSION_MAX_PITCH_DEG
    )
    return near & ~moving


def find_events(
    frames: Sequence[FrameMeasures],
    reference: Neutral,
    codes: dict[str, np.ndarray],
    frame_s: float,
) -> list[Event]:
    """All events of one video, in onset order.

    `frames` are all sampled frames (measured or not), `codes` come from
    behaviour.frame_codes over them, `frame_s` is the sampling interval.
    """
    m = [f for f in frames if f.measured]
    if not m:
        return []
    times = np.array([f.timestamp_s for f in m])
    segment = segments(frames)

    def col(name: str) -> np.ndarray:
        return behaviour.measured_series(m, name)

    events = blink_events(times, col("ear"), reference.ear, frame_s, segment)
    d_yaw, d_pitch = col("yaw") - reference.yaw, col("pitch") - reference.pitch
    readable = expression_readable(d_yaw, d_pitch, codes)
    brow = behaviour.brow_series(m, reference)
    for action in ACTIONS:
        values = brow if action.measure == "brow_height" else col(action.measure)
        values = np.where(readable, values, np.nan)
        neutral_value = getattr(reference, action.measure)
        events += action_events(times, values, action, neutral_value, frame_s, segment)
    d_roll = col("roll") - reference.roll
    d_gaze = behaviour.gaze_deviation(m, reference)
    head = (
        ("head_nod", "downRHead", d_pitch, "repeated", 0.0),
        ("head_shake", "sideTurnR", d_yaw, "repeated", 0.0),
        ("head_tilt", "sideTiltR", d_roll, "repeated", 0.0),
        ("head_tilt", "sideTilt", d_roll, "held", MIN_HELD_S),
        ("head_turn", "SideTurn", d_yaw, "held", MIN_HELD_S),
    )
    for name, code, deviation, detail, min_s in head:
        events += movement_events(
            name, times, codes[code], deviation, frame_s, segment, detail, min_s
        )
    averted = codes["gaze_aversion_ratio"]
    for event in movement_events(
        "gaze_aversion",
        times,
        averted,
        np.hypot(d_gaze, d_pitch),
        frame_s,
        segment,
        "",
        MIN_GAZE_AVERSION_S,
    ):
        i = int(np.searchsorted(times, event.apex_s))
        detail = gaze_direction(d_gaze[i], d_pitch[i], d_yaw[i])
        events.append(replace(event, detail=detail))
    return sorted(events, key=lambda e: (e.onset_s, e.name))


def gaze_direction(gaze: float, pitch: float, head_yaw: float) -> str:
    """Where the gaze went (against neutral, degrees) and how much of it the eyes did."""
    if abs(pitch) > behaviour.GAZE_PITCH_DEG and abs(pitch) >= abs(gaze):
        return f"{'down' if pitch < 0 else 'up'} {abs(pitch):.0f} deg (head pitch)"
    side = "to the image's right" if gaze > 0 else "to the image's left"
    if gaze == head_yaw:
        return f"{side} {abs(gaze):.0f} deg (head only)"
    return f"{side} {abs(gaze):.0f} deg (head {head_yaw:+.0f}, eyes {gaze - head_yaw:+.0f})"
