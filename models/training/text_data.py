"""The labelled texts of `text_deception`, measured the way the text service measures them.

Data: the Deceptive Opinion Spam corpus v1.4 (Ott et al., ACL 2011; Ott, Cardie & Hancock,
NAACL 2013), $VERITAS_DATA_DIR/ott_opinion_spam/reviews.csv, de-duplicated by text. Another
CSV in the same layout can be given: columns `text`, `deceptive` ("deceptive" or
"truthful"), `hotel` (the group that folds keep apart), and optionally `polarity` and
`source` (reported as confounds; "unknown" when absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from services.text import features as tf
from veritas.config import data_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
CUE_NAMES: tuple[str, ...] = tf.CATEGORIES  # the model's `features`, rates per 100 words
SURFACE_NAMES = ("word_count", "sentiment_compound")  # confound baselines, not model inputs


def data_path() -> Path:
    return data_dir() / "ott_opinion_spam" / "reviews.csv"


@dataclass
class Corpus:
    texts: list[str]
    y: np.ndarray  # 1 = deceptive
    hotels: np.ndarray
    polarity: np.ndarray
    source: np.ndarray  # MTurk | TripAdvisor | Web
    cues: np.ndarray  # [n, K] rates per 100 words, CUE_NAMES order
    surface: np.ndarray  # [n, 2] SURFACE_NAMES: length and VADER polarity
    duplicates_dropped: int

    def subset(self, idx: np.ndarray) -> Corpus:
        return Corpus(
            [self.texts[i] for i in idx],
            self.y[idx],
            self.hotels[idx],
            self.polarity[idx],
            self.source[idx],
            self.cues[idx],
            self.surface[idx],
            0,
        )


def measure_texts(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(cue rates in CUE_NAMES order, SURFACE_NAMES) of each text, as the service measures."""
    values = [tf.feature_values(tf.measure(t)) for t in texts]
    cues = np.array([[v[c] for c in CUE_NAMES] for v in values], dtype=np.float64)
    surface = np.array([[v[c] for c in SURFACE_NAMES] for v in values], dtype=np.float64)
    return cues.reshape(len(texts), len(CUE_NAMES)), surface.reshape(len(texts), 2)


def cue_matrix(texts: list[str]) -> np.ndarray:
    return measure_texts(texts)[0]


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """An optional column; "unknown" where the CSV does not have it."""
    if name in frame:
        return frame[name].astype(str).to_numpy()
    return np.full(len(frame), "unknown", dtype=object)


def load_corpus(path: Path, hotels: int | None = None) -> Corpus:
    """The de-duplicated corpus; `hotels` keeps only the first n hotels (by name), for tests."""
    raw = pd.read_csv(path)
    frame = raw.drop_duplicates(subset="text", keep="first").reset_index(drop=True)
    dropped = len(raw) - len(frame)
    if hotels is not None:
        frame = frame[frame["hotel"].isin(sorted(frame["hotel"].unique())[:hotels])]
    texts = frame["text"].astype(str).tolist()
    cues, surface = measure_texts(texts)
    return Corpus(
        texts=texts,
        y=(frame["deceptive"] == "deceptive").to_numpy(dtype=np.int64),
        hotels=frame["hotel"].to_numpy(),
        polarity=_column(frame, "polarity"),
        source=_column(frame, "source"),
        cues=cues,
        surface=surface,
        duplicates_dropped=dropped,
    )
