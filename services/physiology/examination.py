"""A question-marked recording as result features and notes: responses, CQT scores, decision.

Feature names (all reported per result, none a model input):
  q<n>_<id>_eda_response_us, q<n>_<id>_eda_latency_s, q<n>_<id>_hr_rise_bpm,
  q<n>_<id>_resp_line_length      responses to presentation n (1-based, time order) of
                                  question <id> (its label, or R<k>/C<k>/I<k>)
  cqt_<id>_<channel>              an RQ's ESS score per channel, summed over presentations
  cqt_<id>_subtotal, cqt_<channel>_total, cqt_grand_total
  cqt_decision                    +1 NDI, 0 inconclusive, -1 DI (the ESS two-stage rules)
Without markers, or without both relevant and comparison questions, there is no CQT result
and a note says that the physiology result is arousal only, with no verdict.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.physiology import cqt
from services.physiology.features import Derived
from services.physiology.responses import MIN_WINDOW_S, Response, measure_responses
from services.physiology.signals import Marker

NO_MARKERS = (
    "no question markers: physiology reports arousal only, no verdict (comparison-question "
    "scoring needs relevant and comparison question markers)"
)
CAVEAT = (
    "CQT scoring is a rule applied to measured responses, not a finding of deception; its "
    "validity is disputed (National Research Council, 2003)"
)
DECISION_WORDS = {
    "DI": "significant reactions to the relevant questions (DI, 'deception indicated')",
    "NDI": "no significant reactions to the relevant questions (NDI)",
    "INC": "inconclusive",
}
RESPONSE_UNITS = {
    "eda_response_us": "uS",
    "eda_latency_s": "s",
    "hr_rise_bpm": "bpm",
    "resp_line_length": "signal units/s",
}


@dataclass
class Report:
    features: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    exam: cqt.Examination | None = None


def presentation_ids(responses: Sequence[Response], rq_ids: dict[int, str]) -> dict[int, str]:
    """Every presentation's question id: RQs as scored, others by label or C<k>/I<k>."""
    ids: dict[int, str] = {}
    counters = {"comparison": 0, "irrelevant": 0}
    seen: dict[tuple[str, str], str] = {}
    for r in responses:
        if r.number in rq_ids:
            ids[r.number] = rq_ids[r.number]
            continue
        kind = r.marker.kind
        label = re.sub(r"[^A-Za-z0-9]+", "_", r.marker.label).strip("_")
        if label and (kind, label) in seen:
            ids[r.number] = seen[(kind, label)]
            continue
        counters[kind] = counters.get(kind, 0) + 1
        qid = label or f"{kind[0].upper()}{counters[kind]}"
        if label:
            seen[(kind, label)] = qid
        ids[r.number] = qid
    return ids


def examine(derived: Derived, markers: tuple[Marker, ...]) -> Report:
    """Responses to every question and, when the markers allow it, the CQT result."""
    if not markers:
        return Report(notes=[NO_MARKERS])
    return report_responses(measure_responses(derived, markers))


def report_responses(responses: Sequence[Response]) -> Report:
    """The features and notes of measured responses (numbered in time order), with the CQT
    result when they include relevant and comparison questions."""
    report = Report()
    if not responses:
        report.notes.append(NO_MARKERS)
        return report
    exam = cqt.score(responses)
    report.exam = exam
    ids = presentation_ids(responses, exam.question_ids if exam else cqt.question_ids(responses))
    for r in responses:
        prefix = f"q{r.number}_{ids[r.number]}_"
        values = {
            "eda_response_us": r.eda_us,
            "eda_latency_s": r.eda_latency_s,
            "hr_rise_bpm": r.hr_rise_bpm,
            "resp_line_length": r.resp_line_length,
        }
        for name, value in values.items():
            if math.isfinite(value):
                report.features[prefix + name] = float(value)
                report.units[prefix + name] = RESPONSE_UNITS[name]
        if r.end_s - r.marker.start_s < MIN_WINDOW_S:
            report.notes.append(
                f"question {r.number} ({ids[r.number]}) is followed too closely by the next "
                "one to measure its response"
            )
    if exam is None:
        report.notes.append(
            "question markers without both relevant and comparison questions: no CQT "
            "scoring; physiology reports arousal only, no verdict"
        )
        return report
    for (qid, channel), s in _per_question_channel(exam).items():
        report.features[f"cqt_{qid}_{channel}"] = float(s)
    for qid, s in exam.subtotals.items():
        report.features[f"cqt_{qid}_subtotal"] = float(s)
    for channel, s in exam.channel_totals.items():
        report.features[f"cqt_{channel}_total"] = float(s)
    report.features["cqt_grand_total"] = float(exam.grand_total)
    report.features["cqt_decision"] = cqt.DECISION_CODES[exam.decision]
    for name in report.features:
        if name.startswith("cqt_"):
            report.units[name] = "ESS score"
    report.units["cqt_decision"] = "+1 NDI / 0 INC / -1 DI"
    totals = ", ".join(f"{c} {s:+d}" for c, s in exam.channel_totals.items())
    report.notes.append(
        f"CQT, Empirical Scoring System two-stage rules (Nelson et al., 2011): {exam.rule} "
        f"({totals}): {DECISION_WORDS[exam.decision]}"
    )
    report.notes.extend(exam.notes)
    if any(s.channel == "cardio" for s in exam.scores):
        report.notes.append("CQT cardio channel: heart-rate rise, a proxy for blood pressure")
    report.notes.append(CAVEAT)
    return report


def _per_question_channel(exam: cqt.Examination) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for qid in exam.subtotals:
        for channel in cqt.CHANNEL_WEIGHTS:
            out[(qid, channel)] = 0
    for s in exam.scores:
        key = (exam.question_ids[s.relevant], s.channel)
        out[key] += s.score
    return out
