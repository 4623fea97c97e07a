"""What each channel did after each question: the inputs of comparison-question scoring.

Per question presentation (a marker), the features computer polygraph scoring measures
(Kircher & Raskin, 1988, Journal of Applied Psychology 73(2): skin conductance amplitude,
a cardiovascular rise, respiration line length):

- electrodermal: the largest rise of the cleaned skin conductance that starts in the onset
  window (0.5 s after the question starts to 5 s after it ends, i.e. after the answer) and
  peaks in the scoring window; its latency is from question onset to where the rise starts
  (the last sample within 2% of the rise above its trough), given only for rises of at least
  the 0.05 uS that counts as a response;
- cardio: the peak heart rate in the scoring window minus the mean over the 5 s before the
  question. Heart rate stands in for the relative blood pressure of a polygraph cuff, which
  Veritas does not receive: a proxy, and the notes say so;
- respiration: line length (sum of absolute sample-to-sample changes of the cleaned signal)
  per second over the scoring window; shallower or slower breathing shortens it.

The scoring window runs 15 s from question onset, cut at the next question's onset so one
answer's response is never counted for the next question. The onset and scoring windows and
the 2% onset criterion are choices made here, not values taken from a cited source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.physiology.features import (
    SCR_MIN_AMPLITUDE_US,
    Derived,
    Series,
    heart_rate_series,
)
from services.physiology.signals import Marker

SCORING_WINDOW_S = 15.0
MIN_WINDOW_S = 5.0
ONSET_DELAY_S = 0.5
ONSET_AFTER_ANSWER_S = 5.0
PRE_STIMULUS_S = 5.0
ONSET_FRACTION = 0.02
MIN_OK_SHARE = 0.5  # a window more than half artefact is not measured


@dataclass(frozen=True)
class Response:
    """One presentation of one question and the channels' responses to it (NaN: not measured)."""

    marker: Marker
    number: int  # presentation order in the recording, 1-based
    end_s: float  # end of the scoring window
    eda_us: float = math.nan
    eda_latency_s: float = math.nan
    hr_rise_bpm: float = math.nan
    resp_line_length: float = math.nan  # signal units per second


def largest_rise(
    times_s: np.ndarray, x: np.ndarray, onset_from: float, onset_to: float, end: float
) -> tuple[float, float]:
    """(amplitude, start time) of the largest rise starting in [onset_from, onset_to] and
    peaking before `end`; (0, NaN) when the signal only falls."""
    sel = (times_s >= onset_from) & (times_s < end)
    t, v = times_s[sel], x[sel]
    starts = t <= onset_to
    if v.size < 2 or not starts.any():
        return math.nan, math.nan
    later_max = np.maximum.accumulate(v[::-1])[::-1]  # max of v[i:]
    rise = np.where(starts, later_max - v, -np.inf)
    i = int(np.argmax(rise))
    amplitude = float(rise[i])
    if amplitude <= 0:
        return 0.0, math.nan
    j = i + int(np.argmax(v[i:]))
    below = np.flatnonzero(v[i : j + 1] <= v[i] + ONSET_FRACTION * amplitude)
    return amplitude, float(t[i + int(below[-1])])


def rise_over_prestimulus(series: Series, onset: float, end: float) -> float:
    """Peak of `series` in [onset, end) minus its mean over the 5 s before onset."""
    pre = series.between(onset - PRE_STIMULUS_S, onset)
    post = series.between(onset, end)
    if pre.size == 0 or post.size == 0:
        return math.nan
    return float(post.max() - pre.mean())


def line_length_rate(series: Series, start: float, end: float) -> float:
    """Sum of absolute successive differences in [start, end), per second."""
    v = series.between(start, end)
    if v.size < 2:
        return math.nan
    return float(np.abs(np.diff(v)).sum() / (end - start))


def _ok_share(times_s: np.ndarray, ok: np.ndarray | None, start: float, end: float) -> float:
    if ok is None:
        return 1.0
    sel = (times_s >= start) & (times_s < end)
    return float(ok[sel].mean()) if sel.any() else 0.0


def scoring_end(markers: tuple[Marker, ...], i: int) -> float:
    """End of marker i's scoring window: 15 s after onset or the next onset, whichever first."""
    end = markers[i].start_s + SCORING_WINDOW_S
    later = [m.start_s for m in markers[i + 1 :] if m.start_s > markers[i].start_s]
    return min([end, *later])


def measure_responses(derived: Derived, markers: tuple[Marker, ...]) -> list[Response]:
    """Every marker's responses, in time order (`markers` must be sorted by onset)."""
    hr = heart_rate_series(derived)
    return [
        measure_response(derived, hr, mk, i + 1, scoring_end(markers, i))
        for i, mk in enumerate(markers)
    ]


def measure_response(
    derived: Derived, hr: Series | None, mk: Marker, number: int, end: float
) -> Response:
    """One presentation's responses over its scoring window [mk.start_s, end); `hr` is the
    heart-rate series (features.heart_rate_series), `derived` must cover the window and the
    5 s before it."""
    t0 = mk.start_s
    if end - t0 < MIN_WINDOW_S:
        return Response(mk, number, end)
    eda_us = latency = math.nan
    e = derived.eda
    if e is not None and e.clean_us is not None:
        if _ok_share(e.times_s, e.ok, t0, end) >= MIN_OK_SHARE:
            onset_to = min(mk.end_s + ONSET_AFTER_ANSWER_S, end)
            eda_us, start = largest_rise(e.times_s, e.clean_us, t0 + ONSET_DELAY_S, onset_to, end)
            # A latency only for a rise large enough to count as a response.
            if math.isfinite(start) and eda_us >= SCR_MIN_AMPLITUDE_US:
                latency = start - t0
    hr_rise = rise_over_prestimulus(hr, t0, end) if hr is not None else math.nan
    rll = math.nan
    br = derived.breathing
    if br is not None and br.signal is not None:
        if _ok_share(br.signal.times_s, br.ok, t0, end) >= MIN_OK_SHARE:
            rll = line_length_rate(br.signal, t0, end)
    return Response(mk, number, end, eda_us, latency, hr_rise, rll)
