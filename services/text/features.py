"""Linguistic cues of deception in text, with the spans that matched (pure functions).

The categories follow the verbal-cue literature: Newman, Pennebaker, Berry & Richards (2003),
"Lying words: predicting deception from linguistic styles" (fewer first-person singular
pronouns and exclusive words, more negative emotion words in lies) and the LIWC dictionary's
categories (Pennebaker et al.), plus hedges/tentative language and certainty markers studied in
later work. The word lists below are our own, short, and deliberately plain: LIWC's
dictionaries are proprietary and we want every count to be explainable by pointing at the
words in the text. Counts become rates per 100 words, the unit LIWC reports, so texts of
different lengths compare.

Only data-free tools: a regex tokenizer (no nltk data), VADER (lexicon ships with the wheel),
textstat 0.7.8 (offline; later versions download nltk data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

# Each entry is a word or a phrase (space-separated words), matched on lower-cased tokens with
# the apostrophe normalised; within a category the longest phrase wins and matches never
# overlap. A word may belong to several categories (as in LIWC): "not sure" is a hedge whose
# "not" is also a negation.
# fmt: off
LEXICON: dict[str, tuple[str, ...]] = {
    # Self-reference; Newman et al.: liars distance themselves from the story.
    "first_person_singular": (
        "i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll", "im", "ive",
    ),
    "first_person_plural": (
        "we", "us", "our", "ours", "ourselves", "we're", "we've", "we'd", "we'll", "let's",
    ),
    "negations": (
        "no", "not", "never", "none", "nobody", "nothing", "nowhere", "neither", "nor",
        "cannot", "don't", "didn't", "doesn't", "can't", "won't", "isn't", "wasn't", "aren't",
        "weren't", "couldn't", "wouldn't", "shouldn't", "haven't", "hasn't", "hadn't", "ain't",
        "dont", "didnt", "cant", "wont",
    ),
    # Tentative language: the speaker avoids committing to the claim.
    "hedges": (
        "maybe", "perhaps", "possibly", "probably", "might", "apparently", "somewhat",
        "presumably", "supposedly", "seemingly", "unsure", "uncertain", "sort of", "kind of",
        "i think", "i guess", "i suppose", "i believe", "not sure", "not certain",
        "i don't know", "i'm not sure", "as far as i know", "if i remember", "seems", "seemed",
        "guess", "suppose",
    ),
    # Certainty and credibility markers ("honestly", "to be honest").
    "certainty": (
        "definitely", "certainly", "absolutely", "clearly", "obviously", "undoubtedly",
        "always", "completely", "totally", "exactly", "truly", "surely", "for sure",
        "of course", "without a doubt", "honestly", "to be honest", "i swear", "no doubt",
        "100 percent",
    ),
    "negative_emotion": (
        "afraid", "scared", "fear", "worried", "worry", "nervous", "anxious", "angry", "anger",
        "mad", "furious", "hate", "hated", "sad", "upset", "unhappy", "miserable", "cried",
        "cry", "hurt", "guilty", "ashamed", "embarrassed", "annoyed", "frustrated",
        "disappointed", "disappointing", "awful", "terrible", "horrible", "worst", "bad",
        "disgusting", "rude", "stress", "stressed",
    ),
    # Cognitive-process words: causation and insight.
    "cognitive": (
        "think", "thought", "know", "knew", "known", "understand", "understood", "realize",
        "realized", "remember", "remembered", "recall", "forgot", "forget", "consider",
        "considered", "decide", "decided", "wonder", "wondered", "because", "cause", "reason",
        "therefore", "hence", "why", "figure", "figured", "mean", "meant",
    ),
    # Sensory and perceptual detail (reality monitoring: experienced events carry more).
    "perceptual": (
        "see", "saw", "seen", "look", "looked", "looking", "watch", "watched", "hear", "heard",
        "listen", "listened", "sound", "sounded", "loud", "quiet", "noise", "feel", "felt",
        "touch", "touched", "smell", "smelled", "taste", "tasted", "noticed", "notice",
        "bright", "dark", "cold", "warm", "hot", "soft",
    ),
    # Exclusive words mark distinctions; Newman et al. found fewer of them in lies.
    "exclusive": (
        "but", "except", "without", "unless", "although", "though", "however", "whereas",
        "rather", "instead", "besides", "exclude", "excluding", "apart from", "other than",
    ),
}
# fmt: on

CATEGORIES: tuple[str, ...] = tuple(LEXICON)
RATE_UNIT = "per 100 words"

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SENTENCE_BREAK = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)|\n\s*\n")


@dataclass(frozen=True)
class Token:
    text: str  # lower-cased, apostrophes normalised
    start: int  # character offsets in the original text
    end: int


@dataclass(frozen=True)
class Match:
    """One lexicon hit: the phrase found and where it is in the original text."""

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
    return [Token(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(_normalise(text))]


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


def find_matches(tokens: list[Token], category: str) -> list[Match]:
    """Non-overlapping, longest-first lexicon matches of one category, left to right."""
    by_len = _phrases()[category]
    lengths = sorted(by_len, reverse=True)
    words = [t.text for t in tokens]
    found: list[Match] = []
    i = 0
    while i < len(tokens):
        for n in lengths:
            if i + n <= len(tokens) and tuple(words[i : i + n]) in by_len[n]:
                found.append(
                    Match(" ".join(words[i : i + n]), tokens[i].start, tokens[i + n - 1].end)
                )
                i += n
                break
        else:
            i += 1
    return found


@lru_cache(maxsize=1)
def _vader():  # noqa: ANN202 - third-party type
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def readability(text: str) -> float:
    """Flesch reading ease (higher: easier); 0 for text without words."""
    import textstat  # 0.7.8: offline; its first call loads pyphen (~1 s), warm it at start

    return float(textstat.flesch_reading_ease(text)) if text.strip() else 0.0


def sentiment(text: str) -> float:
    """VADER compound polarity in [-1, 1]."""
    return float(_vader().polarity_scores(text)["compound"]) if text.strip() else 0.0


def measure(text: str) -> TextCues:
    """All cues of one text. Pure: the same text always gives the same numbers."""
    tokens = tokenize(text)
    n = len(tokens)
    return TextCues(
        word_count=n,
        matches={c: find_matches(tokens, c) for c in CATEGORIES},
        type_token_ratio=len({t.text for t in tokens}) / n if n else 0.0,
        flesch_reading_ease=readability(text),
        sentiment_compound=sentiment(text),
    )


def cue_rates(cues: TextCues) -> dict[str, float]:
    """The model's inputs: each category's rate per 100 words, in CATEGORIES order."""
    return {c: cues.rate(c) for c in CATEGORIES}


# The commonest English function words: nearly every English text of 20+ words has several.
_ENGLISH_FUNCTION_WORDS = frozenset(
    "the a an and or of to in on at is was are were be been it this that i you he she we they "
    "not for with as but my me have had do did so".split()
)


def english_share(text: str) -> float:
    """Share of tokens that are common English function words (about 0.3-0.5 in English)."""
    tokens = tokenize(text)
    return sum(t.text in _ENGLISH_FUNCTION_WORDS for t in tokens) / len(tokens) if tokens else 0.0


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


def describe_matches(cues: TextCues, offset: int = 0, limit: int = 8) -> list[str]:
    """Human-readable notes: which words produced each non-zero count, with their spans."""
    notes = []
    for category in CATEGORIES:
        hits = cues.matches.get(category, [])
        if hits:
            shown = ", ".join(
                f'"{m.phrase}"@{m.start + offset}-{m.end + offset}' for m in hits[:limit]
            )
            more = f" (+{len(hits) - limit} more)" if len(hits) > limit else ""
            notes.append(f"{category} ({len(hits)}): {shown}{more}")
    return notes
