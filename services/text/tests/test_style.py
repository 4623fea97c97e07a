"""The writing-style categories (Ott et al. 2011) on texts whose counts are known by
construction: word lists (lexicon_style.py) and rules (adverbs, superlatives, exclamations)."""

from __future__ import annotations

import pytest

from services.text import features as tf
from services.text import patterns
from services.text.features import tokenize
from services.text.lexicon_style import STYLE_LEXICON


def found(text: str, category: str) -> list[str]:
    """The original text at each match's span."""
    return [text[m.start : m.end] for m in tf.measure(text).matches[category]]


def test_style_categories_are_features_after_the_original_seventeen() -> None:
    """(models/tests/test_text_model.py checks the whole order against the model's.)"""
    style = tf.STYLE_CATEGORIES
    assert tf.CATEGORIES[17:] == style
    assert tf.CATEGORIES[:17][-1] == "proper_nouns"  # the old order is kept
    assert set(STYLE_LEXICON) <= set(tf.LEXICON)
    # Each comes from its word list or its rule, nothing else.
    assert set(style) == set(STYLE_LEXICON) | {"adverbs", "superlatives", "exclamations"}
    assert {"adverbs", "superlatives", "exclamations"} <= set(tf.RULES)
    values = tf.feature_values(tf.measure("You will love it!"))
    assert all(name in values and name in tf.FEATURE_UNITS for name in style)


def test_review_with_every_style_category_counted() -> None:
    text = (
        "You will love it! My husband and I paid $200 for the best room, "
        "the most beautiful view in the city. Really, the staff were very nice!!!"
    )
    assert found(text, "second_person") == ["You"]
    assert found(text, "positive_emotion") == ["love", "beautiful", "nice"]
    assert found(text, "family_friends") == ["husband"]
    assert found(text, "money") == ["paid"]
    assert found(text, "articles") == ["the", "the", "the", "the"]
    assert found(text, "prepositions") == ["for", "in"]
    assert found(text, "adverbs") == ["Really", "very"]
    assert found(text, "superlatives") == ["best", "most beautiful"]
    assert found(text, "exclamations") == ["!", "!!!"]
    cues = tf.measure(text)
    assert cues.word_count == 27
    assert cues.rate("articles") == pytest.approx(400 / 27)


def test_possessives_of_family_words_count() -> None:
    assert found("We stayed at my sister's place with friends.", "family_friends") == [
        "sister's",
        "friends",
    ]


def adverbs(text: str) -> list[str]:
    return [text[a:b] for _, a, b in patterns.adverbs(tokenize(text))]


def test_adverbs_by_suffix_and_closed_list_but_not_ly_nouns_or_adjectives() -> None:
    assert adverbs("She quickly left, and we often stayed here.") == ["quickly", "often", "here"]
    assert adverbs("A friendly family, a lovely early July reply.") == []
    assert adverbs("It was only fly.") == ["only"]  # "only" is an adverb; "fly" is too short


def superlatives(text: str) -> list[str]:
    return [text[a:b] for _, a, b in patterns.superlatives(tokenize(text))]


def test_superlatives_regular_irregular_and_most_plus_word() -> None:
    text = "The cleanest, friendliest and best hotel; the most amazing stay, the worst bed."
    assert superlatives(text) == ["cleanest", "friendliest", "best", "most amazing", "worst"]


def test_not_superlatives_guest_interest_at_least_most_of() -> None:
    text = "Every guest showed interest; I suggest the forest. At least most of it was honest."
    assert superlatives(text) == []
    assert superlatives("The least expensive room.") == ["least expensive"]
    assert superlatives("It was the most.") == []  # nothing after "most"


def test_exclamations_count_runs_once() -> None:
    text = "Wow! Great!!! Never again!?"
    assert [text[a:b] for _, a, b in patterns.exclamations(text)] == ["!", "!!!", "!"]
    assert patterns.exclamations("No exclamation here.") == []
