"""A result as a person reads it in a terminal."""

from __future__ import annotations

from veritas.modalities import name_of
from veritas.v1 import common_pb2

DECISION_WORDS = {
    common_pb2.TRUTHFUL: "TRUTHFUL",
    common_pb2.DECEPTIVE: "DECEPTIVE",
    common_pb2.INCONCLUSIVE: "INCONCLUSIVE",
}


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()


def format_result(result: common_pb2.AnalysisResult, features: int = 3) -> str:
    lines = [
        f"Decision:     {DECISION_WORDS.get(result.decision, 'UNKNOWN')}",
        f"P(deceptive): {result.deception_probability:.2f}  uncertainty interval "
        f"[{result.probability_low:.2f}, {result.probability_high:.2f}]",
        f"Confidence:   {result.confidence:.2f}",
    ]
    if result.human_review:
        lines.append(f"Human review: recommended ({result.review_reason})")
    lines.append(f"Summary:      {result.summary}")
    lines.append("")
    header = ["modality", "status", "score", "conf", "model", "latency", "note"]
    rows = []
    for m in result.modalities:
        ok = m.status in (common_pb2.OK, common_pb2.PENDING)
        model = f"{m.model.name} v{m.model.version}" if m.model.name else "-"
        if m.model.name and not m.model.calibrated:
            model += " (uncalibrated)"
        elif m.model.name and ok and not m.counted_calibrated:
            model += " (not calibrated for this input)"
        rows.append(
            [
                name_of(m.modality),
                common_pb2.ModalityStatus.Name(m.status),
                f"{m.score:.2f}" if ok else "-",
                f"{m.confidence:.2f}" if ok else "-",
                model,
                f"{m.latency_ms:.0f} ms" if m.latency_ms else "-",
                m.reason,
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)] + [0]
    lines += [_row(header, widths), _row(["-" * w for w in widths[:-1]] + ["----"], widths)]
    lines += [_row(r, widths) for r in rows]
    why = [
        f"  {name_of(m.modality)}: {m.calibration_reason}"
        for m in result.modalities
        if m.calibration_reason and m.model.calibrated
    ]
    if why:
        lines += ["", "Calibrated evidence for this input:", *why]
    lines.append("")
    lines.append("Top features (signed contribution to the modality's log-odds):")
    for m in result.modalities:
        top = [f for f in m.features if f.contribution][:features]
        if top:
            name = name_of(m.modality)
            lines.append(
                f"  {name}: "
                + ", ".join(f"{f.name}={f.value:.3g} ({f.contribution:+.2f})" for f in top)
            )
    lines.append("")
    lines.append("Reasoning:")
    for step in result.reasoning:
        lines.append(f"  [{common_pb2.ReasoningStep.Kind.Name(step.kind).lower()}] {step.text}")
    if result.timings:
        lines.append("")
        lines.append("Timings: " + ", ".join(f"{t.stage} {t.ms:.0f} ms" for t in result.timings))
    if result.trace_id:
        lines.append(f"Trace id: {result.trace_id}")
    return "\n".join(lines)
