"""Cue counts on texts whose answers are known by construction, with the spans that matched."""

from __future__ import annotations

import pytest

from services.text import features as tf


def hits(text: str, category: str) -> list[tuple[str, str]]:
    """(phrase, the original text at its span) for one category."""
    return [(m.phrase, text[m.start : m.end]) for m in tf.measure(text).matches[category]]


def test_three_hedges_are_counted_with_their_spans() -> None:
    text = "Maybe I left at six. Perhaps it was later, I guess."
    assert hits(text, "hedges") == [
        ("maybe", "Maybe"),
        ("perhaps", "Perhaps"),
        ("i guess", "I guess"),
    ]
    cues = tf.measure(text)
    assert cues.count("hedges") == 3
    assert cues.word_count == 11
    assert cues.rate("hedges") == pytest.approx(300 / 11)


def test_negations_including_contractions_and_curly_apostrophes() -> None:
    text = "I didn\u2019t go. No, I never saw him and I don't know why; it was not me."
    assert [p for p, _ in hits(text, "negations")] == ["didn't", "no", "never", "don't", "not"]
    assert hits(text, "negations")[0][1] == "didn\u2019t"  # the span points at the original


def test_longest_phrase_wins_without_double_counting() -> None:
    # "i'm not sure" is one hedge, not "not sure" plus more; "not" is still a negation.
    text = "I'm not sure."
    assert hits(text, "hedges") == [("i'm not sure", "I'm not sure")]
    assert [p for p, _ in hits(text, "negations")] == ["not"]


def test_pronouns_and_exclusive_words() -> None:
    text = "We went home, but my brother stayed without us except on Sunday."
    assert [p for p, _ in hits(text, "first_person_plural")] == ["we", "us"]
    assert [p for p, _ in hits(text, "first_person_singular")] == ["my"]
    assert [p for p, _ in hits(text, "exclusive")] == ["but", "without", "except"]


def test_words_inside_other_words_do_not_match() -> None:
    assert hits("Knowledge is notable; the Maybelline ad.", "negations") == []
    assert hits("Knowledge is notable; the Maybelline ad.", "hedges") == []


def test_sentiment_readability_and_diversity() -> None:
    sad = tf.measure("I hated it. It was awful and I was scared.")
    happy = tf.measure("It was a lovely, wonderful day and we were happy.")
    assert sad.sentiment_compound < -0.5 < 0.5 < happy.sentiment_compound
    assert (
        tf.measure("The cat sat.").flesch_reading_ease
        > tf.measure(
            "Institutional accountability necessitates comprehensive organisational transparency."
        ).flesch_reading_ease
    )
    assert tf.measure("the the the the").type_token_ratio == pytest.approx(0.25)


def test_empty_text_has_zero_rates() -> None:
    cues = tf.measure("")
    assert cues.word_count == 0
    assert all(v == 0.0 for v in tf.cue_rates(cues).values())


def test_feature_values_names_and_units() -> None:
    values = tf.feature_values(tf.measure("I think so."))
    assert list(values)[: len(tf.CATEGORIES)] == list(tf.CATEGORIES)
    assert set(values) == set(tf.FEATURE_UNITS)


def test_sentence_spans() -> None:
    text = 'He said "stop." Then we left!  Why?\n\nNew paragraph without a stop'
    assert tf.split_sentences(text) == [
        'He said "stop."',
        "Then we left!",
        "Why?",
        "New paragraph without a stop",
    ]


def test_distancing_categories() -> None:
    text = "Someone took it. They said he was told to leave, and the door was never locked."
    assert [p for p, _ in hits(text, "impersonal")] == ["someone"]
    assert [p for p, _ in hits(text, "third_person")] == ["they", "he"]
    assert hits(text, "passive_voice") == [
        ("was told", "was told"),
        ("was never locked", "was never locked"),
    ]


def test_detail_and_specificity_categories() -> None:
    text = "At 6:30 pm on Friday I parked behind the warehouse on Elm Street with two friends."
    assert [o for _, o in hits(text, "numbers")] == ["6:30", "two"]
    assert [o for _, o in hits(text, "temporal")] == ["6:30 pm", "Friday"]
    assert [o for _, o in hits(text, "spatial")] == ["behind"]
    assert [o for _, o in hits(text, "places")] == ["warehouse", "Street"]
    assert [o for _, o in hits(text, "proper_nouns")] == ["Friday", "Elm Street"]


def test_every_category_is_a_feature_with_a_rate() -> None:
    cues = tf.measure("I think he was taken home at 6 pm by John.")
    values = tf.feature_values(cues)
    assert all(values[c] == pytest.approx(100 * cues.count(c) / 11) for c in tf.CATEGORIES)
    assert set(tf.RULES) <= set(tf.CATEGORIES)
    assert all(c in tf.LEXICON or c in tf.RULES for c in tf.CATEGORIES)


def one_category(tokens: list[tf.Token], category: str) -> list[tf.Match]:
    """The reference: one category's non-overlapping, longest-first matches, left to right."""
    by_len = tf._phrases()[category]
    lengths = sorted(by_len, reverse=True)
    words = [t.text for t in tokens]
    found: list[tf.Match] = []
    i = 0
    while i < len(tokens):
        for n in lengths:
            if i + n <= len(tokens) and tuple(words[i : i + n]) in by_len[n]:
                found.append(
                    tf.Match(" ".join(words[i : i + n]), tokens[i].start, tokens[i + n - 1].end)
                )
                i += n
                break
        else:
            i += 1
    return found


def test_the_one_pass_lexicon_matching_equals_matching_each_category():
    """features.all_matches finds every category's matches in one pass over the tokens;
    matching one category at a time, longest first, is the reference."""
    text = (
        "I don't know, I guess we kind of went there at least twice. We were not sure, but "
        "honestly the staff at the front desk were never so rude; my husband and my family "
        "loved the room and the view of the lake. Nothing, no one and nobody else was there."
    )
    tokens = tf.tokenize(text)
    found = tf.all_matches(text, tokens)
    for category in tf.LEXICON:
        reference = one_category(tokens, category)
        if category == "temporal":  # plus clock times, found by rule
            assert set(reference) <= set(found[category])
        else:
            assert found[category] == reference, category


def test_vader_scores_as_the_library_does():
    """The sentiment analyser (linear-time negation and idiom checks) gives the library's
    own scores, negations, boosters and idioms included."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    stock = SentimentIntensityAnalyzer()
    texts = [
        "The hotel was not good at all, but the staff were kind of great.",
        "I never so loved a place! Without doubt the best stay; at least the bed was fine.",
        "It was the shit. The bomb. Cut the mustard, yeah right, kiss of death.",
        "NOT BAD at all, no problem, nor was it terrible. Sort of okay I guess.",
    ]
    for text in texts:
        assert tf._vader().polarity_scores(text) == stock.polarity_scores(text)
