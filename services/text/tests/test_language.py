"""The data-free language check on texts whose language is known."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.text import features as tf

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "transcript.txt"

# The sample's first two sentences, translated by hand.
NOT_ENGLISH = {
    "German": "Ich bin gegen sechs aus dem Büro gegangen, glaube ich, vielleicht etwas später. "
    "Ich bin direkt nach Hause gefahren und habe nirgends angehalten.",
    "French": "Je suis parti du bureau vers six heures, je crois, peut-être un peu plus tard. "
    "Je suis rentré directement à la maison et je ne me suis arrêté nulle part.",
    "Spanish": "Salí de la oficina alrededor de las seis, creo, quizás un poco después. "
    "Conduje directamente a casa y no paré en ningún sitio.",
    "Polish": "Wyszedłem z biura około szóstej, tak myślę, może trochę później. Pojechałem "
    "prosto do domu i nigdzie się nie zatrzymywałem.",
    "Russian": "Я ушёл из офиса около шести, кажется, может быть чуть позже. Я поехал прямо "
    "домой и нигде не останавливался.",
    "Chinese": "我大概六点离开办公室，可能稍微晚一点。我直接开车回家，路上没有停。",
}


@pytest.mark.parametrize("language", sorted(NOT_ENGLISH))
def test_obviously_not_english(language: str) -> None:
    check = tf.language_check(NOT_ENGLISH[language])
    assert check.english is False and check.reason


def test_the_sample_reads_as_english() -> None:
    check = tf.language_check(SAMPLE.read_text())
    assert check.english is True and check.english_share > 0.3


def test_the_latin_languages_name_themselves() -> None:
    for language in ("German", "French", "Spanish"):
        assert tf.language_check(NOT_ENGLISH[language]).closest_other == language


def test_too_short_to_tell() -> None:
    assert tf.language_check("Nein, danke.").english is None
    assert tf.language_check("No, thanks.").english is None
