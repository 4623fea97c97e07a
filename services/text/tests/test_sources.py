"""Offsets of analysed text back into the caller's transcript."""

from __future__ import annotations

from services.text.sources import SourceMap, joined


def test_shifted_and_cut() -> None:
    transcript = "  Hello there. General Kenobi."
    whole = SourceMap.shifted(2, len(transcript) - 2)
    window = whole.cut(13, 28)  # "General Kenobi." in the stripped text
    start, end = window.to_source(0, 7) or (0, 0)
    assert transcript[start:end] == "General"


def test_joined_segments_and_the_joining_space() -> None:
    transcript = "I was home.\nNo, really."
    parts = ["I was home.", "No, really."]
    source = joined(parts, [SourceMap.shifted(0, 11), SourceMap.shifted(12, 11)])
    assert source is not None
    text = " ".join(parts)
    at = text.index("really")
    start, end = source.to_source(at, at + 6) or (0, 0)
    assert transcript[start:end] == "really"
    assert source.to_source(11, 12) is None  # the space the join added
    # a match across the join spans the transcript's own separator
    assert source.to_source(6, 14) == (6, 14)
    assert joined(parts, [SourceMap.shifted(0, 11), None]) is None
