"""Train `text_deception`: word n-grams + linguistic cue rates, hotel-disjoint, calibrated.

Data: the Deceptive Opinion Spam corpus v1.4 (Ott et al., ACL 2011; Ott, Cardie & Hancock,
NAACL 2013), $VERITAS_DATA_DIR/ott_opinion_spam/reviews.csv, de-duplicated by text. Another
CSV in the same layout can be given with `--data`: columns `text`, `deceptive`
("deceptive" or "truthful"), `hotel` (the group that folds keep apart), and optionally
`polarity` and `source` (reported as confounds; "unknown" when absent).

The model stays explainable and exportable by stacking two linear models:
1. an n-gram logistic regression on tf-idf of word 1-2-grams gives one number per text, its
   log-odds `ngram_logit` (for training the second stage: out of fold, hotel-disjoint);
2. a standardised logistic regression over [cue rates..., ngram_logit], Platt-calibrated on
   out-of-fold logits, exported with `linear_onnx` so every term is a signed contribution.
The served ONNX takes `text` (string) and `features` (the cue rates) and returns
`probability` and `contributions` (cue terms, then the n-gram term).

Evaluation is leave-hotels-out (GroupKFold by hotel, the whole pipeline refitted inside each
fold, including the inner out-of-fold stacking and the calibration), with 95% intervals from a
bootstrap over hotels. Hyperparameters are fixed in advance below, not tuned on these folds.

Run: `.venv/bin/python -m models.training.text` (about a minute on 2 cores). Writes
models/repository/text_deception/{config.pbtxt,1/model.onnx}, the model card and its
reliability plot. Every number in the card is measured by this script.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from onnx import TensorProto, helper, numpy_helper
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import GroupKFold

from models.training.linear_onnx import linear_model, save
from models.training.triton_config import config_pbtxt
from services.text import features as tf
from services.text import language
from services.text.analyzer import DEFAULT_WINDOW_S, MIN_WORDS, SENTENCES_PER_WINDOW

MODEL_NAME = "text_deception"
VERSION = "1"
REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO_ROOT / "models" / "repository" / MODEL_NAME
CARD = REPO_ROOT / "models" / "cards" / f"{MODEL_NAME}.md"
PLOT = REPO_ROOT / "models" / "cards" / f"{MODEL_NAME}_reliability.png"
CARD_PATH = f"models/cards/{MODEL_NAME}.md"
CAVEAT = "trained on written hotel reviews; interview speech is out of domain"

CUE_NAMES: tuple[str, ...] = tf.CATEGORIES  # the model's `features`, rates per 100 words
NGRAM_TERM = "ngram_logit"
# ASCII word tokens of 2+ characters: sklearn's regex and onnxruntime's RE2 Tokenizer agree on
# this pattern exactly (sklearn's default `\b\w\w+\b` is Unicode-aware, RE2's `\w` is not).
TOKEN_PATTERN = r"[a-zA-Z0-9_]{2,}"
NGRAM_RANGE = (1, 2)
MIN_DF = 2
NGRAM_C = 10.0  # l2-normalised tf-idf rows: a weak penalty is the usual choice
FINAL_C = 1.0
OUTER_FOLDS = 8  # 2 hotels held out per fold
INNER_FOLDS = 5
N_BOOT = 2000
SEED = 20110619  # ACL 2011
OPSET = 17

OTT = (
    "Ott, M., Choi, Y., Cardie, C., & Hancock, J. T. (2011). Finding deceptive opinion spam by "
    "any stretch of the imagination. ACL 2011. Ott, M., Cardie, C., & Hancock, J. T. (2013). "
    "Negative deceptive opinion spam. NAACL 2013."
)
NEWMAN = (
    "Newman, M. L., Pennebaker, J. W., Berry, D. S., & Richards, J. M. (2003). Lying words: "
    "Predicting deception from linguistic styles. Personality and Social Psychology Bulletin, "
    "29(5), 665-675."
)


def data_path() -> Path:
    root = Path(os.environ.get("VERITAS_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
    return root / "ott_opinion_spam" / "reviews.csv"


SURFACE_NAMES = ("word_count", "sentiment_compound")  # confound baselines, not model inputs


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
    return cues, surface


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


# --------------------------------------------------------------------------- models


@dataclass
class NgramModel:
    vectorizer: TfidfVectorizer
    lr: LogisticRegression

    def logit(self, texts: list[str]) -> np.ndarray:
        return self.lr.decision_function(self.vectorizer.transform(texts))


def fit_ngram(texts: list[str], y: np.ndarray) -> NgramModel:
    vectorizer = TfidfVectorizer(
        ngram_range=NGRAM_RANGE, min_df=MIN_DF, token_pattern=TOKEN_PATTERN, lowercase=True
    )
    x = vectorizer.fit_transform(texts)
    lr = LogisticRegression(C=NGRAM_C, max_iter=5000).fit(x, y)
    return NgramModel(vectorizer, lr)


def _folds(groups: np.ndarray, n_splits: int) -> GroupKFold:
    return GroupKFold(n_splits=min(n_splits, len(np.unique(groups))))


def oof_ngram_logit(texts: list[str], y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each text's n-gram log-odds from a model that never saw its hotel."""
    out = np.zeros(len(texts))
    for train, test in _folds(groups, INNER_FOLDS).split(texts, y, groups):
        model = fit_ngram([texts[i] for i in train], y[train])
        out[test] = model.logit([texts[i] for i in test])
    return out


@dataclass
class CalibratedLinear:
    """Standardised logistic regression with out-of-fold Platt scaling."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    slope: float
    offset: float

    def raw_logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def contributions(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) * self.coef

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.slope * self.raw_logit(x) + self.offset)))


def _fit_standardised(
    x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=FINAL_C, max_iter=5000).fit((x - mean) / scale, y)
    return mean, scale, lr.coef_[0], float(lr.intercept_[0])


def platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, offset) of an (almost) unpenalised 1-D logistic regression on the logits."""
    lr = LogisticRegression(C=1e6, max_iter=5000).fit(logits.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def fit_calibrated(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> CalibratedLinear:
    mean, scale, coef, intercept = _fit_standardised(x, y)
    oof = np.zeros(len(y))
    for train, test in _folds(groups, INNER_FOLDS).split(x, y, groups):
        m, s, c, b = _fit_standardised(x[train], y[train])
        oof[test] = ((x[test] - m) / s) @ c + b
    slope, offset = platt(oof, y)
    return CalibratedLinear(mean, scale, coef, intercept, slope, offset)


@dataclass
class TextModel:
    """The served model: n-gram stage + calibrated linear stage over [cues, ngram_logit]."""

    ngram: NgramModel
    final: CalibratedLinear

    def inputs(self, texts: list[str], cues: np.ndarray) -> np.ndarray:
        return np.column_stack([cues, self.ngram.logit(texts)])

    def probability(self, texts: list[str], cues: np.ndarray) -> np.ndarray:
        return self.final.probability(self.inputs(texts, cues))

    def contributions(self, texts: list[str], cues: np.ndarray) -> np.ndarray:
        return self.final.contributions(self.inputs(texts, cues))


def fit_text_model(corpus: Corpus) -> TextModel:
    oof = oof_ngram_logit(corpus.texts, corpus.y, corpus.hotels)
    final = fit_calibrated(np.column_stack([corpus.cues, oof]), corpus.y, corpus.hotels)
    return TextModel(fit_ngram(corpus.texts, corpus.y), final)


# --------------------------------------------------------------------------- evaluation


# Confound baselines: one surface property each, fitted and calibrated like the models.
LENGTH, SENTIMENT = "length only (word count)", "sentiment only (VADER compound)"
BASELINES = {LENGTH: 0, SENTIMENT: 1}
MODELS = ("cues only", "n-grams only", "cues + n-grams")


def evaluate(corpus: Corpus) -> dict[str, np.ndarray]:
    """Out-of-fold calibrated probabilities of each model, hotels held out."""
    n = len(corpus.y)
    names = (*BASELINES, "cues only", "n-grams only", "cues + n-grams")
    probs = {name: np.zeros(n) for name in names}
    for train, test in _folds(corpus.hotels, OUTER_FOLDS).split(
        corpus.cues, corpus.y, corpus.hotels
    ):
        tr, te = corpus.subset(train), corpus.subset(test)
        for name, column in BASELINES.items():
            one = fit_calibrated(tr.surface[:, [column]], tr.y, tr.hotels)
            probs[name][test] = one.probability(te.surface[:, [column]])
        cue_model = fit_calibrated(tr.cues, tr.y, tr.hotels)
        probs["cues only"][test] = cue_model.probability(te.cues)
        oof = oof_ngram_logit(tr.texts, tr.y, tr.hotels)
        ngram = fit_ngram(tr.texts, tr.y)
        ngram_only = fit_calibrated(oof.reshape(-1, 1), tr.y, tr.hotels)
        probs["n-grams only"][test] = ngram_only.probability(ngram.logit(te.texts).reshape(-1, 1))
        final = fit_calibrated(np.column_stack([tr.cues, oof]), tr.y, tr.hotels)
        probs["cues + n-grams"][test] = TextModel(ngram, final).probability(te.texts, te.cues)
    return probs


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: bin-weighted |observed rate - mean probability|."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(total)


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "balanced_accuracy": float(balanced_accuracy_score(y, p >= 0.5)),
        "roc_auc": float(roc_auc_score(y, p)),
        "ece": ece(y, p),
    }


def bootstrap_over_hotels(
    y: np.ndarray, p: np.ndarray, hotels: np.ndarray, rng: np.random.Generator
) -> dict[str, tuple[float, float]]:
    """95% percentile intervals, resampling whole hotels with replacement."""
    names = np.unique(hotels)
    rows = {h: np.flatnonzero(hotels == h) for h in names}
    draws: dict[str, list[float]] = {}
    for _ in range(N_BOOT):
        idx = np.concatenate([rows[h] for h in rng.choice(names, size=len(names))])
        if len(np.unique(y[idx])) < 2:
            continue
        for k, v in metrics(y[idx], p[idx]).items():
            draws.setdefault(k, []).append(v)
    return {
        k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in draws.items()
    }


def reliability_plot(y: np.ndarray, probs: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = np.linspace(0, 1, 11)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for name, p in probs.items():
        idx = np.clip(np.digitize(p, edges[1:-1]), 0, 9)
        xs, ys = [], []
        for b in range(10):
            if (idx == b).sum() >= 5:
                xs.append(p[idx == b].mean())
                ys.append(y[idx == b].mean())
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ece(y, p):.3f})")
    ax.set_xlabel("predicted P(deceptive), out of fold")
    ax.set_ylabel("observed share deceptive")
    ax.set_title("text_deception: reliability, hotel-disjoint CV")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# --------------------------------------------------------------------------- export


def _ngram_graph(ngram: NgramModel) -> onnx.GraphProto:
    """skl2onnx's TfidfVectorizer graph, with a locale every Linux has (its default en_US.UTF-8
    is missing from slim images and the session then fails to load)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType

    onx = convert_sklearn(
        ngram.vectorizer,
        initial_types=[("text", StringTensorType([None, 1]))],
        target_opset={"": OPSET, "ai.onnx.ml": 3},
    )
    for node in onx.graph.node:
        if node.op_type == "StringNormalizer":
            kept = [a for a in node.attribute if a.name != "locale"]
            del node.attribute[:]
            node.attribute.extend([*kept, helper.make_attribute("locale", "C.UTF-8")])
    return onx


def export_onnx(model: TextModel) -> onnx.ModelProto:
    """Compose: text -> tf-idf -> ngram_logit; Concat(features, ngram_logit) -> linear_onnx."""
    tfidf = _ngram_graph(model.ngram)
    tfidf_out = tfidf.graph.output[0].name
    final = model.final
    names = [*CUE_NAMES, NGRAM_TERM]
    linear = linear_model(
        names,
        final.mean.tolist(),
        final.scale.tolist(),
        final.coef.tolist(),
        final.intercept,
        calibration=(final.slope, final.offset),
    )
    keep = {"features", "probability", "contributions"}
    rename = {
        n: f"linear_{n}"
        for n in {i for node in linear.graph.node for i in [*node.input, *node.output]}
        | {init.name for init in linear.graph.initializer}
        if n not in keep
    }
    rename["features"] = "all_features"
    linear_nodes: list[onnx.NodeProto] = []
    for node in linear.graph.node:
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.input[:] = [rename.get(i, i) for i in node.input]
        new.output[:] = [rename.get(o, o) for o in node.output]
        new.name = f"linear_{node.name or node.op_type}_{len(linear_nodes)}"
        linear_nodes.append(new)
    linear_inits = []
    for init in linear.graph.initializer:
        new = onnx.TensorProto()
        new.CopyFrom(init)
        new.name = rename[init.name]
        linear_inits.append(new)

    w = model.ngram.lr.coef_[0].astype(np.float32).reshape(-1, 1)
    b = np.asarray([model.ngram.lr.intercept_[0]], dtype=np.float32)
    glue = [
        helper.make_node("MatMul", [tfidf_out, "ngram_weights"], ["ngram_raw"], name="ngram_mm"),
        helper.make_node("Add", ["ngram_raw", "ngram_bias"], [NGRAM_TERM], name="ngram_bias_add"),
        helper.make_node("Concat", ["features", NGRAM_TERM], ["all_features"], axis=1, name="cat"),
    ]
    k = len(CUE_NAMES)
    graph = helper.make_graph(
        [*tfidf.graph.node, *glue, *linear_nodes],
        MODEL_NAME,
        inputs=[
            helper.make_tensor_value_info("text", TensorProto.STRING, ["batch", 1]),
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", k]),
        ],
        outputs=[
            helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", 1]),
            helper.make_tensor_value_info("contributions", TensorProto.FLOAT, ["batch", k + 1]),
        ],
        initializer=[
            *tfidf.graph.initializer,
            numpy_helper.from_array(w, "ngram_weights"),
            numpy_helper.from_array(b, "ngram_bias"),
            *linear_inits,
        ],
    )
    opsets = {o.domain: o.version for o in tfidf.opset_import}
    opsets[""] = OPSET
    composed = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
        producer_name="veritas",
    )
    composed.ir_version = 8  # readable by Triton's ONNX Runtime backend as well
    composed.doc_string = "text_deception: tf-idf n-gram log-odds + linguistic cue rates"
    composed.metadata_props.add(key="feature_names", value=",".join(CUE_NAMES))
    composed.metadata_props.add(key="contribution_names", value=",".join(names))
    onnx.checker.check_model(composed)
    return composed


def run_onnx(
    model: onnx.ModelProto | Path, texts: list[str], cues: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    p, c = session.run(
        ["probability", "contributions"],
        {
            "text": np.array(texts, dtype=object).reshape(-1, 1),
            "features": cues.astype(np.float32),
        },
    )
    return p[:, 0], c


def onnx_vs_sklearn(onx: onnx.ModelProto, model: TextModel, corpus: Corpus) -> dict[str, float]:
    p, c = run_onnx(onx, corpus.texts, corpus.cues)
    return {
        "probability": float(np.abs(p - model.probability(corpus.texts, corpus.cues)).max()),
        "contributions": float(np.abs(c - model.contributions(corpus.texts, corpus.cues)).max()),
    }


def config(validated_auc: float) -> str:
    return config_pbtxt(
        MODEL_NAME,
        CUE_NAMES,
        calibrated=True,  # on text, the kind of input the service sends; in-domain only
        card=CARD_PATH,
        contribution_names=[*CUE_NAMES, NGRAM_TERM],
        validated_auc=validated_auc,
        caveat=CAVEAT,
        text_input=True,
    )


# --------------------------------------------------------------------------- card


def sample_transcript(onx: onnx.ModelProto) -> str:
    """Score samples/transcript.txt window by window, as the text service would."""
    from services.text.analyzer import TextAnalyzer
    from veritas.v1 import common_pb2, modality_pb2

    path = REPO_ROOT / "samples" / "transcript.txt"
    analyzer = TextAnalyzer()
    transcript = common_pb2.Transcript(text=path.read_text(), language="en")
    prepared = analyzer.prepare(
        modality_pb2.ModalityRequest(input=common_pb2.ModalityInput(transcript=transcript))
    )
    windows = list(analyzer.windows(prepared, common_pb2.Options()))
    lines = [
        "| window | P(deceptive) | n-gram term | sum of cue terms |",
        "|---|---|---|---|",
    ]
    probs: list[float] = []
    ngram_largest = 0
    for i, w in enumerate([*windows, analyzer.summarize(prepared, windows)]):
        cues = np.array([[w.features[c] for c in CUE_NAMES]])
        p, c = run_onnx(onx, [w.text or ""], cues)
        label = "whole answer" if i == len(windows) else f"{i + 1}: {(w.text or '')[:40]!r}..."
        lines.append(f"| {label} | {p[0]:.3f} | {c[0, -1]:+.2f} | {c[0, :-1].sum():+.2f} |")
        probs.append(float(p[0]))
        ngram_largest += int(abs(c[0, -1]) >= np.abs(c[0, :-1]).max())
    table = "\n".join(lines)
    spread = f"{min(probs):.3f} to {max(probs):.3f}"
    return f"""`samples/transcript.txt` is a short, invented first-person interview answer with no
ground truth. Scored as the service scores it (windows of {SENTENCES_PER_WINDOW} sentences):

{table}

Scores range from {spread} on one plain story, and the n-gram term is the largest term in
{ngram_largest} of {len(probs)} rows. The n-gram stage reads hotel-review vocabulary (see the
n-grams with the largest weights above), which means something else in an interview; the
in-domain calibration does not carry over. Treat any single text score as weak evidence.
"""


def _fmt(value: float, ci: tuple[float, float] | None) -> str:
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}"


def top_ngrams(ngram: NgramModel, n: int = 15) -> tuple[list[str], list[str]]:
    vocab = np.array(ngram.vectorizer.get_feature_names_out())
    order = np.argsort(ngram.lr.coef_[0])
    return list(vocab[order[::-1][:n]]), list(vocab[order[:n]])


def lowercase_shift(model: TextModel) -> float:
    """Log-odds term of `proper_nouns` = 0 (an all-lower-case text) in the final model."""
    f, i = model.final, CUE_NAMES.index("proper_nouns")
    return float((0.0 - f.mean[i]) / f.scale[i] * f.coef[i])


def source_table(corpus: Corpus) -> str:
    """Label x polarity against where the review came from (the corpus's `source` column)."""
    sources = sorted(np.unique(corpus.source))
    lines = [
        "| label | polarity | " + " | ".join(sources) + " |",
        "|---|---|" + "---|" * len(sources),
    ]
    for label, y in (("deceptive", 1), ("truthful", 0)):
        for pol in sorted(np.unique(corpus.polarity)):
            mask = (corpus.y == y) & (corpus.polarity == pol)
            counts = " | ".join(str(int((mask & (corpus.source == s)).sum())) for s in sources)
            lines.append(f"| {label} | {pol} | {counts} |")
    return "\n".join(lines)


def source_sentence(corpus: Corpus) -> str:
    """Whether the source alone determines the label, measured on the corpus."""
    sources = np.unique(corpus.source)
    if all(len(np.unique(corpus.y[corpus.source == src])) == 1 for src in sources):
        by_label = "; ".join(
            f"{label}: {', '.join(sorted(np.unique(corpus.source[corpus.y == y])))}"
            for label, y in (("deceptive", 1), ("truthful", 0))
        )
        return (
            f"The label is fully determined by the source ({by_label}): no comparison inside "
            "this corpus can separate deception from where and why a text was written."
        )
    return "No source determines the label on its own in this data."


def language_stats(corpus: Corpus) -> str:
    """The service's language check on the (English) training texts, whole and windowed."""
    whole = [tf.language_check(t) for t in corpus.texts]
    windows = []
    for t in corpus.texts:
        spans = tf.sentence_spans(t)
        for i in range(0, len(spans), SENTENCES_PER_WINDOW):
            chunk = spans[i : i + SENTENCES_PER_WINDOW]
            windows.append(tf.language_check(t[chunk[0][0] : chunk[-1][1]]))

    def line(name: str, checks: list[language.LanguageCheck]) -> str:
        decided = [c for c in checks if c.english is not None]
        flagged = sum(c.english is False for c in checks)
        least = min(c.english_share for c in decided)
        return (
            f"- {name}: {len(checks)}; read as English {len(decided) - flagged}, flagged as "
            f"not English {flagged}, too short to tell {len(checks) - len(decided)}; lowest "
            f"English function-word share {least:.3f}."
        )

    return "\n".join([line("whole reviews", whole), line("3-sentence windows", windows)])


def write_card(
    corpus: Corpus,
    results: dict[str, dict[str, float]],
    cis: dict[str, dict[str, tuple[float, float]]],
    by_polarity: dict[str, dict[str, float]],
    model: TextModel,
    diff: dict[str, float],
    seconds: float,
    sample: str,
) -> str:
    n, hotels = len(corpus.y), len(np.unique(corpus.hotels))
    rows = "\n".join(
        f"| {name} | {_fmt(r['balanced_accuracy'], cis[name]['balanced_accuracy'])} "
        f"| {_fmt(r['roc_auc'], cis[name]['roc_auc'])} | {_fmt(r['ece'], cis[name]['ece'])} |"
        for name, r in results.items()
    )
    polarity_rows = "\n".join(
        f"| {pol} | {r['n']:.0f} | {r['balanced_accuracy']:.3f} | {r['roc_auc']:.3f} |"
        for pol, r in by_polarity.items()
    )
    f = model.final
    coef_rows = "\n".join(
        f"| `{name}` | {m:.3f} | {s:.3f} | {c:+.3f} |"
        for name, m, s, c in zip([*CUE_NAMES, NGRAM_TERM], f.mean, f.scale, f.coef, strict=True)
    )
    deceptive, truthful = top_ngrams(model.ngram)
    vocab = len(model.ngram.vectorizer.vocabulary_)
    served = results["cues + n-grams"]
    lexicon = "\n".join(
        f"- `{c}`: "
        + (f"rule: {tf.RULES[c]}" if c in tf.RULES else ", ".join(tf.LEXICON[c]))
        + (' (plus clock times such as "6 pm", "18:30", found by rule)' if c == "temporal" else "")
        for c in CUE_NAMES
    )
    words = np.array([len(tf.tokenize(t)) for t in corpus.texts])
    return f"""# Model card: {MODEL_NAME} (version {VERSION})

**Trained on written hotel reviews, not on interview speech.** Every number below is an
in-domain figure: hotel reviews written to deceive versus genuine ones. Nothing here measures
how well the model detects lies in spoken answers, interviews or transcripts, and that
accuracy is unknown; expect it to be much lower. Use the score as weak, calibrated-in-domain
evidence next to other modalities, never as a verdict on a person.

Triton config: `calibrated` is `"true"` (the probability was calibrated, out of fold, on
text, the kind of input the service sends) and `caveat` reads "{CAVEAT}"; the service adds the
caveat to the notes of every result of this model.

Built by `models/training/text.py` (`.venv/bin/python -m models.training.text`, {seconds:.0f} s
on this machine), which wrote this card; every number in it was measured by that script.

## What it computes
Inputs: `text` (TYPE_STRING [1], the raw window text) and `features` (TYPE_FP32 [{len(CUE_NAMES)}],
rates per 100 words computed by `services/text/features.py`, in this order:
{", ".join(f"`{c}`" for c in CUE_NAMES)}).
Outputs: `probability` (calibrated P(deceptive)) and `contributions` [{len(CUE_NAMES) + 1}]
(signed log-odds terms: the {len(CUE_NAMES)} cues, then `{NGRAM_TERM}`).

1. N-gram stage: tf-idf of lower-cased word 1-2-grams (token pattern `{TOKEN_PATTERN}`,
   min_df {MIN_DF}, {vocab} terms in the final model) and an L2 logistic regression
   (C = {NGRAM_C}); its decision function is `{NGRAM_TERM}`.
2. Final stage: standardised logistic regression (C = {FINAL_C}) over the cue rates and
   `{NGRAM_TERM}`; for training, `{NGRAM_TERM}` is out of fold ({INNER_FOLDS} hotel-disjoint
   folds), so its weight reflects how the n-gram model does on unseen hotels.
3. Platt calibration fitted on out-of-fold (hotel-disjoint) logits of stage 2:
   slope {f.slope:.3f}, offset {f.offset:+.3f}.

The whole graph is one ONNX file: skl2onnx's TfidfVectorizer graph (StringNormalizer with
locale `C.UTF-8`, RE2 Tokenizer, TfIdfVectorizer, L2 Normalizer), a MatMul for the n-gram
weights, and `models/training/linear_onnx.py` for stage 2. onnxruntime versus the sklearn
pipeline on all {n} texts: max |difference| {diff["probability"]:.2e} in probability,
{diff["contributions"]:.2e} in contributions.

## Data
Deceptive Opinion Spam corpus v1.4 ({OTT}); research, non-commercial use.
{n + corpus.duplicates_dropped} reviews, {corpus.duplicates_dropped} duplicate texts dropped
-> {n} ({int(corpus.y.sum())} deceptive, {int((1 - corpus.y).sum())} truthful), {hotels} Chicago
hotels, positive and negative polarity. Deceptive reviews were written by Mechanical Turk
workers; truthful ones come from TripAdvisor and other web sites. Where each review came from
(the corpus's `source` column):

{source_table(corpus)}

{source_sentence(corpus)}

## Evaluation
Leave-hotels-out: GroupKFold by hotel, {OUTER_FOLDS} folds (2 hotels held out each). Inside each
training fold the whole pipeline is refitted: inner out-of-fold n-gram logits, stage 2 and its
Platt calibration. Intervals: 95% percentile bootstrap over hotels ({N_BOOT} resamples of the
{hotels} hotels, out-of-fold predictions kept fixed). Threshold 0.5 for balanced accuracy;
ECE with 10 equal-width bins (ECE is biased upwards on resampled data, so its bootstrap
interval can sit above the point estimate). Hyperparameters were fixed before evaluation, not
tuned.

| model (all Platt-calibrated out of fold) | balanced accuracy | ROC AUC | ECE |
|---|---|---|---|
| trivial baseline (constant) | 0.500 | 0.500 | - |
{rows}

The two baselines below the trivial one each use a single surface property of the text,
fitted and calibrated exactly like the models: if length or sentiment alone separated the
classes, the models could be reading that rather than deception. Length only: ROC AUC
{results[LENGTH]["roc_auc"]:.3f}; sentiment only: ROC AUC {results[SENTIMENT]["roc_auc"]:.3f}.

The served model is "cues + n-grams" (ROC AUC {served["roc_auc"]:.3f}). Published anchors on this
corpus: about 90% accuracy with n-grams + LIWC features and a linear SVM (Ott et al., 5-fold
CV); about 89% with tf-idf + linear SVM on hotel-disjoint folds (see ../shared/data/README.md).

By review polarity (served model, out-of-fold):

| polarity | n | balanced accuracy | ROC AUC |
|---|---|---|---|
{polarity_rows}

Reliability curve (out of fold): `models/cards/{PLOT.name}`.

## Final model weights (stage 2, standardised inputs)
| input | mean | SD | coef (log-odds per SD) |
|---|---|---|---|
{coef_rows}

Intercept {f.intercept:+.3f}. N-grams with the largest weights towards deceptive:
{", ".join(f"`{t}`" for t in deceptive)}. Towards truthful: {", ".join(f"`{t}`" for t in truthful)}.

## Cue lexicon (`services/text/lexicon.py` and `patterns.py`, our own short lists and rules)
Inspired by the LIWC categories and {NEWMAN} Rates per 100 words; phrases match
longest-first without overlap within a category; categories may share words.
{lexicon}

## Language check (the service's, on these English texts)
The text service marks windows that do not read as English as low quality
(`services/text/language.py`: the share of words that are English function words, against
the same share for six other languages written in the Latin script). On the training texts:
{language_stats(corpus)}

## Out of domain: what it says on an interview answer
{sample.rstrip()}

## Known confounds and limits
- Domain: written, crowd-sourced hotel reviews. Interview answers are spoken, spontaneous,
  about the speaker's own actions, and often transcribed by ASR; vocabulary, length and style
  all differ. The n-gram stage in particular learns hotel-review vocabulary (see the n-grams
  above) that says nothing about an interview.
- Source confound: every deceptive review was written by a Mechanical Turk worker for the
  study, every truthful one was posted by a real guest on TripAdvisor (positive) or other web
  sites (negative); see the table under Data. The model may partly learn "paid imaginative
  writing versus real experience" and the platforms' styles rather than deception in general.
- Polarity: each polarity holds both classes in near-equal numbers (table under Data), and
  the served model's accuracy by polarity is reported above; sentiment alone (VADER) reaches
  ROC AUC {results[SENTIMENT]["roc_auc"]:.3f}, length alone {results[LENGTH]["roc_auc"]:.3f}.
- Capitalisation: `proper_nouns` needs capital letters. A transcript in lower case (common in
  ASR output) has none, which by itself gives a `proper_nouns` contribution of
  {lowercase_shift(model):+.2f} log-odds (towards
  {"deceptive" if lowercase_shift(model) > 0 else "truthful"}), whatever was said.
- Length: untimed transcripts are windowed every {SENTENCES_PER_WINDOW} sentences (timed
  ones every {DEFAULT_WINDOW_S:.0f} s), while the training texts have a median of
  {np.median(words):.0f} words (mean {words.mean():.0f}, range {words.min()}-{words.max()}).
  Rates per 100 words are noisy on short windows; the service does not score windows under
  {MIN_WORDS} words.
- English only; ASCII word tokens for the n-grams (accented letters split words).
- Hotel-disjoint evaluation removes hotel-identity leakage but not writer or platform style.

## Uses it must not be put to
- Deciding, alone or as the main evidence, that a person lied: not in hiring, policing,
  immigration, insurance, courts, or any decision affecting a person's rights or livelihood.
- Any setting that treats its probability as a verdict, or that skips human review.
- Languages other than English, or populations and genres it was not evaluated on, with the
  in-domain numbers above quoted as if they applied. The `validated_auc` parameter in
  config.pbtxt is this in-domain (hotel review) ROC AUC; it is not the model's accuracy on
  interviews, which has not been measured.
"""


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args(argv)
    began = time.monotonic()
    corpus = load_corpus(args.data or data_path())
    print(f"{len(corpus.y)} texts ({corpus.duplicates_dropped} duplicates dropped)", flush=True)

    probs = evaluate(corpus)
    rng = np.random.default_rng(SEED)
    results = {name: metrics(corpus.y, p) for name, p in probs.items()}
    cis = {
        name: bootstrap_over_hotels(corpus.y, p, corpus.hotels, rng) for name, p in probs.items()
    }
    for name in results:
        print(name, {k: round(v, 4) for k, v in results[name].items()}, cis[name], flush=True)
    served = probs["cues + n-grams"]
    by_polarity = {}
    for pol in np.unique(corpus.polarity):
        mask = corpus.polarity == pol
        by_polarity[str(pol)] = {"n": float(mask.sum()), **metrics(corpus.y[mask], served[mask])}
    reliability_plot(corpus.y, {name: probs[name] for name in MODELS}, PLOT)

    model = fit_text_model(corpus)
    onx = export_onnx(model)
    diff = onnx_vs_sklearn(onx, model, corpus)
    print("onnxruntime vs sklearn max abs diff:", diff, flush=True)
    if max(diff.values()) > 1e-4:
        raise SystemExit(f"exported model does not match sklearn: {diff}")
    save(onx, MODEL_DIR / VERSION / "model.onnx")
    sample = sample_transcript(onx)
    (MODEL_DIR / "config.pbtxt").write_text(config(results["cues + n-grams"]["roc_auc"]))
    CARD.write_text(
        write_card(corpus, results, cis, by_polarity, model, diff, time.monotonic() - began, sample)
    )
    print(f"wrote {MODEL_DIR} and {CARD} in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
