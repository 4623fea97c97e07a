"""TextAnalyzer: validation names the field, windows follow time or sentences."""

from __future__ import annotations

import pytest

from services.text.analyzer import NO_SPANS_NOTE, TextAnalyzer
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2, modality_pb2


@pytest.fixture(scope="module")
def analyzer() -> TextAnalyzer:
    return TextAnalyzer(max_chars=2_000)


def request(text: str = "", segments=(), language: str = "", baseline: str | None = None):  # noqa: ANN001, ANN201
    transcript = common_pb2.Transcript(
        text=text,
        language=language,
        segments=[common_pb2.TranscriptSegment(start_s=a, end_s=b, text=t) for a, b, t in segments],
    )
    req = modality_pb2.ModalityRequest(input=common_pb2.ModalityInput(transcript=transcript))
    if baseline is not None:
        req.baseline.transcript.text = baseline
    return req


def invalid(analyzer: TextAnalyzer, req) -> InvalidInput:  # noqa: ANN001
    with pytest.raises(InvalidInput) as err:
        analyzer.prepare(req)
    return err.value


def test_empty_text_names_transcript_text(analyzer: TextAnalyzer) -> None:
    assert invalid(analyzer, request()).field == "transcript.text"
    assert invalid(analyzer, request("   \n\t ")).field == "transcript.text"
    assert invalid(analyzer, request(segments=[(0, 1, "  ")])).field == "transcript.text"


def test_segment_ending_before_it_starts(analyzer: TextAnalyzer) -> None:
    segs = [(0, 1, "a"), (1, 2, "b"), (2, 3, "c"), (5, 4, "d")]
    err = invalid(analyzer, request(segments=segs))
    assert err.field == "transcript.segments[3].end_s"
    assert "before it starts" in err.problem


def test_bad_times_control_characters_length_and_language(analyzer: TextAnalyzer) -> None:
    assert invalid(analyzer, request(segments=[(-1, 2, "x")])).field == (
        "transcript.segments[0].start_s"
    )
    assert invalid(analyzer, request(segments=[(0, float("nan"), "x")])).field == (
        "transcript.segments[0].end_s"
    )
    assert invalid(analyzer, request("ok\x00\x01\x02")).field == "transcript.text"
    assert invalid(analyzer, request(segments=[(0, 1, "bad \x1b[0m")])).field == (
        "transcript.segments[0].text"
    )
    assert invalid(analyzer, request("bytes \ufffd\ufffd")).field == "transcript.text"
    too_long = invalid(analyzer, request("word " * 500))
    assert too_long.field == "transcript.text" and "at most 2000" in too_long.problem
    lang = invalid(analyzer, request("Hallo, ich war zu Hause.", language="de"))
    assert lang.field == "transcript.language" and "only English" in lang.problem


def test_accepts_english_tags_tabs_and_newlines(analyzer: TextAnalyzer) -> None:
    for tag in ("", "en", "en-US", "EN-gb"):
        assert analyzer.prepare(request("I was\thome.\r\nAll night.", language=tag)).text


def test_baseline_is_measured_with_the_same_names(analyzer: TextAnalyzer) -> None:
    prepared = analyzer.prepare(request("I was at home all night, I think.", baseline="We ate."))
    windows = list(analyzer.windows(prepared, common_pb2.Options()))
    assert set(windows[0].baseline) == set(windows[0].features)
    assert windows[0].baseline["first_person_plural"] == pytest.approx(50.0)
    err = invalid(analyzer, request("fine text", baseline="x\x00"))
    assert err.field == "baseline.transcript.text"


def test_segments_grouped_by_time(analyzer: TextAnalyzer) -> None:
    segs = [
        (0.0, 4.0, "I got home at about six."),
        (5.0, 9.0, "Maybe a bit later, I guess."),
        (31.0, 35.0, "Then I called my sister."),
        (36.0, 62.0, "We talked for an hour, but I never went out."),
        (65.0, 66.0, "No."),
    ]
    prepared = analyzer.prepare(request(segments=segs))
    default = list(analyzer.windows(prepared, common_pb2.Options()))
    assert [(w.start_s, w.end_s) for w in default] == [(0.0, 9.0), (31.0, 62.0), (65.0, 66.0)]
    assert default[0].text == "I got home at about six. Maybe a bit later, I guess."
    assert default[0].features["hedges"] == pytest.approx(200 / 12)
    assert default[2].usable is False and "too few words" in default[2].notes[0]
    short = list(analyzer.windows(prepared, common_pb2.Options(window_s=3)))
    assert [(w.start_s, w.end_s) for w in short] == [
        (0.0, 4.0),
        (5.0, 9.0),
        (31.0, 35.0),
        (36.0, 62.0),
        (65.0, 66.0),
    ]
    whole = analyzer.summarize(prepared, default)
    assert (whole.start_s, whole.end_s) == (0.0, 66.0)
    assert whole.text is not None
    assert whole.text.startswith("I got home") and whole.text.endswith("No.")
    assert whole.usable


def test_untimed_text_in_chunks_of_three_sentences(analyzer: TextAnalyzer) -> None:
    text = "I was home. I watched TV. Then I slept. I woke at seven. I went to work."
    prepared = analyzer.prepare(request(text))
    windows = list(analyzer.windows(prepared, common_pb2.Options()))
    assert [w.text for w in windows] == [
        "I was home. I watched TV. Then I slept.",
        "I woke at seven. I went to work.",
    ]
    assert all(w.start_s == w.end_s == 0.0 for w in windows)
    assert windows[0].units["hedges"] == "per 100 words"
    assert analyzer.summarize(prepared, windows).text == text


def test_protocol_attributes() -> None:
    assert TextAnalyzer.modality == common_pb2.TEXT
    assert TextAnalyzer.model_name == "text_deception"


def test_untagged_non_english_text_gets_a_note_and_low_quality(analyzer: TextAnalyzer) -> None:
    german = (
        "Ich bin um sechs Uhr nach Hause gefahren und habe unterwegs nirgends angehalten, weil "
        "ich sehr müde war und meine Kinder noch sehen wollte, bevor sie schlafen gingen. Es "
        "war spät. Ich war allein. Gut."
    )
    prepared = analyzer.prepare(request(german))
    windows = list(analyzer.windows(prepared, common_pb2.Options()))
    for window in [*windows, analyzer.summarize(prepared, windows)]:
        assert window.quality == 0.0
        assert any("does not read as English" in n and "German" in n for n in window.notes)
    # "Gut." alone is too short to tell: the second window inherits the transcript's verdict
    assert windows[-1].text == "Gut." and windows[-1].quality == 0.0
    english = analyzer.prepare(request(open_sample(), language="en"))
    summary = analyzer.summarize(english, [])
    assert summary.quality == 1.0 and not any("English" in n for n in summary.notes)


def test_three_hedges_give_three_spans_at_their_offsets(analyzer: TextAnalyzer) -> None:
    text = "\n  Maybe I left at six. Perhaps it was later, I guess."
    prepared = analyzer.prepare(request(text))
    summary = analyzer.summarize(prepared, [])
    assert summary.features["hedges"] == pytest.approx(300 / 11)
    assert summary.spans["hedges"] == [(3, 8, "Maybe"), (24, 31, "Perhaps"), (46, 53, "I guess")]
    assert all(text[a:b] == t for spans in summary.spans.values() for a, b, t in spans)
    window = next(iter(analyzer.windows(prepared, common_pb2.Options())))
    assert window.spans["hedges"] == summary.spans["hedges"]


def test_untimed_windows_point_into_the_whole_transcript(analyzer: TextAnalyzer) -> None:
    text = "I was home. I watched TV. Then I slept. Maybe I woke at seven. I went to work."
    prepared = analyzer.prepare(request(text))
    second = list(analyzer.windows(prepared, common_pb2.Options()))[1]
    assert second.spans["hedges"] == [(40, 45, "Maybe")]


def test_segment_spans_index_the_joined_segments_or_the_text(analyzer: TextAnalyzer) -> None:
    segs = [(5.0, 9.0, " Maybe later, I guess. "), (0.0, 4.0, "I got home at six.")]
    joined = "I got home at six. Maybe later, I guess."  # time order, single spaces
    prepared = analyzer.prepare(request(segments=segs))
    window = next(iter(analyzer.windows(prepared, common_pb2.Options())))
    assert window.spans["hedges"] == [(19, 24, "Maybe"), (32, 39, "I guess")]
    assert all(joined[a:b] == t for spans in window.spans.values() for a, b, t in spans)
    text = "Q: when? A: I got home at six.\nMaybe later, I guess."
    prepared = analyzer.prepare(request(text, segments=segs))
    window = next(iter(analyzer.windows(prepared, common_pb2.Options())))
    assert all(text[a:b] == t for spans in window.spans.values() for a, b, t in spans)
    assert [t for _, _, t in window.spans["hedges"]] == ["Maybe", "I guess"]
    elsewhere = analyzer.prepare(request("Something else entirely.", segments=segs))
    window = next(iter(analyzer.windows(elsewhere, common_pb2.Options())))
    assert window.spans == {} and NO_SPANS_NOTE in window.notes


def open_sample() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parents[3] / "samples" / "transcript.txt").read_text()
