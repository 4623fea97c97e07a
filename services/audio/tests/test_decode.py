"""Decoding to 16 kHz mono, and the errors callers get for bad audio."""

from __future__ import annotations

import numpy as np
import pytest

from services.audio import decode
from services.audio.tests.signals import encode, harmonic
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2


def stereo(rate: int, seconds: float) -> np.ndarray:
    return np.stack([harmonic(150.0, seconds, rate), harmonic(220.0, seconds, rate)], axis=1)


def media(data: bytes, mime: str = "") -> common_pb2.Media:
    return common_pb2.Media(data=data, mime_type=mime)


@pytest.mark.parametrize(
    ("fmt", "subtype", "mime", "tolerance"),
    [
        ("FLAC", "PCM_16", "audio/flac", 0),
        ("OGG", "VORBIS", "audio/ogg", 0),
        ("WAV", "PCM_16", "audio/wav", 0),
        ("MP3", "MPEG_LAYER_III", "audio/mpeg", 0.06),  # mp3 frames pad the end
    ],
)
def test_stereo_44k1_decodes_to_16k_mono(
    fmt: str, subtype: str, mime: str, tolerance: float
) -> None:
    data = encode(stereo(44_100, 2.0), 44_100, fmt, subtype)
    audio = decode.decode_media(media(data, mime))
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.rate == 16_000 and audio.source_rate == 44_100 and audio.source_channels == 2
    assert abs(len(audio.samples) - 32_000) <= tolerance * 16_000
    assert audio.container == fmt


def test_mono_mix_and_resampling_preserve_the_tone() -> None:
    x = harmonic(200.0, 1.0, 48_000)
    audio = decode.decode_media(media(encode(np.stack([x, x], 1), 48_000, "FLAC")))
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert np.argmax(spectrum) * 16_000 / len(audio.samples) == pytest.approx(200.0, abs=1.5)


def test_mime_type_is_sniffed_when_empty_and_parameters_are_ignored() -> None:
    data = encode(harmonic(150.0, 1.0), 16_000, "OGG", "VORBIS")
    assert decode.decode_media(media(data)).container == "OGG"
    assert decode.decode_media(media(data, "audio/ogg; codecs=vorbis")).container == "OGG"


def error(m: common_pb2.Media, max_s: float | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        decode.decode_media(m, max_s=max_s)
    return caught.value


def test_bad_bytes_name_audio_data() -> None:
    e = error(media(b"this is not audio at all" * 40, "audio/wav"))
    assert e.field == "audio.data" and "could not decode" in e.problem
    assert str(e).startswith("audio.data: ")


def test_empty_and_uri_and_mime_errors() -> None:
    assert error(media(b"")).field == "audio.data"
    assert error(common_pb2.Media(uri="https://example.org/a.wav")).field == "audio.uri"
    assert error(media(b"x", "video/mp4")).field == "audio.mime_type"
    flac = encode(harmonic(150.0, 1.0), 16_000, "FLAC")
    e = error(media(flac, "audio/wav"))
    assert e.field == "audio.mime_type" and "FLAC" in e.problem


def test_unsupported_container_is_refused() -> None:
    aiff = encode(harmonic(150.0, 1.0), 16_000, "AIFF")
    assert "unsupported" in error(media(aiff)).problem


def test_length_silence_and_rate_limits() -> None:
    short = encode(harmonic(150.0, 0.3), 16_000, "WAV")
    assert "too short" in error(media(short)).problem
    long = encode(harmonic(150.0, 3.0), 16_000, "WAV")
    assert "too long" in error(media(long), max_s=2.0).problem
    silent = encode(np.zeros(16_000, np.float32), 16_000, "WAV")
    assert "silent" in error(media(silent)).problem
    slow = encode(harmonic(150.0, 1.0, 4_000), 4_000, "WAV")
    e = error(media(slow))
    assert e.field == "audio.data" and "sample rate" in e.problem


def test_baseline_prefix_names_the_baseline_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        decode.decode_media(media(b"nope" * 100), "baseline.audio")
    assert caught.value.field == "baseline.audio.data"


def chunk(x: np.ndarray, rate: float, channels: int, t: float = 0.0) -> common_pb2.AudioChunk:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    return common_pb2.AudioChunk(pcm16=pcm, sample_rate_hz=rate, channels=channels, timestamp_s=t)


def test_live_pcm16_chunks_join_into_16k_mono() -> None:
    x = stereo(48_000, 1.0)
    chunks = [chunk(x[:24_000], 48_000, 2), chunk(x[24_000:], 48_000, 2, 0.5)]
    audio = decode.decode_chunks(chunks)
    assert len(audio.samples) == 16_000 and audio.source_channels == 2


def test_live_chunk_errors_name_the_chunk_field() -> None:
    x = harmonic(150.0, 0.5)
    cases = {
        "audio_chunk.sample_rate_hz": [chunk(x, 0, 1)],
        "audio_chunk.pcm16": [common_pb2.AudioChunk(pcm16=b"\x00\x01\x02", sample_rate_hz=16_000)],
        "audio_chunk.channels": [chunk(x, 16_000, 1), chunk(np.stack([x, x], 1), 16_000, 2)],
    }
    for field, chunks in cases.items():
        with pytest.raises(InvalidInput) as caught:
            decode.decode_chunks(chunks)
        assert caught.value.field == field
    with pytest.raises(InvalidInput) as caught:
        decode.decode_chunks([chunk(x, 16_000, 1), chunk(x, 8_000, 1)])
    assert caught.value.field == "audio_chunk.sample_rate_hz"


@pytest.mark.parametrize(("rate", "channels"), [(16_000, 1), (44_100, 2), (48_000, 1), (8_000, 2)])
def test_chunk_decoder_gives_what_decode_chunks_gives_for_all_at_once(
    rate: int, channels: int
) -> None:
    """Each chunk decoded as it arrives (the resampling filter carried across chunk edges,
    chunks of uneven length) joins into the signal decode_chunks makes of them all."""
    x = stereo(rate, 1.5) if channels == 2 else harmonic(150.0, 1.5, rate)
    x += np.random.default_rng(1).normal(0, 0.01, x.shape).astype(np.float32)
    sizes = np.random.default_rng(2).integers(1, rate // 8, 64)
    edges = np.concatenate([[0], np.cumsum(sizes)])
    edges = edges[edges < len(x)].tolist() + [len(x)]
    chunks = [chunk(x[a:b], rate, channels) for a, b in zip(edges[:-1], edges[1:])]
    decoder = decode.ChunkDecoder()
    live = np.concatenate([decoder.decode(c) for c in chunks] + [decoder.flush()])
    whole = decode.decode_chunks(chunks).samples
    assert len(live) == len(whole) == int(np.ceil(len(x) * 16_000 / rate))
    assert np.max(np.abs(live - whole)) < 1e-6
    if rate != 16_000:  # only the filter's reach is held back, not the stream
        assert len(decoder._resampler.buffer) < rate // 50  # type: ignore[union-attr]


def test_chunk_decoder_errors_name_the_chunk_field() -> None:
    decoder = decode.ChunkDecoder()
    decoder.decode(chunk(harmonic(150.0, 0.1), 16_000, 1))
    for bad, field in (
        (chunk(harmonic(150.0, 0.1, 8_000), 8_000, 1), "audio_chunk.sample_rate_hz"),
        (chunk(stereo(16_000, 0.1), 16_000, 2), "audio_chunk.channels"),
        (common_pb2.AudioChunk(pcm16=b"\x00", sample_rate_hz=16_000), "audio_chunk.pcm16"),
    ):
        with pytest.raises(InvalidInput) as caught:
            decoder.decode(bad)
        assert caught.value.field == field
    with pytest.raises(InvalidInput) as caught:
        decode.ChunkDecoder().decode(chunk(harmonic(150.0, 0.1), 4_000, 1))
    assert caught.value.field == "audio_chunk.sample_rate_hz"
