"""The text model's training pipeline on small generated corpora (no data files, seconds).

What must hold: the ONNX n-gram graph computes what sklearn computes (alone and in a padded
batch); the served model is one linear log-odds whose terms are the contributions; the nested
evaluation never lets a held-out hotel's labels reach its own predictions; the lockbox is a
fixed draw of hotels.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from models.training import text_eval, text_model, text_ngrams
from models.training.text_data import CUE_NAMES, Corpus, measure_texts
from models.training.text_onnx import export_onnx, onnx_vs_sklearn

DECEPTIVE = "my husband and i loved this luxury hotel in chicago amazing vacation best ever".split()
TRUTHFUL = "the room on the 7th floor was small but location great rate via priceline".split()
COMMON = "we stayed here for two nights staff breakfast bed view street city".split()


def generated(hotels: int, per_hotel: int, seed: int = 0) -> Corpus:
    """Texts of a few words, the class's words mixed with common ones; half of each hotel
    deceptive. Punctuation, line breaks and a '#' vary the characters."""
    rng = np.random.default_rng(seed)
    texts, y, groups = [], [], []
    for h in range(hotels):
        for i in range(per_hotel):
            label = i % 2
            own = DECEPTIVE if label else TRUTHFUL
            words = list(rng.choice(own, 6)) + list(rng.choice(COMMON, int(rng.integers(3, 12))))
            rng.shuffle(words)
            end = rng.choice([".", "!", "!!", ".\n#1"])
            texts.append(" ".join(words).capitalize() + str(end))
            y.append(label)
            groups.append(f"hotel{h:02d}")
    cues, surface = measure_texts(texts)
    n = len(texts)
    return Corpus(
        texts=texts,
        y=np.array(y),
        hotels=np.array(groups),
        polarity=np.full(n, "positive", dtype=object),
        source=np.full(n, "unknown", dtype=object),
        cues=cues,
        surface=surface,
        duplicates_dropped=0,
    )


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return generated(hotels=6, per_hotel=16)


ODD = ["", "!!!", "Caf\u00e9 na\u00efve \u00fcber-clean, 10/10.", "a\r\nb  c\t\td", "#1 ### ok"]


def test_ngram_graph_matches_sklearn_alone_and_in_a_padded_batch(corpus: Corpus) -> None:
    model = text_ngrams.fit_ngram(corpus.texts, corpus.y)
    session = ort.InferenceSession(
        text_ngrams.standalone(model).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    texts = [*corpus.texts[:20], *ODD]
    batch = session.run(None, {"text": np.array(texts, dtype=object).reshape(-1, 1)})[0][:, 0]
    np.testing.assert_allclose(batch, model.logit(texts), atol=1e-5)
    for i, text in enumerate(texts):  # shorter rows are padded in a batch: same answer alone
        alone = session.run(None, {"text": np.array([[text]], dtype=object)})[0][0, 0]
        assert alone == pytest.approx(batch[i], abs=1e-6)


def test_char_ngrams_keep_every_character() -> None:
    assert text_ngrams.char_ngrams("Ab!\n") == ["ab!", "b!\n", "ab!\n"]
    assert text_ngrams.char_ngrams("ab") == []


@pytest.fixture(scope="module")
def fitted(corpus: Corpus) -> text_model.TextModel:
    return text_model.fit_text_model(corpus.texts, corpus.y, corpus.hotels, corpus.cues)


def test_served_model_is_one_linear_log_odds(corpus: Corpus, fitted: text_model.TextModel) -> None:
    texts, cues = corpus.texts[:10], corpus.cues[:10]
    contributions = fitted.contributions(texts, cues)
    assert contributions.shape == (10, len(CUE_NAMES) + 1)
    # cue terms are the cue model's terms times the stacker's weight on them
    np.testing.assert_allclose(
        contributions[:, :-1], fitted.w_cue * fitted.cues.terms(cues), atol=1e-12
    )
    np.testing.assert_allclose(contributions[:, -1], fitted.w_ngram * fitted.ngram.logit(texts))
    raw = contributions.sum(axis=1) + fitted.served_linear()[3]
    expected = text_model.sigmoid(fitted.slope * raw + fitted.offset)
    np.testing.assert_allclose(fitted.probability(texts, cues), expected)
    # the generated classes are separable: the model finds them
    assert np.mean((fitted.probability(corpus.texts, corpus.cues) >= 0.5) == corpus.y) > 0.9


def test_export_matches_numpy(corpus: Corpus, fitted: text_model.TextModel) -> None:
    onx = export_onnx(fitted, CUE_NAMES, "text_deception")
    texts = [*corpus.texts[:10], *ODD]
    cues = np.vstack([corpus.cues[:10], measure_texts(ODD)[0]])
    diff = onnx_vs_sklearn(onx, fitted, texts, cues)
    assert diff["probability"] < 1e-5 and diff["contributions"] < 1e-4


def test_held_out_labels_never_reach_their_own_predictions() -> None:
    """Flip every label of one hotel: the out-of-fold predictions for that hotel (which the
    card's metrics are computed from) stay the same, for every model."""
    small = generated(hotels=4, per_hotel=10, seed=1)
    before = text_eval.evaluate(small, n_folds=4, log=lambda _: None)
    held = small.hotels == "hotel02"
    flipped = small.subset(np.arange(len(small.y)))
    flipped.y = np.where(held, 1 - small.y, small.y)
    after = text_eval.evaluate(flipped, n_folds=4, log=lambda _: None)
    for name in text_eval.MODELS:
        np.testing.assert_allclose(after.probs[name][held], before.probs[name][held])
        assert not np.allclose(after.probs[name][~held], before.probs[name][~held]), name
    for train, test in before.folds:
        assert not set(small.hotels[train]) & set(small.hotels[test])


def test_lockbox_is_a_fixed_draw_of_four_hotels() -> None:
    hotels = np.repeat([f"h{i:02d}" for i in range(16)], 3)
    box = text_eval.lockbox_hotels(hotels)
    assert len(box) == 4 and box == sorted(box) and set(box) <= set(hotels)
    assert text_eval.lockbox_hotels(hotels[::-1]) == box
    assert text_eval.lockbox_hotels(hotels[: 3 * 11]) == []  # 11 hotels: no lockbox


def test_best_threshold_maximises_balanced_accuracy() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.7, 0.6, 0.8, 0.9])
    t = text_model.best_threshold(y, p)
    assert 0.2 < t <= 0.6 or 0.7 < t <= 0.8  # either cut misclassifies one text
    assert text_eval.metrics(y, p, t)["balanced_accuracy"] == pytest.approx(5 / 6)
