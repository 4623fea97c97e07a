"""Rule-based cues on sentences whose answers are known by construction."""

from __future__ import annotations

from services.text import patterns
from services.text.features import tokenize


def passive(text: str) -> list[str]:
    return [text[a:b] for _, a, b in patterns.passive_voice(tokenize(text))]


def test_passive_voice() -> None:
    assert passive("The car was stolen. I was not really informed.") == [
        "was stolen",
        "was not really informed",
    ]
    assert passive("He got fired and we were left alone.") == ["got fired", "were left"]
    assert passive("I was there. She is nice. They were walking.") == []
    assert passive("I opened the door and walked in.") == []  # active past tense


def test_numbers_count_each_numeral_and_each_run_of_number_words_once() -> None:
    text = "We paid 10,000 dollars on the 3rd, twenty five of us, at 6:30."
    found = [text[a:b] for _, a, b in patterns.numbers(text, tokenize(text))]
    assert found == ["10,000", "3rd", "twenty five", "6:30"]
    assert patterns.numbers("version2 and x86", tokenize("version2 and x86")) == []


def test_clock_times() -> None:
    text = "I left at 6 pm, or 6:30, maybe 7 a.m.; room 12 and 3.45 are not times."
    assert [text[a:b] for _, a, b in patterns.clock_times(text)] == ["6 pm", "6:30", "7 a.m."]


def test_proper_nouns_skip_sentence_starts_and_i() -> None:
    text = 'I met Anna Lee in Chicago. "Bob" called. I\'m sure.\nMonday was busy.'
    found = [text[a:b] for _, a, b in patterns.proper_nouns(text, tokenize(text))]
    assert found == ["Anna Lee", "Chicago"]
