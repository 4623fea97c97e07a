"""What counts as internal in a message a caller reads (veritas.refs)."""

from __future__ import annotations

import pytest

from veritas import refs


@pytest.mark.parametrize(
    "message",
    [
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:50053: "
        "Failed to connect to remote host: Connection refused",
        "Triton at 127.0.0.1:8001: unavailable",
        "Unexpected <class 'IndexError'>: index 0 is out of bounds",
        "IndexError: index 1 is out of bounds for axis 0 with size 1",
        "no trained stacker at /work/main/models/fusion/stacker.json",
        "error in features.py line 12",
        "connect to [::1]:50051 failed",
        "localhost:8001 refused",
    ],
)
def test_internal_details_are_caught(message: str) -> None:
    assert refs.leaks(message)


@pytest.mark.parametrize(
    "message",
    [
        "physiology.channels[0].sampling_rate_hz: must be > 0",
        "eda: 0.5 s (1%) changing faster than 10 uS/s, left out",
        "audio.data: could not decode audio: Format not recognised",
        "video.uri: is not in the media URI allow-list",
        "UNAVAILABLE: the audio service could not be reached (ref 3f2a9c1d)",
        "heart rate 72 1/min",
    ],
)
def test_plain_messages_pass(message: str) -> None:
    assert refs.leaks(message) == []


def test_a_reference_is_found_again() -> None:
    ref = refs.new_ref()
    assert refs.ref_in(refs.with_ref("the service is unavailable", ref)) == ref
    assert refs.ref_in("no reference here") is None
