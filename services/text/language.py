"""Is this English? A data-free check: which language's commonest function words cover it.

Function words (articles, pronouns, prepositions, auxiliaries) make up a large, stable share
of running text in every language and differ between languages, so the share of tokens that
are English function words, against the share for a few other languages written in the
Latin script, tells English apart without any model or downloaded data (the stop-word method
of language identification; cf. Grefenstette 1995). Text mostly in another script is not
English whatever its words. Too few words: undecided.

The word lists are our own, short, and only for this check.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

# fmt: off
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "English": frozenset(
        "the a an and or but of to in on at for with from by about as into than is was are "
        "were be been being am have has had do does did not no it its this that these those "
        "there here i me my you your he him his she her we us our they them their what which "
        "who when where why how so if then just all some any would could should will can up "
        "out very too also only because after before again over more other such".split()
    ),
    "German": frozenset(
        "der die das und ist nicht ich sie er es wir ihr ein eine einen dem den des zu mit von "
        "auf für im war sich auch noch nach bei aus wie aber wenn dass oder nur hat habe haben "
        "sind sehr schon wird werden um am doch mein meine kein keine hier dann weil bin".split()
    ),
    "French": frozenset(
        "le la les un une des du de et est je il elle nous vous ils elles ne pas que qui dans "
        "pour sur avec au aux ce cette mais ou donc sont été était être mon ma mes son sa ses "
        "en y plus très aussi j'ai c'est suis ai leur".split()
    ),
    "Spanish": frozenset(
        "el la los las un una unos y es de del que en no por para con se su sus lo le al pero "
        "como más muy mi yo tu él ella nosotros fue era estaba está son hay ya también me este "
        "esta eso cuando porque sin sobre hasta todo".split()
    ),
    "Italian": frozenset(
        "il lo la gli le un una uno e è di da del della che non per con su in mi io tu lui lei "
        "noi sono era ho ha hanno ma anche molto come questo questa quando perché se al alla "
        "nel nella già più sempre".split()
    ),
    "Portuguese": frozenset(
        "o a os as um uma e é de do da dos das que não em no na por para com se eu ele ela nós "
        "foi era estava muito mas como mais também meu minha seu sua isso este esta quando "
        "porque já ao".split()
    ),
    "Dutch": frozenset(
        "de het een en is van dat die niet ik je hij zij we wij ze er op te in met voor naar "
        "maar ook als was zijn heb heeft hebben werd om nog wel dan geen mijn bij uit door toen "
        "omdat".split()
    ),
}
# fmt: on

MIN_WORDS = 8  # fewer words: the shares are too noisy to decide
# English text has far more than this share of English function words (see the model card
# of text_deception for the share measured on its training texts).
MIN_ENGLISH_SHARE = 0.2
MIN_LATIN_SHARE = 0.5  # share of letters in the Latin script


@dataclass(frozen=True)
class LanguageCheck:
    english: bool | None  # None: too short to tell
    words: int
    english_share: float  # share of tokens that are English function words
    closest_other: str  # the other language whose function words cover the most tokens
    other_share: float
    latin_share: float  # share of letters written in the Latin script
    reason: str = ""


@lru_cache(maxsize=4096)
def _latin(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("LATIN")


def latin_share(text: str) -> float:
    if text.isascii():  # every ASCII letter is Latin (and no letters at all reads as 1.0)
        return 1.0
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    return sum(_latin(ch) for ch in letters) / len(letters)


def check(tokens: list[str], text: str) -> LanguageCheck:
    """Decide from lower-cased word tokens (and the raw text, for its script)."""
    n = len(tokens)
    counts = Counter(tokens)  # each distinct word looked up once per language
    shares = {
        lang: (sum(c for t, c in counts.items() if t in words) / n if n else 0.0)
        for lang, words in FUNCTION_WORDS.items()
    }
    english = shares.pop("English")
    other = max(shares, key=lambda k: shares[k])
    latin = latin_share(text)
    base = LanguageCheck(None, n, english, other, shares[other], latin)
    if latin < MIN_LATIN_SHARE:
        return _with(base, False, f"{1 - latin:.0%} of its letters are not Latin script")
    if n < MIN_WORDS:
        return base
    if english < MIN_ENGLISH_SHARE or shares[other] >= english:
        return _with(
            base,
            False,
            f"English function words cover {english:.0%} of its words, {other} ones "
            f"{shares[other]:.0%}",
        )
    return _with(base, True, "")


def _with(c: LanguageCheck, english: bool, reason: str) -> LanguageCheck:
    return LanguageCheck(
        english, c.words, c.english_share, c.closest_other, c.other_share, c.latin_share, reason
    )
