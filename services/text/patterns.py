"""Cues found by rule rather than by word list: passive voice, numbers, clock times, names,
adverbs, superlatives and exclamation marks.

All are deliberately simple, data-free heuristics (no tagger or parser can be installed
offline), and each match keeps its character span so a reviewer can see what was counted.
Known misses and false hits are stated per function.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol


class _Token(Protocol):
    @property
    def text(self) -> str: ...  # lower-cased, apostrophes normalised

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


# (phrase as found, lower-cased; start; end) in the original text
Hit = tuple[str, int, int]

BE_FORMS = frozenset(
    "am is are was were be been being isn't aren't wasn't weren't "
    "get gets got gotten getting".split()
)
# Words that may sit between the auxiliary and the participle ("was never seen").
_BETWEEN = frozenset("not never just also already always really even still all".split())
IRREGULAR_PARTICIPLES = frozenset(
    "taken given seen done made told found left kept held brought bought caught taught sent "
    "built paid said shown known written driven stolen broken chosen forgotten hidden beaten "
    "bitten eaten spoken woken born worn torn sworn shot hit hurt put set cut let lost hung "
    "struck stuck sold spent led fed met read heard felt thrown grown drawn fallen forgiven "
    "frozen ridden risen shaken understood won".split()
)


def _participle(word: str) -> bool:
    return word in IRREGULAR_PARTICIPLES or (len(word) > 4 and word.endswith("ed"))


def passive_voice(tokens: Sequence[_Token]) -> list[Hit]:
    """A form of "be" or "get", up to two adverbs, then a past participle: "was taken",
    "got fired", "were never told". Counts adjectival passives too ("was tired"): the rule
    cannot tell them apart from verbal ones, and both keep the agent out of the sentence."""
    hits: list[Hit] = []
    i = 0
    while i < len(tokens):
        if tokens[i].text in BE_FORMS:
            j = i + 1
            while j < len(tokens) and j - i <= 2 and _adverb(tokens[j].text):
                j += 1
            if j < len(tokens) and _participle(tokens[j].text):
                words = " ".join(t.text for t in tokens[i : j + 1])
                hits.append((words, tokens[i].start, tokens[j].end))
                i = j + 1
                continue
        i += 1
    return hits


def _adverb(word: str) -> bool:
    return word in _BETWEEN or (len(word) > 3 and word.endswith("ly"))


NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million half dozen first second third fourth fifth "
    "sixth seventh eighth ninth tenth".split()
)
_NUMERAL = re.compile(r"(?<![\w.])\d+(?:[.,:]\d+)*(?:st|nd|rd|th|s)?(?!\w)")


def numbers(text: str, tokens: Sequence[_Token]) -> list[Hit]:
    """Numerals ("6:30", "10,000", "3rd": one each) and runs of number words ("twenty five":
    one). "one" and "second" count even when they are not numbers ("no one", "a second")."""
    hits = [(m.group().lower(), m.start(), m.end()) for m in _NUMERAL.finditer(text)]
    i = 0
    while i < len(tokens):
        if tokens[i].text in NUMBER_WORDS:
            j = i
            while j + 1 < len(tokens) and tokens[j + 1].text in NUMBER_WORDS:
                j += 1
            words = " ".join(t.text for t in tokens[i : j + 1])
            hits.append((words, tokens[i].start, tokens[j].end))
            i = j + 1
        else:
            i += 1
    return sorted(hits, key=lambda h: h[1])


_CLOCK = re.compile(
    r"(?<![\w.:])\d{1,2}(?::[0-5]\d)?\s?(?:[ap]\.m\.|[ap]m\b)|(?<![\w.:])\d{1,2}:[0-5]\d(?![\w:])",
    re.IGNORECASE,
)


def clock_times(text: str) -> list[Hit]:
    """Clock times: "6 pm", "6:30", "10.45 a.m." is missed (a dot for a colon)."""
    return [(m.group().lower(), m.start(), m.end()) for m in _CLOCK.finditer(text)]


_SENTENCE_END = frozenset(".!?\n")
_OPENERS = frozenset("\"'([{\u201c\u2018 \t\r")
_FIRST_PERSON_CAPS = frozenset("i i'm i've i'd i'll".split())


def _starts_sentence(text: str, start: int) -> bool:
    k = start - 1
    while k >= 0 and text[k] in _OPENERS:
        k -= 1
    return k < 0 or text[k] in _SENTENCE_END


def proper_nouns(text: str, tokens: Sequence[_Token]) -> list[Hit]:
    """Capitalised words inside a sentence, a run of them counting once ("New York").
    Misses names that open a sentence (their capital says nothing) and all-lower-case text
    (ASR output often is); counts capitalised common words inside sentences ("the Hotel")."""
    hits: list[Hit] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if _capitalised(text, t) and not _starts_sentence(text, t.start):
            j = i
            while (
                j + 1 < len(tokens)
                and _capitalised(text, tokens[j + 1])
                and text[tokens[j].end : tokens[j + 1].start] == " "
            ):
                j += 1
            words = " ".join(x.text for x in tokens[i : j + 1])
            hits.append((words, t.start, tokens[j].end))
            i = j + 1
        else:
            i += 1
    return hits


def _capitalised(text: str, t: _Token) -> bool:
    return text[t.start].isupper() and t.text not in _FIRST_PERSON_CAPS


# Words ending in -ly that are not adverbs (nouns, verbs, adjectives), and common adverbs that
# do not end in -ly. A tagger would do better; this keeps every hit explainable.
NOT_LY_ADVERBS = frozenset(
    "family families friendly unfriendly lovely early daily likely unlikely reply apply supply "
    "italy july fly rely ugly holy jelly belly ally bully silly lonely elderly costly chilly "
    "hilly curly comply imply multiply assembly anomaly butterfly monopoly ply sly wily lily "
    "homely oily smelly lively deadly orderly weekly monthly yearly hourly nightly lowly "
    "manly womanly worldly cowardly scholarly kindly sickly timely untimely stately courtly "
    "burly surly bubbly cuddly wobbly dolly folly golly holly molly rally tally gully "
    "emily kelly shelly sally billy".split()
)
OTHER_ADVERBS = frozenset(
    "very too also quite just even almost again already ever often sometimes soon still "
    "here there now anyway somewhat rather yet perhaps maybe seldom twice once indeed "
    "instead otherwise afterwards meanwhile nonetheless nevertheless moreover furthermore "
    "somehow somewhere anywhere everywhere nowhere".split()
)


def adverbs(tokens: Sequence[_Token]) -> list[Hit]:
    """Adverbs as a tagger would mark most of them: words ending in -ly (minus a list of
    nouns and adjectives such as "family", "friendly") and a closed list ("very", "just",
    "often"). Misses rarer adverbs without -ly; counts an unlisted -ly adjective ("costly")."""
    return [
        (t.text, t.start, t.end)
        for t in tokens
        if t.text in OTHER_ADVERBS
        or (len(t.text) > 3 and t.text.endswith("ly") and t.text not in NOT_LY_ADVERBS)
    ]


IRREGULAR_SUPERLATIVES = frozenset("best worst".split())
# Words of 5+ letters ending in -est that are not superlatives.
NOT_SUPERLATIVES = frozenset(
    "interest interests request guest chest crest forest honest dishonest modest harvest "
    "suggest protest arrest invest digest contest manifest conquest quest unrest earnest "
    "behest priest tempest midwest southwest northwest attest detest divest infest ingest "
    "molest retest everest bequest inquest disinterest budapest bucharest congest "
    "wrest".split()
)
# After "most"/"least" these words mean a quantity or a hedge, not a superlative.
_NOT_AFTER_MOST = frozenset(
    "of the a an people times days nights part likely often my our your their his her its "
    "this that these those guests rooms hotels places".split()
)


def superlatives(tokens: Sequence[_Token]) -> list[Hit]:
    """Superlatives: "best", "worst", words ending in -est ("cleanest", "friendliest", minus
    nouns and verbs such as "guest", "suggest") and "most"/"least" + a word ("most
    beautiful": one). "at least" and "most of" are not counted."""
    hits: list[Hit] = []
    i = 0
    while i < len(tokens):
        word = tokens[i].text
        if word in ("most", "least"):
            after = tokens[i + 1].text if i + 1 < len(tokens) else ""
            before = tokens[i - 1].text if i > 0 else ""
            if after and after not in _NOT_AFTER_MOST and before != "at":
                hits.append((f"{word} {after}", tokens[i].start, tokens[i + 1].end))
                i += 2
                continue
        elif word in IRREGULAR_SUPERLATIVES or (
            len(word) >= 5 and word.endswith("est") and word not in NOT_SUPERLATIVES
        ):
            hits.append((word, tokens[i].start, tokens[i].end))
        i += 1
    return hits


_EXCLAMATION = re.compile(r"!+")


def exclamations(text: str) -> list[Hit]:
    """Exclamation marks, a run ("!!!") counting once: emphatic, evaluative writing."""
    return [(m.group(), m.start(), m.end()) for m in _EXCLAMATION.finditer(text)]
