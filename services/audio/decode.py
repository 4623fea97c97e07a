"""Turn audio input into mono float32 samples at 16 kHz, or say precisely what is wrong.

Every feature extractor downstream (webrtcvad, Praat) is run at one rate, so decoding is
the single place that knows about containers, channels and sample rates. Bad input raises
`InvalidInput` naming the request field, which the servicer turns into INVALID_ARGUMENT.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2

TARGET_RATE = 16_000
MIN_DURATION_S = 0.5
DEFAULT_MAX_DURATION_S = 600.0
MIN_SOURCE_RATE = 8_000  # below this, speech above 4 kHz is gone and Praat/VAD misbehave
MAX_SOURCE_RATE = 192_000
MAX_CHANNELS = 8
# Peak below -60 dBFS: nothing a microphone pointed at a speaker would record.
SILENCE_PEAK = 10 ** (-60 / 20)

# Container (as libsndfile names it) -> the mime types that announce it.
_FORMATS: dict[str, frozenset[str]] = {
    "WAV": frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}),
    "FLAC": frozenset({"audio/flac", "audio/x-flac"}),
    "OGG": frozenset({"audio/ogg", "application/ogg", "audio/vorbis", "audio/opus"}),
    "MP3": frozenset({"audio/mpeg", "audio/mp3", "audio/x-mp3", "audio/mpeg3"}),
}
_CONTAINER_ALIASES = {"WAVEX": "WAV", "RF64": "WAV"}
SUPPORTED_MIME_TYPES = frozenset().union(*_FORMATS.values())


def max_duration_s() -> float:
    """The longest recording accepted: VERITAS_AUDIO_MAX_S, default 600 s."""
    return float(os.environ.get("VERITAS_AUDIO_MAX_S", DEFAULT_MAX_DURATION_S))


@dataclass(frozen=True)
class Audio:
    """Decoded audio: mono float32 in [-1, 1] at `TARGET_RATE`, plus where it came from."""

    samples: np.ndarray
    source_rate: int
    source_channels: int
    container: str  # WAV, FLAC, OGG, MP3 or PCM16 (live)

    @property
    def rate(self) -> int:
        return TARGET_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / TARGET_RATE


def _container_for_mime(mime: str, field: str) -> str | None:
    base = mime.split(";", 1)[0].strip().lower()
    if not base:
        return None
    for container, names in _FORMATS.items():
        if base in names:
            return container
    supported = ", ".join(sorted(SUPPORTED_MIME_TYPES))
    raise InvalidInput(field, f"unsupported mime type {base!r}; supported: {supported}")


def to_mono_16k(x: np.ndarray, rate: int) -> np.ndarray:
    """Average the channels and resample to 16 kHz with a polyphase filter."""
    mono = x.mean(axis=1) if x.ndim == 2 else x
    mono = mono.astype(np.float64, copy=False)
    if rate != TARGET_RATE:
        g = math.gcd(int(rate), TARGET_RATE)
        mono = resample_poly(mono, TARGET_RATE // g, int(rate) // g)
    return np.clip(mono, -1.0, 1.0).astype(np.float32)


def _check_rate(rate: float, field: str) -> int:
    if not math.isfinite(rate) or rate != int(rate):
        raise InvalidInput(field, f"sample rate must be a whole number of Hz, got {rate}")
    if not MIN_SOURCE_RATE <= rate <= MAX_SOURCE_RATE:
        raise InvalidInput(
            field, f"sample rate {rate:g} Hz outside {MIN_SOURCE_RATE}..{MAX_SOURCE_RATE} Hz"
        )
    return int(rate)


def _check_length(samples: np.ndarray, field: str, max_s: float) -> None:
    duration = len(samples) / TARGET_RATE
    if duration < MIN_DURATION_S:
        raise InvalidInput(
            field, f"too short: {duration:.2f} s; at least {MIN_DURATION_S} s is needed"
        )
    if duration > max_s:
        raise InvalidInput(field, f"too long: {duration:.1f} s; at most {max_s:g} s is accepted")


def _check_not_silent(samples: np.ndarray, field: str) -> None:
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if peak < SILENCE_PEAK:
        level = 20 * math.log10(peak) if peak > 0 else -math.inf
        raise InvalidInput(field, f"all silent (peak {level:.0f} dBFS): no speech to analyse")


def decode_media(
    media: common_pb2.Media, prefix: str = "audio", max_s: float | None = None
) -> Audio:
    """Decode wav/flac/ogg/mp3 bytes; `prefix` is the request path (`audio`, `baseline.audio`)."""
    max_s = max_duration_s() if max_s is None else max_s
    data_field, mime_field = f"{prefix}.data", f"{prefix}.mime_type"
    if media.WhichOneof("source") == "uri":
        raise InvalidInput(f"{prefix}.uri", "the audio service does not fetch URIs; send data")
    declared = _container_for_mime(media.mime_type, mime_field)
    if not media.data:
        raise InvalidInput(data_field, "empty: no audio bytes")
    try:
        with sf.SoundFile(io.BytesIO(media.data)) as f:
            container = _CONTAINER_ALIASES.get(f.format, f.format)
            if container not in _FORMATS:
                raise InvalidInput(
                    data_field, f"unsupported audio format {f.format}; send wav, flac, ogg or mp3"
                )
            if declared and declared != container:
                raise InvalidInput(
                    mime_field, f"says {media.mime_type!r} but the bytes are {container}"
                )
            rate = _check_rate(float(f.samplerate), data_field)
            if not 1 <= f.channels <= MAX_CHANNELS:
                raise InvalidInput(data_field, f"{f.channels} channels; 1..{MAX_CHANNELS} accepted")
            if f.frames > 0 and f.frames / rate > max_s:  # refuse before decoding it all
                raise InvalidInput(
                    data_field,
                    f"too long: {f.frames / rate:.1f} s; at most {max_s:g} s is accepted",
                )
            x = f.read(dtype="float32", always_2d=True)
            channels = f.channels
    except InvalidInput:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        reason = getattr(e, "error_string", "") or str(e)  # libsndfile's words, no object repr
        raise InvalidInput(data_field, f"could not decode audio: {reason.rstrip('.')}") from e
    if x.size == 0:
        raise InvalidInput(data_field, "decoded to no samples")
    if not np.isfinite(x).all():
        raise InvalidInput(data_field, "contains non-finite samples (NaN or infinity)")
    samples = to_mono_16k(x, rate)
    _check_length(samples, data_field, max_s)
    _check_not_silent(samples, data_field)
    return Audio(samples, rate, channels, container)


def _check_chunk_format(
    chunk: common_pb2.AudioChunk, rate: float | None, channels: int | None
) -> tuple[int, int]:
    """The chunk's sample rate and channel count, checked against the stream's so far."""
    if rate is None:
        _check_rate(chunk.sample_rate_hz, "audio_chunk.sample_rate_hz")
    elif chunk.sample_rate_hz != rate:
        raise InvalidInput(
            "audio_chunk.sample_rate_hz",
            f"changed mid-stream from {rate:g} to {chunk.sample_rate_hz:g} Hz",
        )
    n = chunk.channels or 1  # proto3 default 0 means mono
    if channels is None and n > MAX_CHANNELS:
        raise InvalidInput("audio_chunk.channels", f"{n}; 1..{MAX_CHANNELS} accepted")
    if channels is not None and n != channels:
        raise InvalidInput("audio_chunk.channels", f"changed mid-stream from {channels} to {n}")
    if len(chunk.pcm16) % (2 * n):
        raise InvalidInput(
            "audio_chunk.pcm16",
            f"{len(chunk.pcm16)} bytes is not whole 16-bit frames of {n} channel(s)",
        )
    return int(chunk.sample_rate_hz), n


def _pcm16_mono(raw: bytes, channels: int) -> np.ndarray:
    """Interleaved little-endian pcm16 -> mono float64 (the channels averaged)."""
    x = np.frombuffer(raw, dtype="<i2").reshape(-1, channels).astype(np.float32) / 32768.0
    return (x[:, 0] if channels == 1 else x.mean(axis=1)).astype(np.float64)


def decode_chunks(chunks: Sequence[common_pb2.AudioChunk], max_s: float | None = None) -> Audio:
    """Join live pcm16 chunks (little-endian, interleaved) into one mono 16 kHz signal.

    Short or quiet input is not refused here: a quiet or short stretch of a live stream is
    normal and is reported as an unusable window, not as a caller error.
    """
    max_s = max_duration_s() if max_s is None else max_s
    if not chunks:
        raise InvalidInput("audio_chunk", "no audio chunks")
    rate, channels = _check_chunk_format(chunks[0], None, None)
    for chunk in chunks[1:]:
        _check_chunk_format(chunk, rate, channels)
    raw = b"".join(chunk.pcm16 for chunk in chunks)
    if not raw:
        raise InvalidInput("audio_chunk.pcm16", "empty: no audio bytes")
    if len(raw) / (2 * channels * rate) > max_s:
        raise InvalidInput("audio_chunk.pcm16", f"stream longer than {max_s:g} s")
    mono = _pcm16_mono(raw, channels)
    return Audio(to_mono_16k(mono, rate), rate, channels, "PCM16")


class StreamResampler:
    """`resample_poly` to 16 kHz, one piece at a time, giving the samples it gives for the
    whole signal at once (to float rounding).

    Each output sample depends on the input within the filter's half length around it, so
    an output is released once the input past it has arrived, and only that much input is
    kept (`margin` samples, a few ms): resampling pieces one by one independently would put
    a click at every piece's edge.
    """

    def __init__(self, rate: int) -> None:
        g = math.gcd(int(rate), TARGET_RATE)
        self.up, self.down = TARGET_RATE // g, int(rate) // g
        half_len = 10 * max(self.up, self.down)  # resample_poly's default filter
        self.margin = math.ceil(half_len / self.up) + 2  # input samples an output reaches
        self.buffer = np.zeros(0, np.float64)
        self.start = 0  # input index of buffer[0]; always a multiple of `down`
        self.released = 0  # output samples released so far

    def push(self, x: np.ndarray) -> np.ndarray:
        if self.up == self.down:
            return x
        self.buffer = np.concatenate([self.buffer, x])
        received = self.start + len(self.buffer)
        ready = max(0, (received - 1 - self.margin) * self.up // self.down + 1)
        return self._release(ready)

    def flush(self) -> np.ndarray:
        """The rest, with the signal's end padded with zeros as resample_poly pads it."""
        if self.up == self.down:
            return np.zeros(0, np.float64)
        received = self.start + len(self.buffer)
        return self._release(-(-received * self.up // self.down))

    def _release(self, ready: int) -> np.ndarray:
        if ready <= self.released or not len(self.buffer):
            return np.zeros(0, np.float64)
        y = resample_poly(self.buffer, self.up, self.down)
        offset = self.start * self.up // self.down
        out = y[self.released - offset : ready - offset]
        self.released = ready
        keep = max(0, (self.released * self.down // self.up - self.margin) // self.down * self.down)
        if keep > self.start:
            self.buffer = self.buffer[keep - self.start :]
            self.start = keep
        return out


class ChunkDecoder:
    """Live pcm16 chunks -> 16 kHz mono float32, each chunk once as it arrives.

    The result, joined, is what `decode_chunks` gives for all the chunks at once: the same
    format checks (errors name the `audio_chunk` field), channel mix and resampling filter.
    """

    def __init__(self) -> None:
        self.rate: int | None = None
        self.channels: int | None = None
        self._resampler: StreamResampler | None = None

    def decode(self, chunk: common_pb2.AudioChunk) -> np.ndarray:
        self.rate, self.channels = _check_chunk_format(chunk, self.rate, self.channels)
        if self._resampler is None:
            self._resampler = StreamResampler(self.rate)
        return _finish(self._resampler.push(_pcm16_mono(chunk.pcm16, self.channels)))

    def flush(self) -> np.ndarray:
        """Samples held back for the resampling filter, at the end of the stream."""
        if self._resampler is None:
            return np.zeros(0, np.float32)
        return _finish(self._resampler.flush())


def _finish(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -1.0, 1.0).astype(np.float32)
