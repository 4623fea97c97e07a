"""Known test signals: harmonic tones and syllable-like bursts with exact silent gaps."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

RATE = 16_000


def harmonic(f0: float, seconds: float, rate: int = RATE, level: float = 0.3) -> np.ndarray:
    """A voice-like harmonic complex: every harmonic of f0 below 5 kHz at amplitude 1/k."""
    t = np.arange(int(round(seconds * rate))) / rate
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, int(5000 // f0) + 1))
    return (level * x / np.max(np.abs(x))).astype(np.float32)


def syllables(seconds: float, rate_hz: float = 4.0, f0: float = 140.0) -> np.ndarray:
    """A harmonic voice amplitude-modulated at a syllable rate (one intensity peak per cycle)."""
    x = harmonic(f0, seconds)
    t = np.arange(len(x)) / RATE
    envelope = 0.6 - 0.4 * np.cos(2 * np.pi * rate_hz * t)
    return (x * envelope).astype(np.float32)


def with_gaps(gaps_s: list[float], segment_s: float = 1.5, seed: int = 0) -> np.ndarray:
    """Syllable bursts separated by exact digital-silence gaps (plus -80 dBFS noise)."""
    parts = [syllables(segment_s)]
    for gap in gaps_s:
        parts += [np.zeros(int(round(gap * RATE)), dtype=np.float32), syllables(segment_s)]
    x = np.concatenate(parts)
    noise = np.random.default_rng(seed).normal(0, 1e-4, len(x)).astype(np.float32)
    return x + noise


def encode(x: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    return buf.getvalue()
