"""The state of one analysis while the modality streams arrive, and the results built from it.

Each modality's window results are kept on the shared timeline. A progressive result is
about the moment of the update that triggered it and fuses, from every modality, the result
about that moment (timeline.py); the final result fuses each modality's whole-input answer,
or marks it FAILED / TIMED_OUT with the reason. Every modality result of an answer says
whether it counted as calibrated evidence for the request's Options.domain, and why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import cast

from fusion import reasoning, strategies, timeline
from fusion.stacker import Stacker
from veritas import modalities
from veritas.modalities import name_of
from veritas.telemetry import current_trace_id
from veritas.v1 import common_pb2, modality_pb2

UNEXPLAINED_FEATURES = 5  # features kept per modality when options.explain is false
CLOSED = (common_pb2.SKIPPED, common_pb2.FAILED, common_pb2.TIMED_OUT)


def _when(result: common_pb2.ModalityResult) -> str:
    s = timeline.span(result)
    return "untimed" if s is None else f"{s[0]:.1f}-{s[1]:.1f} s"


@dataclass
class Aggregate:
    request_id: str
    options: common_pb2.Options
    stacker: Stacker | None = None
    started: float = field(default_factory=time.perf_counter)
    state: dict[int, common_pb2.ModalityResult] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)
    windows: dict[int, list[common_pb2.ModalityResult]] = field(default_factory=dict)
    moment: timeline.Span | None = None  # what the latest progressive result is about

    def open(self, modality: int) -> None:
        self.state[modality] = _result(modality, common_pb2.PENDING)
        self.windows[modality] = []

    def skip(self, modality: int, reason: str) -> None:
        self.state[modality] = _result(modality, common_pb2.SKIPPED, reason)
        self.finished.add(modality)

    @property
    def running(self) -> list[int]:
        return [m for m in self.state if m not in self.finished]

    def update(self, modality: int, update: modality_pb2.ModalityUpdate) -> None:
        result = update.result
        if update.final:
            self.state[modality] = result
            self.finished.add(modality)
        else:
            if result.status == common_pb2.OK:
                # A window's score: the modality is still running.
                result.status = common_pb2.PENDING
                self.state[modality] = result
            self.windows.setdefault(modality, []).append(result)
        self.moment = timeline.span(result)

    def fail(self, modality: int, status: int, reason: str) -> None:
        last = self.state.get(modality)
        self.state[modality] = _result(modality, status, reason)
        if last is not None and last.model.name:
            self.state[modality].model.CopyFrom(last.model)
        self.state[modality].latency_ms = (time.perf_counter() - self.started) * 1000
        self.finished.add(modality)

    def aligned(self) -> tuple[list[common_pb2.ModalityResult], str]:
        """Each modality's result about the current moment, and how they were aligned."""
        moment = self.moment
        out: list[common_pb2.ModalityResult] = []
        used, none = [], []
        for m in modalities.ENUMS:
            if m not in self.state:
                continue
            state = self.state[m]
            if state.status in CLOSED and not self.windows.get(m):
                out.append(state)
                continue
            candidates = list(self.windows.get(m, []))
            if m in self.finished and state.status not in CLOSED:
                candidates.append(state)
            match = timeline.best_match(moment, candidates)
            if match is not None:
                out.append(match)
                used.append(f"{name_of(m)} {_when(match)}")
            elif state.status in CLOSED:
                out.append(state)
            else:
                seen = timeline.covered(candidates)
                if seen is not None:
                    where = f"it covers {_when_span(seen)}"
                else:
                    where = "its results carry no timestamps" if candidates else "nothing yet"
                reason = f"no result about {timeline.describe(moment)} ({where})"
                out.append(_result(m, common_pb2.PENDING, reason))
                none.append(name_of(m))
        text = f"aligned on {timeline.describe(moment)}: " + (", ".join(used) or "nothing")
        if none:
            text += f"; no result about this moment from {', '.join(none)}"
        return out, text

    def result(self, final: bool) -> common_pb2.AnalysisResult:
        strategy = self.options.strategy or common_pb2.LOG_ODDS
        if final:
            results = [self.state[m] for m in modalities.ENUMS if m in self.state]
            moment, alignment = timeline.covered(results), ""
        else:
            results, alignment = self.aligned()
            moment = self.moment
        fused = strategies.fuse(results, strategy, self.stacker, self.options.domain)
        human_review, why = reasoning.review(fused, results)
        steps = reasoning.trace(results, fused, alignment, why)
        summary = reasoning.summary(results, fused, "" if final else timeline.describe(moment))
        results = [_annotated(r, fused, self.options.explain) for r in results]
        timings = [
            common_pb2.Timing(stage=name_of(r.modality), ms=r.latency_ms)
            for r in results
            if r.latency_ms
        ]
        timings.append(
            common_pb2.Timing(stage="total", ms=(time.perf_counter() - self.started) * 1000)
        )
        u = fused.uncertainty
        return common_pb2.AnalysisResult(
            request_id=self.request_id,
            decision=fused.decision,
            decision_reason=fused.reason,
            deception_probability=fused.probability,
            probability_low=fused.low,
            probability_high=fused.high,
            uncertainty=common_pb2.Uncertainty(
                model=u.model, disagreement=u.disagreement, missing=u.missing, total=u.total
            ),
            confidence=fused.confidence,
            modalities=results,
            reasoning=steps,
            timings=timings,
            trace_id=current_trace_id(),
            summary=summary,
            human_review=human_review,
            review_reason=why,
            strategy=strategy,
            final=final,
            window_start_s=moment[0] if moment else 0.0,
            window_end_s=moment[1] if moment else 0.0,
        )


def _result(modality: int, status: int, reason: str = "") -> common_pb2.ModalityResult:
    return common_pb2.ModalityResult(
        modality=cast(common_pb2.Modality, modality),
        status=cast(common_pb2.ModalityStatus, status),
        reason=reason,
    )


def _when_span(s: timeline.Span) -> str:
    return f"{s[0]:.1f}-{s[1]:.1f} s"


def _annotated(
    result: common_pb2.ModalityResult, fused: strategies.Fused, explain: bool
) -> common_pb2.ModalityResult:
    """A copy of the result as the answer reports it: whether it counted as calibrated
    evidence and why; without `explain`, only its top features."""
    out = common_pb2.ModalityResult()
    out.CopyFrom(result)
    calibration = fused.calibration.get(result.modality)
    if calibration is not None:
        out.counted_calibrated = calibration.counted
        out.calibration_reason = calibration.reason
    if not explain:
        del out.features[UNEXPLAINED_FEATURES:]
    return out
