"""Validate physiological input and turn it into per-channel numpy arrays.

The wire format (`veritas.v1.Physiology`) carries named channels, each at its own sampling
rate, plus the old API's plain list of heart-rate values (bpm, one per second). Everything
the caller can get wrong is checked here, once, so the science in `features` can trust its
input; every problem raises `InvalidInput` naming the exact proto field, e.g.
`physiology.channels[1].sampling_rate_hz: must be > 0`. Live chunks (live.py) go through
the same checks (`check_*`, `marker`), named `physio_samples.<field>` and `question.<field>`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2


@dataclass(frozen=True)
class ChannelSpec:
    """What a channel needs to be analysable: why each limit exists is noted beside it."""

    unit: str
    min_rate_hz: float
    min_duration_s: float
    units: frozenset[str] | None = None  # accepted unit spellings (lower case); None: any


MAX_RATE_HZ = 10_000.0
MAX_SAMPLES = 20_000_000  # per channel: bounds memory (160 MB of float64)
MIN_SAMPLES = 3
HEART_RATE_RANGE_BPM = (25.0, 250.0)  # outside it a "heart rate" is a sensor or unit error
EDA_MIN_US = -0.05  # conductance cannot be negative; a few nS below 0 is amplifier offset
# No sensor's unit (mV, uS, raw 24-bit ADC counts) comes near this; far beyond it the
# filters overflow to infinity and the peak detectors find nothing to index.
MAX_ABS_SAMPLE = 1e9

SPECS: Mapping[str, ChannelSpec] = {
    # A bpm series from a monitor or wearable; 0.2 Hz covers devices that report every 5 s.
    "heart_rate": ChannelSpec("bpm", 0.2, 3.0, frozenset({"bpm", "1/min", "beats/min"})),
    # R-peaks need the QRS complex: below ~50 Hz it is smeared over one or two samples.
    "ecg": ChannelSpec("mV", 50.0, 5.0),
    # The pulse wave is smooth; 20 Hz resolves its systolic peak.
    "ppg": ChannelSpec("", 20.0, 5.0),
    # Skin conductance changes over seconds; 2 Hz still resolves an SCR's rise.
    "eda": ChannelSpec(
        "uS", 2.0, 5.0, frozenset({"us", "µs", "μs", "microsiemens", "micro-siemens"})
    ),
    # The respiration band-pass (0.05-3 Hz) needs a Nyquist frequency above 3 Hz; a
    # breath lasts 2-6 s, so 10 s holds at least two.
    "respiration": ChannelSpec("", 10.0, 10.0),
}
CHANNEL_NAMES = tuple(SPECS)


@dataclass(frozen=True)
class Channel:
    """One validated signal; `samples` is float64, `start_s` its offset on the shared timeline."""

    name: str
    samples: np.ndarray
    rate_hz: float
    start_s: float = 0.0
    unit: str = ""

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / self.rate_hz

    def times(self) -> np.ndarray:
        return self.start_s + np.arange(len(self.samples)) / self.rate_hz


@dataclass(frozen=True)
class Marker:
    """A question on the timeline (relevant, comparison or irrelevant)."""

    kind: str
    start_s: float
    end_s: float
    label: str = ""


@dataclass(frozen=True)
class Recording:
    """Every channel of one recording, by name, plus question markers."""

    channels: Mapping[str, Channel]
    markers: tuple[Marker, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def start_s(self) -> float:
        return min((c.start_s for c in self.channels.values()), default=0.0)

    @property
    def end_s(self) -> float:
        return max((c.end_s for c in self.channels.values()), default=0.0)


def has_input(msg: common_pb2.Physiology) -> bool:
    """Whether the message carries any signal at all (an empty baseline is no baseline)."""
    return bool(msg.channels) or bool(msg.heart_rate)


def from_proto(msg: common_pb2.Physiology, path: str = "physiology") -> Recording:
    """Validate a Physiology message; `path` prefixes field names in errors."""
    channels: dict[str, Channel] = {}
    where: dict[str, str] = {}
    for i, ch in enumerate(msg.channels):
        at = f"{path}.channels[{i}]"
        name = check_channel_name(ch.name, f"{at}.name")
        if name in channels:
            raise InvalidInput(f"{at}.name", f"channel '{name}' given twice (also {where[name]})")
        rate = check_rate(ch.sampling_rate_hz, name, f"{at}.sampling_rate_hz")
        start = check_start(ch.start_s, f"{at}.start_s")
        unit = check_unit(ch.unit, name, f"{at}.unit")
        samples = check_samples(ch.samples, name, f"{at}.samples")
        _enough(samples, rate, name, f"{at}.samples")
        channels[name] = Channel(name, samples, rate, start, unit)
        where[name] = at
    if msg.heart_rate:
        at = f"{path}.heart_rate"
        if "heart_rate" in channels:
            raise InvalidInput(at, f"heart rate given twice (also {where['heart_rate']})")
        samples = check_samples(msg.heart_rate, "heart_rate", at)
        _enough(samples, 1.0, "heart_rate", at)
        channels["heart_rate"] = Channel("heart_rate", samples, 1.0, 0.0, "bpm")
    if not channels:
        raise InvalidInput(path, "no channels: give channels (or the heart_rate list)")
    end_s = max(c.end_s for c in channels.values())
    return Recording(channels, _markers(msg.markers, f"{path}.markers", end_s))


def check_channel_name(raw: str, at: str) -> str:
    name = raw.strip().lower()
    if not name:
        raise InvalidInput(at, f"missing channel name (expected one of {', '.join(SPECS)})")
    if name not in SPECS:
        raise InvalidInput(
            at, f"unknown channel '{raw}' (expected one of {', '.join(CHANNEL_NAMES)})"
        )
    return name


def check_rate(rate: float, name: str, at: str) -> float:
    if not math.isfinite(rate):
        raise InvalidInput(at, "must be a finite number")
    if rate <= 0:
        raise InvalidInput(at, "must be > 0")
    if rate > MAX_RATE_HZ:
        raise InvalidInput(at, f"must be <= {MAX_RATE_HZ:g} Hz")
    low = SPECS[name].min_rate_hz
    if rate < low:
        raise InvalidInput(at, f"{name} needs at least {low:g} Hz (got {rate:g})")
    return float(rate)


def check_start(start: float, at: str) -> float:
    if not math.isfinite(start) or start < 0:
        raise InvalidInput(at, "must be a finite number >= 0")
    return float(start)


def check_unit(unit: str, name: str, at: str) -> str:
    spec = SPECS[name]
    clean = unit.strip()
    if not clean:
        return spec.unit
    if spec.units is not None and clean.lower() not in spec.units:
        raise InvalidInput(at, f"{name} must be in {spec.unit} (got '{unit}')")
    return clean


def check_samples(values: Sequence[float], name: str, at: str) -> np.ndarray:
    if len(values) > MAX_SAMPLES:
        raise InvalidInput(at, f"more than {MAX_SAMPLES} samples")
    samples = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(samples))
    if bad.size:
        raise InvalidInput(f"{at}[{bad[0]}]", f"not a finite number ({samples[bad[0]]})")
    huge = np.flatnonzero(np.abs(samples) > MAX_ABS_SAMPLE)
    if huge.size:
        j = huge[0]
        raise InvalidInput(
            f"{at}[{j}]",
            f"{samples[j]:g} is beyond any sensor's range (|value| <= {MAX_ABS_SAMPLE:g})",
        )
    if name == "heart_rate":
        low, high = HEART_RATE_RANGE_BPM
        out = np.flatnonzero((samples < low) | (samples > high))
        if out.size:
            j = out[0]
            raise InvalidInput(f"{at}[{j}]", f"{samples[j]:g} bpm is outside {low:g}-{high:g} bpm")
    if name == "eda":
        neg = np.flatnonzero(samples < EDA_MIN_US)
        if neg.size:
            j = neg[0]
            raise InvalidInput(
                f"{at}[{j}]",
                f"{samples[j]:g}: skin conductance cannot be negative (eda is in microsiemens)",
            )
    return samples


def min_samples(name: str, rate: float) -> int:
    return max(MIN_SAMPLES, math.ceil(SPECS[name].min_duration_s * rate))


def _enough(samples: np.ndarray, rate: float, name: str, at: str) -> None:
    need = min_samples(name, rate)
    if len(samples) < need:
        raise InvalidInput(
            at,
            f"too few samples ({len(samples)}): {name} needs at least {need} "
            f"({SPECS[name].min_duration_s:g} s at {rate:g} Hz)",
        )


_KINDS = {
    common_pb2.QuestionMarker.RELEVANT: "relevant",
    common_pb2.QuestionMarker.COMPARISON: "comparison",
    common_pb2.QuestionMarker.IRRELEVANT: "irrelevant",
}
MAX_MARKERS = 1000
MAX_LABEL = 64


def _markers(
    markers: Sequence[common_pb2.QuestionMarker], path: str, end_s: float
) -> tuple[Marker, ...]:
    """Question markers, sorted by onset; each must lie on the recording's timeline."""
    if len(markers) > MAX_MARKERS:
        raise InvalidInput(path, f"more than {MAX_MARKERS} markers")
    out = []
    for i, m in enumerate(markers):
        at = f"{path}[{i}]"
        mk = marker(m, at)
        if mk.start_s >= end_s:
            raise InvalidInput(
                f"{at}.start_s",
                f"{mk.start_s:g} s is not before the recording's end ({end_s:g} s)",
            )
        out.append(mk)
    return tuple(sorted(out, key=lambda mk: mk.start_s))


def marker(m: common_pb2.QuestionMarker, at: str) -> Marker:
    """One validated question marker; `at` names its field in errors."""
    if m.kind not in _KINDS:
        raise InvalidInput(f"{at}.kind", "must be RELEVANT, COMPARISON or IRRELEVANT")
    start = check_start(m.start_s, f"{at}.start_s")
    if not math.isfinite(m.end_s) or m.end_s <= start:
        raise InvalidInput(f"{at}.end_s", "must be a finite number > start_s")
    label = m.label.strip()
    if len(label) > MAX_LABEL:
        raise InvalidInput(f"{at}.label", f"longer than {MAX_LABEL} characters")
    return Marker(_KINDS[m.kind], start, float(m.end_s), label)
