"""Linguistic cues of deception in text, with the spans that matched (pure functions).

The categories follow the verbal-cue literature: Newman, Pennebaker, Berry & Richards (2003),
"Lying words: predicting deception from linguistic styles" (fewer first-person singular
pronouns and exclusive words, more negative emotion words in lies) and the LIWC dictionary's
categories (Pennebaker et al.); hedges/tentative language and certainty markers; distancing
(third-person and impersonal references, passive voice); and the detail and specificity that
reality monitoring looks for (numbers, times, places, names, spatial and temporal words).
After those, the writing-style categories of Ott, Choi, Cardie & Hancock (2011), who found
fabricated reviews reading like imaginative writing and genuine ones like informative writing:
second person, positive emotion, family and friends, money, and part-of-speech stand-ins
(articles, prepositions, adverbs, superlatives, exclamation marks). Word lists are in
lexicon.py and lexicon_style.py, rule-based categories in patterns.py. Counts become rates per
100 words, the unit LIWC reports, so texts of different lengths compare.

Only data-free tools: a regex tokenizer (no nltk data), VADER (lexicon ships with the wheel),
textstat 0.7.8 (offline; later versions download nltk data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from services.text import language, patterns
from services.text.lexicon import LEXICON as CUE_LEXICON
from services.text.lexicon_style import STYLE_LEXICON

LEXICON: dict[str, tuple[str, ...]] = {**CUE_LEXICON, **STYLE_LEXICON}

# Categories found by rule (patterns.py), and what the rule is (for the model card).
RULES: dict[str, str] = {
    "passive_voice": 'a form of "be" or "get", up to two adverbs, then a past participle '
    f"(-ed, or one of {len(patterns.IRREGULAR_PARTICIPLES)} irregular ones): "
    '"was taken", "got fired"; adjectival passives ("was tired") count too',
    "numbers": 'numerals ("6:30", "10,000", "3rd") and runs of number words ("twenty five")',
    "proper_nouns": "capitalised words inside a sentence, a run counting once (not the "
    'first word of a sentence, not "I")',
    "adverbs": 'words ending in -ly (minus nouns and adjectives such as "family", '
    f'"friendly": {len(patterns.NOT_LY_ADVERBS)} listed) and {len(patterns.OTHER_ADVERBS)} '
    'common adverbs without -ly ("very", "just", "often")',
    "superlatives": '"best", "worst", words ending in -est (minus '
    f'{len(patterns.NOT_SUPERLATIVES)} nouns and verbs such as "guest", "suggest") and '
    '"most"/"least" + a word ("most beautiful"; not "at least", "most of")',
    "exclamations": 'exclamation marks, a run ("!!!") counting once',
}
# Writing style, after Ott et al. (2011), after the original cue categories (the model reads
# them in this order).
STYLE_CATEGORIES: tuple[str, ...] = (
    "second_person",
    "positive_emotion",
    "family_friends",
    "money",
    "articles",
    "prepositions",
    "adverbs",
    "superlatives",
    "exclamations",
)
# `temporal` is a word list plus clock times ("6 pm", "18:30") found by rule.
CATEGORIES: tuple[str, ...] = (
    "first_person_singular",
    "first_person_plural",
    "negations",
    "hedges",
    "certainty",
    "negative_emotion",
    "cognitive",
    "perceptual",
    "exclusive",
    "third_person",
    "impersonal",
    "passive_voice",
    "numbers",
    "temporal",
    "spatial",
    "places",
    "proper_nouns",
    # Writing style, after Ott et al. (2011): imaginative versus informative writing.
    *STYLE_CATEGORIES,
)
RATE_UNIT = "per 100 words"

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SENTENCE_BREAK = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)|\n\s*\n")


class Token(NamedTuple):
    """A word (a tuple: a text's hundreds of tokens are made on every request)."""

    text: str  # lower-cased, apostrophes normalised
    start: int  # character offsets in the original text
    end: int


class Match(NamedTuple):
    """One hit: the phrase found (lower-cased) and where it is in the original text."""

    phrase: str
    start: int
    end: int


@dataclass
class TextCues:
    """Everything measured on one text; `matches` says which words produced each count."""

    word_count: int
    matches: dict[str, list[Match]] = field(default_factory=dict)
    type_token_ratio: float = 0.0
    flesch_reading_ease: float = 0.0
    sentiment_compound: float = 0.0

    def count(self, category: str) -> int:
        return len(self.matches.get(category, []))

    def rate(self, category: str) -> float:
        """Occurrences per 100 words (0 for an empty text)."""
        return 100.0 * self.count(category) / self.word_count if self.word_count else 0.0


def _normalise(text: str) -> str:
    """Curly apostrophes to straight ones; same length, so offsets stay valid."""
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("\u02bc", "'")


def tokenize(text: str) -> list[Token]:
    """Words (letters/digits, inner apostrophes kept: "didn't") with their character spans."""
    return [Token(m.group().lower(), *m.span()) for m in _TOKEN.finditer(_normalise(text))]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: cut after terminal punctuation (and any closing quote)
    followed by space, or at a blank line. Good enough for windowing; no nltk data needed."""
    spans, start = [], 0
    for m in _SENTENCE_BREAK.finditer(text):
        end = m.end() if not m.group().isspace() else m.start()
        if text[start:end].strip():
            spans.append(_strip_span(text, start, end))
        start = m.end()
    if text[start:].strip():
        spans.append(_strip_span(text, start, len(text)))
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


@lru_cache(maxsize=1)
def _phrases() -> dict[str, dict[int, frozenset[tuple[str, ...]]]]:
    """Per category: phrase length -> phrases, so matching tries the longest first."""
    table: dict[str, dict[int, set[tuple[str, ...]]]] = {}
    for category, entries in LEXICON.items():
        for entry in entries:
            words = tuple(t.text for t in tokenize(entry))
            table.setdefault(category, {}).setdefault(len(words), set()).add(words)
    return {c: {n: frozenset(p) for n, p in by_len.items()} for c, by_len in table.items()}


# For a first word: each category with a phrase starting with it, and that category's phrase
# lengths (longest first) with the phrases of that length starting with the word.
_Starts = dict[str, tuple[tuple[str, tuple[tuple[int, frozenset[tuple[str, ...]]], ...]], ...]]


@lru_cache(maxsize=1)
def _starts() -> _Starts:
    """The lexicon indexed by first word: one dict lookup per token finds every category
    that could match there (most tokens start none), instead of trying every category."""
    index: dict[str, dict[str, dict[int, set[tuple[str, ...]]]]] = {}
    for category, by_len in _phrases().items():
        for n, phrases in by_len.items():
            for phrase in phrases:
                if phrase:
                    by_cat = index.setdefault(phrase[0], {}).setdefault(category, {})
                    by_cat.setdefault(n, set()).add(phrase)
    return {
        word: tuple(
            (c, tuple((n, frozenset(by_n[n])) for n in sorted(by_n, reverse=True)))
            for c, by_n in by_cat.items()
        )
        for word, by_cat in index.items()
    }


def _lexicon_matches(tokens: list[Token]) -> dict[str, list[Match]]:
    """Every category's non-overlapping, longest-first matches, left to right, in one pass:
    the same as matching each category on its own (tests/test_features.py; a category may
    match again at a token only once its previous match has ended there)."""
    starts = _starts()
    words = [t.text for t in tokens]
    count = len(words)
    found: dict[str, list[Match]] = {c: [] for c in LEXICON}
    free: dict[str, int] = {}  # category -> first token its next match may start at
    for i, word in enumerate(words):
        candidates = starts.get(word)
        if candidates is None:
            continue
        for category, lengths in candidates:
            if free.get(category, 0) > i:
                continue
            for n, phrases in lengths:
                if n == 1 or (i + n <= count and tuple(words[i : i + n]) in phrases):
                    end = i + n - 1
                    phrase = word if n == 1 else " ".join(words[i : i + n])
                    found[category].append(Match(phrase, tokens[i].start, tokens[end].end))
                    free[category] = i + n
                    break
    return found


@lru_cache(maxsize=1)
def _vader():  # noqa: ANN202 - third-party type
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    class Windowed(SentimentIntensityAnalyzer):  # type: ignore[misc]  # untyped library
        """VADER with the same scores in linear time. Its negation and idiom checks
        lower-case the whole text's words on every call (quadratic in the text's length),
        then read at most 3 words before and 2 after position i: they get just those."""

        @staticmethod
        def _negation_check(valence, words, start_i, i):  # type: ignore[no-untyped-def]
            lo = max(0, i - 3)
            check = SentimentIntensityAnalyzer._negation_check
            return check(valence, words[lo : i + 1], start_i, i - lo)

        @staticmethod
        def _special_idioms_check(valence, words, i):  # type: ignore[no-untyped-def]
            lo = max(0, i - 3)
            check = SentimentIntensityAnalyzer._special_idioms_check
            return check(valence, words[lo : i + 3], i - lo)

    return Windowed()


def readability(text: str) -> float:
    """Flesch reading ease (higher: easier); 0 for text without words."""
    import textstat  # 0.7.8: offline; its first call loads pyphen (~1 s), warm it at start

    return float(textstat.flesch_reading_ease(text)) if text.strip() else 0.0


def sentiment(text: str) -> float:
    """VADER compound polarity in [-1, 1]."""
    return float(_vader().polarity_scores(text)["compound"]) if text.strip() else 0.0


def _hits(hits: list[patterns.Hit]) -> list[Match]:
    return [Match(phrase, start, end) for phrase, start, end in hits]


def all_matches(text: str, tokens: list[Token]) -> dict[str, list[Match]]:
    """Every category's matches, each list in text order."""
    found = _lexicon_matches(tokens)
    found["temporal"] = sorted(
        found["temporal"] + _hits(patterns.clock_times(text)), key=lambda m: m.start
    )
    found["passive_voice"] = _hits(patterns.passive_voice(tokens))
    found["numbers"] = _hits(patterns.numbers(text, tokens))
    found["proper_nouns"] = _hits(patterns.proper_nouns(text, tokens))
    found["adverbs"] = _hits(patterns.adverbs(tokens))
    found["superlatives"] = _hits(patterns.superlatives(tokens))
    found["exclamations"] = _hits(patterns.exclamations(text))
    return {c: found[c] for c in CATEGORIES}


def measure(text: str) -> TextCues:
    """All cues of one text. Pure: the same text always gives the same numbers."""
    tokens = tokenize(text)
    n = len(tokens)
    return TextCues(
        word_count=n,
        matches=all_matches(text, tokens),
        type_token_ratio=len({t.text for t in tokens}) / n if n else 0.0,
        flesch_reading_ease=readability(text),
        sentiment_compound=sentiment(text),
    )


def cue_rates(cues: TextCues) -> dict[str, float]:
    """The model's inputs: each category's rate per 100 words, in CATEGORIES order."""
    return {c: cues.rate(c) for c in CATEGORIES}


def language_check(text: str) -> language.LanguageCheck:
    """Whether the text reads as English (see language.py)."""
    return language.check([t.text for t in tokenize(text)], text)


def feature_values(cues: TextCues) -> dict[str, float]:
    """Every reported feature: the rates plus length, diversity, readability and sentiment."""
    return {
        **cue_rates(cues),
        "word_count": float(cues.word_count),
        "type_token_ratio": cues.type_token_ratio,
        "flesch_reading_ease": cues.flesch_reading_ease,
        "sentiment_compound": cues.sentiment_compound,
    }


FEATURE_UNITS: dict[str, str] = {
    **{c: RATE_UNIT for c in CATEGORIES},
    "word_count": "words",
    "type_token_ratio": "ratio",
    "flesch_reading_ease": "Flesch score",
    "sentiment_compound": "VADER compound (-1..1)",
}
