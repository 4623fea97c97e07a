"""The n-gram stage of `text_deception`: word and character tf-idf, one logistic regression.

Why both: word 1-3-grams carry the vocabulary of a fabricated review ("my husband", "luxury"),
character 3-5-grams carry spelling, punctuation and morphology ("!!", "est ", "'s") that a word
tokenizer drops; together they separate unseen hotels better than words alone (the model
card has the numbers). Term frequencies are sublinear (1 + ln tf), so one repeated word
cannot dominate a review.

Every step is written so that the ONNX graph built by `ngram_graph` computes exactly what
sklearn computes: tokens are what onnxruntime's Tokenizer finds (`WORD_PATTERN` for words;
every character for characters, `char_tokens`), n-grams are contiguous, and
the tf-idf arithmetic (sublinear tf, smoothed idf, L2 norm) is spelled out in plain ONNX ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

# ASCII word tokens of 2+ characters: sklearn's regex and onnxruntime's RE2 Tokenizer agree on
# this pattern exactly (sklearn's default `\b\w\w+\b` is Unicode-aware, RE2's `\w` is not).
WORD_PATTERN = r"[a-zA-Z0-9_]{2,}"
WORD_RANGE = (1, 3)
CHAR_PATTERN = "."  # every character, newlines included (onnxruntime matches them with ".")
CHAR_RANGE = (3, 5)
MIN_DF = 2
NGRAM_C = 10.0  # l2-normalised tf-idf rows: a weak penalty is the usual choice
BLOCKS = ("word", "char")
# Tokenizer pads short rows of a batch with this value; it must never form an n-gram that is
# in a vocabulary. Longer than one character and outside WORD_PATTERN, it cannot.
PAD = "<pad>"
LOCALE = "C.UTF-8"  # every Linux has it; skl2onnx's default en_US.UTF-8 is missing from slim images


def char_tokens(text: str) -> list[str]:
    """The characters onnxruntime's Tokenizer yields for `.`: every one, lower-cased."""
    return list(text.lower())


def char_ngrams(text: str) -> list[str]:
    """Contiguous character n-grams, CHAR_RANGE lengths (the char vectorizer's analyzer)."""
    chars = char_tokens(text)
    lo, hi = CHAR_RANGE
    return ["".join(chars[i : i + n]) for n in range(lo, hi + 1) for i in range(len(chars) - n + 1)]


def _vectorizers() -> dict[str, TfidfVectorizer]:
    return {
        "word": TfidfVectorizer(
            ngram_range=WORD_RANGE,
            min_df=MIN_DF,
            token_pattern=WORD_PATTERN,
            lowercase=True,
            sublinear_tf=True,
        ),
        "char": TfidfVectorizer(analyzer=char_ngrams, min_df=MIN_DF, sublinear_tf=True),
    }


@dataclass
class NgramModel:
    """tf-idf blocks side by side, each row scaled by 1/sqrt(blocks) (unit norm overall)."""

    vectorizers: dict[str, TfidfVectorizer]
    lr: LogisticRegression

    def matrix(self, texts: list[str]) -> sparse.csr_matrix:
        blocks = [self.vectorizers[b].transform(texts) for b in BLOCKS]
        return sparse.hstack(blocks).tocsr() / np.sqrt(len(BLOCKS))

    def logit(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.lr.decision_function(self.matrix(texts)), dtype=np.float64)

    def block_weights(self, block: str) -> np.ndarray:
        """This block's share of the coefficients, in its vocabulary's column order."""
        start = 0
        for b in BLOCKS:
            size = len(self.vectorizers[b].vocabulary_)
            if b == block:
                return np.asarray(self.lr.coef_[0][start : start + size])
            start += size
        raise KeyError(block)

    def vocabulary_size(self) -> dict[str, int]:
        return {b: len(self.vectorizers[b].vocabulary_) for b in BLOCKS}

    def top_terms(self, n: int = 15) -> dict[str, tuple[list[str], list[str]]]:
        """Per block: the n terms with the largest weights towards deceptive, then truthful."""
        out = {}
        for b in BLOCKS:
            vocab = np.array(self.vectorizers[b].get_feature_names_out())
            order = np.argsort(self.block_weights(b))
            out[b] = (list(vocab[order[::-1][:n]]), list(vocab[order[:n]]))
        return out


def fit_ngram(texts: list[str], y: np.ndarray) -> NgramModel:
    vectorizers = _vectorizers()
    blocks = [vectorizers[b].fit_transform(texts) for b in BLOCKS]
    x = sparse.hstack(blocks).tocsr() / np.sqrt(len(BLOCKS))
    lr = LogisticRegression(C=NGRAM_C, max_iter=5000).fit(x, y)
    return NgramModel(vectorizers, lr)


# --------------------------------------------------------------------------- ONNX


@dataclass
class Graph:
    """ONNX nodes and initializers to splice into a bigger graph."""

    nodes: list[onnx.NodeProto]
    initializers: list[onnx.TensorProto]


def _pool(vocabulary: dict[str, int], split: str, hi: int) -> dict[str, Any]:
    """TfIdfVectorizer attributes: the pool grouped by n-gram length (1..hi), start offsets
    of each length, and the output column of each pooled n-gram."""
    grams = sorted(
        ((key.split(" ") if split == "word" else list(key)), column)
        for key, column in vocabulary.items()
    )
    pool: list[str] = []
    starts: list[int] = []
    indexes: list[int] = []
    for n in range(1, hi + 1):
        starts.append(len(pool))
        for tokens, column in grams:
            if len(tokens) == n:
                pool.extend(tokens)
                indexes.append(column)
    return {"pool_strings": pool, "ngram_counts": starts, "ngram_indexes": indexes}


def _block_graph(
    block: str, vectorizer: TfidfVectorizer, weights: np.ndarray, text: str, out: str
) -> Graph:
    """text [N, 1] -> one block's contribution to the n-gram logit, [N, 1]."""
    p = f"{block}_"
    lo, hi = WORD_RANGE if block == "word" else CHAR_RANGE
    pattern = WORD_PATTERN if block == "word" else CHAR_PATTERN
    nodes = [
        helper.make_node("Reshape", [text, "ngram_flat_shape"], [p + "flat"], name=p + "flat"),
        helper.make_node(
            "StringNormalizer",
            [p + "flat"],
            [p + "lower"],
            case_change_action="LOWER",
            is_case_sensitive=0,
            locale=LOCALE,
            name=p + "lower",
        ),
        helper.make_node(
            "Tokenizer",
            [p + "lower"],
            [p + "tokens3"],
            domain="com.microsoft",
            mark=0,
            mincharnum=1,
            pad_value=PAD,
            tokenexp=pattern,
            name=p + "tokenize",
        ),
        helper.make_node("Flatten", [p + "tokens3"], [p + "tokens"], name=p + "tokens"),
        helper.make_node(
            "TfIdfVectorizer",
            [p + "tokens"],
            [p + "counts"],
            min_gram_length=lo,
            max_gram_length=hi,
            max_skip_count=0,
            mode="TF",
            name=p + "count",
            **_pool(vectorizer.vocabulary_, block, hi),
        ),
        # sublinear tf: 1 + ln(tf) where tf > 0, else 0 (counts are whole numbers)
        helper.make_node("Max", [p + "counts", "ngram_one"], [p + "at_least_1"], name=p + "max"),
        helper.make_node("Log", [p + "at_least_1"], [p + "log_tf"], name=p + "log"),
        helper.make_node("Min", [p + "counts", "ngram_one"], [p + "present"], name=p + "min"),
        helper.make_node("Add", [p + "log_tf", p + "present"], [p + "tf"], name=p + "tf"),
        helper.make_node("Mul", [p + "tf", p + "idf"], [p + "tfidf"], name=p + "tfidf"),
        # L2 norm of the row (a row without any n-gram stays 0)
        helper.make_node("Mul", [p + "tfidf", p + "tfidf"], [p + "sq"], name=p + "sq"),
        helper.make_node(
            "ReduceSum", [p + "sq", "ngram_axis1"], [p + "sumsq"], keepdims=1, name=p + "sumsq"
        ),
        helper.make_node("Sqrt", [p + "sumsq"], [p + "norm"], name=p + "norm"),
        helper.make_node("Max", [p + "norm", "ngram_tiny"], [p + "safe_norm"], name=p + "safe"),
        helper.make_node("Div", [p + "tfidf", p + "safe_norm"], [p + "unit"], name=p + "unit"),
        helper.make_node("MatMul", [p + "unit", p + "weights"], [out], name=p + "matmul"),
    ]
    scaled = (weights / np.sqrt(len(BLOCKS))).astype(np.float32).reshape(-1, 1)
    inits = [
        numpy_helper.from_array(vectorizer.idf_.astype(np.float32), p + "idf"),
        numpy_helper.from_array(scaled, p + "weights"),
    ]
    return Graph(nodes, inits)


def ngram_graph(model: NgramModel, text: str = "text", out: str = "ngram_logit") -> Graph:
    """text [N, 1] (string) -> `out` [N, 1]: the n-gram model's log-odds, as sklearn's."""
    nodes: list[onnx.NodeProto] = []
    inits = [
        numpy_helper.from_array(np.asarray([-1], dtype=np.int64), "ngram_flat_shape"),
        numpy_helper.from_array(np.asarray([1.0], dtype=np.float32), "ngram_one"),
        numpy_helper.from_array(np.asarray([1e-12], dtype=np.float32), "ngram_tiny"),
        numpy_helper.from_array(np.asarray([1], dtype=np.int64), "ngram_axis1"),
        numpy_helper.from_array(
            np.asarray([model.lr.intercept_[0]], dtype=np.float32), "ngram_intercept"
        ),
    ]
    parts = []
    for block in BLOCKS:
        part = _block_graph(
            block, model.vectorizers[block], model.block_weights(block), text, f"{block}_logit"
        )
        nodes += part.nodes
        inits += part.initializers
        parts.append(f"{block}_logit")
    nodes += [
        helper.make_node("Sum", parts, ["ngram_sum"], name="ngram_sum"),
        helper.make_node("Add", ["ngram_sum", "ngram_intercept"], [out], name="ngram_add_bias"),
    ]
    return Graph(nodes, inits)


def standalone(model: NgramModel, opset: int = 17) -> onnx.ModelProto:
    """The n-gram scorer alone (text -> ngram_logit), for tests."""
    g = ngram_graph(model)
    graph = helper.make_graph(
        g.nodes,
        "ngram_logit",
        inputs=[helper.make_tensor_value_info("text", TensorProto.STRING, ["batch", 1])],
        outputs=[helper.make_tensor_value_info("ngram_logit", TensorProto.FLOAT, ["batch", 1])],
        initializer=g.initializers,
    )
    onx = helper.make_model(graph, opset_imports=opsets(opset), producer_name="veritas")
    onx.ir_version = 8
    onnx.checker.check_model(onx)
    return onx


def opsets(opset: int = 17) -> list[onnx.OperatorSetIdProto]:
    """The domains the n-gram graph uses: ONNX, and com.microsoft for Tokenizer."""
    return [helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1)]
