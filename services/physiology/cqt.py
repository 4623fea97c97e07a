"""Comparison question test (CQT) scoring of question responses: the Empirical Scoring System.

The ESS (Nelson, Krapohl & Handler, 2008, Polygraph 37; Nelson et al., 2011, "Using the
Empirical Scoring System", Polygraph 40(1)) scores each presentation of a relevant question
(RQ) against a comparison question (CQ), channel by channel:

- compare the RQ's response with the stronger response of the CQs presented just before and
  just after it ("bigger is better": the larger reaction is the more salient);
- score -1 when the RQ response is larger, +1 when the CQ response is larger, 0 when they do
  not differ; the electrodermal score is doubled (ESS weights EDA +/-2, cardio and
  respiration +/-1). Negative scores point to deception, positive to truthfulness;
- sum per RQ over its presentations (subtotals) and over everything (grand total), and apply
  the two-stage rules of an event-specific (single-issue) examination: grand total >= +2:
  NDI (no significant reactions); <= -4: DI (significant reactions); otherwise DI when any
  subtotal is <= -7; otherwise inconclusive. The ESS cutscores are normed for 3 to 5
  presentations of each question; with fewer the totals are smaller and mostly inconclusive.

"Do not differ" is our automation of an examiner's visual judgement: responses within 10% of
each other (electrodermal, respiration), or heart-rate rises within 1 bpm, score 0, as do
channels where neither question produced a response (EDA < 0.05 uS, a heart-rate rise < 1 bpm).
These thresholds, the response measures (responses.py) and the heart-rate proxy for the
blood-pressure channel are ours; published ESS accuracy does not transfer to them. CQT
validity itself is disputed (National Research Council, 2003, The Polygraph and Lie
Detection): these are rules applied to measured responses, never a finding of deception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.physiology.features import SCR_MIN_AMPLITUDE_US
from services.physiology.responses import Response

CHANNEL_WEIGHTS: dict[str, int] = {"eda": 2, "cardio": 1, "respiration": 1}  # ESS
GRAND_TOTAL_NDI = 2  # >= : no significant reactions (NDI)
GRAND_TOTAL_DI = -4  # <= : significant reactions (DI)
SUBTOTAL_DI = -7  # second stage: any RQ subtotal <= : DI
NORMED_PRESENTATIONS = (3, 5)
RELATIVE_TIE = 0.10
CARDIO_TIE_BPM = 1.0
DECISION_CODES = {"NDI": 1.0, "INC": 0.0, "DI": -1.0}


@dataclass(frozen=True)
class ChannelScore:
    """One channel of one RQ presentation against its chosen CQ presentation."""

    relevant: int  # Response.number
    comparison: int  # Response.number of the CQ compared with
    channel: str
    score: int  # weighted: -2..2 for eda, -1..1 otherwise


@dataclass
class Examination:
    """Scores, totals and the decision of one examination."""

    question_ids: dict[int, str]  # RQ Response.number -> question id (label or R<k>)
    scores: list[ChannelScore] = field(default_factory=list)
    subtotals: dict[str, int] = field(default_factory=dict)
    channel_totals: dict[str, int] = field(default_factory=dict)
    grand_total: int = 0
    decision: str = "INC"
    rule: str = ""
    notes: list[str] = field(default_factory=list)


def _strength(r: Response, channel: str) -> float:
    if channel == "eda":
        return r.eda_us
    if channel == "cardio":
        return r.hr_rise_bpm
    # Suppression: a shorter respiration line is a larger response.
    return -r.resp_line_length


def compare(relevant: float, comparison: float, channel: str) -> int:
    """-1: the RQ response is larger; +1: the CQ response is; 0: no difference (unweighted)."""
    if not (math.isfinite(relevant) and math.isfinite(comparison)):
        return 0
    if channel == "eda":
        if max(relevant, comparison) < SCR_MIN_AMPLITUDE_US:
            return 0
        larger, smaller = max(relevant, comparison), min(relevant, comparison)
        if larger - smaller <= RELATIVE_TIE * larger:
            return 0
    elif channel == "cardio":
        if max(relevant, comparison) < CARDIO_TIE_BPM:
            return 0
        if abs(relevant - comparison) < CARDIO_TIE_BPM:
            return 0
    else:  # respiration: strengths are negated line lengths
        longer, shorter = -min(relevant, comparison), -max(relevant, comparison)
        if longer <= 0 or longer - shorter <= RELATIVE_TIE * longer:
            return 0
    return -1 if relevant > comparison else 1


def _neighbours(responses: Sequence[Response], i: int) -> list[Response]:
    """The comparison presentations just before and just after presentation i."""
    before = [r for r in responses[:i] if r.marker.kind == "comparison"]
    after = [r for r in responses[i + 1 :] if r.marker.kind == "comparison"]
    return ([before[-1]] if before else []) + ([after[0]] if after else [])


def question_ids(responses: Sequence[Response]) -> dict[int, str]:
    """RQ presentation -> question id: its label made name-safe, or R<k> in order of appearance.

    Presentations sharing a label are one question asked several times (several charts).
    """
    ids: dict[int, str] = {}
    by_label: dict[str, str] = {}
    k = 0
    for r in responses:
        if r.marker.kind != "relevant":
            continue
        label = re.sub(r"[^A-Za-z0-9]+", "_", r.marker.label).strip("_")
        if label and label in by_label:
            ids[r.number] = by_label[label]
            continue
        k += 1
        qid = label or f"R{k}"
        if qid in by_label.values():
            qid = f"{qid}_{k}"
        if label:
            by_label[label] = qid
        ids[r.number] = qid
    return ids


def decide(grand_total: int, subtotals: dict[str, int]) -> tuple[str, str]:
    """The ESS two-stage decision and the rule that produced it."""
    if grand_total >= GRAND_TOTAL_NDI:
        return "NDI", f"grand total {grand_total:+d} >= {GRAND_TOTAL_NDI:+d}"
    if grand_total <= GRAND_TOTAL_DI:
        return "DI", f"grand total {grand_total:+d} <= {GRAND_TOTAL_DI:+d}"
    low = {q: s for q, s in subtotals.items() if s <= SUBTOTAL_DI}
    if low:
        q, s = min(low.items(), key=lambda kv: kv[1])
        return "DI", (
            f"grand total {grand_total:+d} inconclusive; subtotal of {q} {s:+d} <= {SUBTOTAL_DI:+d}"
        )
    return "INC", (
        f"grand total {grand_total:+d} between {GRAND_TOTAL_DI:+d} and {GRAND_TOTAL_NDI:+d}, "
        f"no subtotal <= {SUBTOTAL_DI:+d}"
    )


def score(responses: Sequence[Response]) -> Examination | None:
    """Score an examination; None when it has no relevant or no comparison question."""
    kinds = {r.marker.kind for r in responses}
    if "relevant" not in kinds or "comparison" not in kinds:
        return None
    exam = Examination(question_ids(responses))
    exam.channel_totals = {c: 0 for c in CHANNEL_WEIGHTS}
    exam.subtotals = {q: 0 for q in dict.fromkeys(exam.question_ids.values())}
    for i, r in enumerate(responses):
        if r.marker.kind != "relevant":
            continue
        neighbours = _neighbours(responses, i)
        for channel, weight in CHANNEL_WEIGHTS.items():
            # The stronger-responding neighbouring CQ, per channel (unmeasured ones lose).
            measured = [c for c in neighbours if math.isfinite(_strength(c, channel))]
            if not measured:
                continue
            cq = max(measured, key=lambda c: _strength(c, channel))
            s = weight * compare(_strength(r, channel), _strength(cq, channel), channel)
            exam.scores.append(ChannelScore(r.number, cq.number, channel, s))
            exam.channel_totals[channel] += s
            exam.subtotals[exam.question_ids[r.number]] += s
    exam.grand_total = sum(exam.channel_totals.values())
    exam.decision, exam.rule = decide(exam.grand_total, exam.subtotals)
    counts = [list(exam.question_ids.values()).count(q) for q in exam.subtotals]
    low, high = NORMED_PRESENTATIONS
    if min(counts) < low or max(counts) > high:
        exam.notes.append(
            f"ESS cutscores are normed for {low}-{high} presentations of each relevant "
            f"question; here {min(counts)}-{max(counts)}: weaker evidence"
        )
    unscored = [c for c in CHANNEL_WEIGHTS if not any(s.channel == c for s in exam.scores)]
    if unscored:
        exam.notes.append(f"CQT channels not measured, not scored: {', '.join(unscored)}")
    return exam
