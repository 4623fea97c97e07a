"""The numbers of live streams, from what the client recorded (pure functions, no clocks).

A stream's record holds every chunk as sent (its lane, the span of the timeline its data
covers, and when the client began to write it) and, per modality window, the first moment
each distinct update about it reached the client.

- **window close**: the moment the client sent the chunk that completed the window: for
  video, the first frame at or after the window's end; for audio, physiology and transcript
  segments, the first chunk whose data reaches the window's end (physiology: the last of its
  channels to get there). A window no chunk completes (the last ones) closes at the end of
  input. A window closed by a chunk is *in-stream*; the others measure the finish, not the
  steady cost, and are left out of the quarter comparison.
- **update latency**: from the window's close to the first update about it at the client.
- **answered**: every window of the grid the stream spans (from the first chunk's window to
  the last chunk's) got at least one update; the grid's length is the one the service
  answered in (it may raise a too-short window to its minimum).
- **text** is paced by its own segments, not by the grid: the service groups segments into
  windows as the offline path does (a segment starting `window_s` after its group's first
  closes the group), so a text window is the span of its segments, and it closes when the
  client sent the first segment after them (the end of input for the last). *Answered*: every
  segment sent lies in some answered window.
- **real-time ratio** of a lane: timeline seconds sent per wall second; 1.0 is real time.
- **held**: no error, a final result, every lane sent at >= 95% of real time, every window
  answered, and p95 update latency within the target.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.stats import summarize_ms

SEND_RATE_FRACTION = 0.95
EPS = 1e-6
QUALITIES = ("LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True)
class Sent:
    modality: str
    lane: str
    start_s: float
    end_s: float  # a video frame: its timestamp (an instant)
    sent_at: float  # client clock (perf_counter) when it began to write the chunk


@dataclass(frozen=True)
class Seen:
    """One distinct update about one window, as first seen by the client."""

    at: float  # client clock when the result carrying it arrived
    status: str
    quality: str  # QUALITY_* name without the prefix; AUTO: the update did not say
    received: int
    analysed: int
    skipped: int


Key = tuple[str, float, float]  # (modality, window start, window end)


@dataclass
class LiveRecord:
    """What one stream's client saw."""

    modalities: tuple[str, ...]
    seconds: float  # the stream's planned length on its timeline
    window_s: float  # asked for in the config
    target_ms: float
    target_fps: float = 0.0
    quality: str = "AUTO"
    began: float = 0.0  # client clock at the stream's time 0
    sent: list[Sent] = field(default_factory=list)
    end_of_input: float = 0.0
    windows: dict[Key, dict[float, Seen]] = field(default_factory=dict)  # update id -> seen
    finals: dict[str, Seen] = field(default_factory=dict)
    final_at: float | None = None
    error: str | None = None

    def observe_window(self, key: Key, update_id: float, seen: Seen) -> None:
        self.windows.setdefault(key, {}).setdefault(update_id, seen)

    def observe_final(self, key: Key, update_id: float, seen: Seen) -> None:
        """A modality's whole-input result: also seen in progressive results (fusion fuses it
        as the moment it arrived), where it is not a window."""
        self.finals[key[0]] = seen
        updates = self.windows.get(key)
        if updates is not None:
            updates.pop(update_id, None)
            if not updates:
                del self.windows[key]


@dataclass(frozen=True)
class WindowRow:
    start_s: float
    end_s: float
    closed_at: float | None  # client clock; None: the stream ended before it closed
    closed_by: str  # chunk | end
    first_at: float | None  # first update; None: not answered
    updates: int
    status: str
    quality: str
    received: int
    analysed: int
    skipped: int

    @property
    def latency_s(self) -> float | None:
        if self.first_at is None or self.closed_at is None:
            return None
        return self.first_at - self.closed_at


def lanes(sent: Iterable[Sent], modality: str) -> dict[str, list[Sent]]:
    out: dict[str, list[Sent]] = {}
    for s in sent:
        if s.modality == modality:
            out.setdefault(s.lane, []).append(s)
    return out


def close_time(by_lane: Mapping[str, Sequence[Sent]], end_s: float) -> float | None:
    """When the client sent what completed a window ending at `end_s` (None: nothing did)."""
    moments = []
    for chunks in by_lane.values():
        ends = [c.end_s for c in chunks]
        i = bisect.bisect_left(ends, end_s - EPS)
        if i == len(chunks):
            return None
        moments.append(chunks[i].sent_at)
    return max(moments) if moments else None


def window_length(record: LiveRecord, modality: str) -> float:
    """The window length the service answered in (the most common), else the asked one."""
    lengths = Counter(round(e - s, 6) for m, s, e in record.windows if m == modality)
    return lengths.most_common(1)[0][0] if lengths else record.window_s


def expected_windows(by_lane: Mapping[str, Sequence[Sent]], window_s: float) -> list[int]:
    """Grid indices from the first chunk's window to the last chunk's."""
    chunks = [c for lane in by_lane.values() for c in lane]
    if not chunks or window_s <= 0:
        return []
    first = min(math.floor(c.start_s / window_s + EPS) for c in chunks)
    # An instant (a frame) at t lies in window floor(t / w); data that ends at e reaches
    # into window ceil(e / w) - 1 (data ending exactly on an edge stops before it).
    last = max(
        math.ceil(c.end_s / window_s - EPS) - 1
        if c.end_s > c.start_s
        else math.floor(c.end_s / window_s + EPS)
        for c in chunks
    )
    return list(range(first, last + 1))


def window_rows(record: LiveRecord, modality: str) -> tuple[list[WindowRow], list[Key]]:
    """One row per expected window (answered or not), in time order, and the answered
    windows that are not on the grid. A window closes with the chunk that reaches its end."""
    by_lane = lanes(record.sent, modality)
    w = window_length(record, modality)
    answered = {
        (round(s / w), round(e / w)): updates
        for (m, s, e), updates in record.windows.items()
        if m == modality
        and abs(s / w - round(s / w)) < 1e-3
        and abs(e - s - w) < 1e-3 * max(w, 1.0)
    }
    off_grid = [
        k
        for k in record.windows
        if k[0] == modality and (round(k[1] / w), round(k[2] / w)) not in answered
    ]
    rows = []
    for index in expected_windows(by_lane, w):
        start, end = index * w, (index + 1) * w
        closed = close_time(by_lane, end)
        rows.append(_row(record, start, end, closed, answered.get((index, index + 1), {})))
    return rows, off_grid


def _row(
    record: LiveRecord,
    start: float,
    end: float,
    closed: float | None,
    updates: Mapping[float, Seen],
) -> WindowRow:
    """A window's row: closed by a chunk sent at `closed` (None: by the end of input), with
    the first of its `updates` as its answer."""
    first = min(updates.values(), key=lambda u: u.at) if updates else None
    return WindowRow(
        start_s=start,
        end_s=end,
        closed_at=closed if closed is not None else record.end_of_input or None,
        closed_by="chunk" if closed is not None else "end",
        first_at=first.at if first else None,
        updates=len(updates),
        status=first.status if first else "",
        quality=first.quality if first else "",
        received=first.received if first else 0,
        analysed=first.analysed if first else 0,
        skipped=first.skipped if first else 0,
    )


SEGMENT_PACED = frozenset({"text"})  # modalities whose windows follow their segments


def segment_rows(record: LiveRecord, modality: str) -> tuple[list[WindowRow], list[Key]]:
    """Rows of a segment-paced modality (text): one per answered window, in time order, with
    the segments it holds; and one unanswered row per segment that no answered window holds."""
    sent = sorted((c for c in record.sent if c.modality == modality), key=lambda c: c.start_s)
    windows = sorted(
        ((s, e), updates) for (m, s, e), updates in record.windows.items() if m == modality
    )
    held: set[int] = set()
    rows = []

    def row(start: float, end: float, last: int, updates: Mapping[float, Seen]) -> WindowRow:
        """Closed by the segment sent after its last one."""
        closer = sent[last + 1].sent_at if last + 1 < len(sent) else None
        return _row(record, start, end, closer, updates)

    for (start, end), updates in windows:
        inside = [
            i
            for i, c in enumerate(sent)
            if c.start_s >= start - EPS and c.end_s <= end + EPS and i not in held
        ]
        if inside:
            held.update(inside)
            rows.append(row(start, end, max(inside), updates))
    rows += [row(c.start_s, c.end_s, i, {}) for i, c in enumerate(sent) if i not in held]
    return sorted(rows, key=lambda r: r.start_s), []


def realtime_ratio(chunks: Sequence[Sent]) -> float:
    """Timeline seconds sent per wall second over a lane (1.0: real time)."""
    if len(chunks) < 2:
        return math.nan
    wall = chunks[-1].sent_at - chunks[0].sent_at
    span = chunks[-1].end_s - chunks[0].end_s
    return span / wall if wall > 0 else math.inf


def quarter_of(end_s: float, seconds: float) -> int:
    """Which quarter of the stream a window ending at `end_s` belongs to (0-3)."""
    if seconds <= 0:
        return 0
    return max(0, min(3, math.floor(4 * (end_s - EPS) / seconds)))


def quarters(rows: Sequence[WindowRow], seconds: float) -> list[dict[str, Any]]:
    """Per quarter of the stream: in-stream windows' update latency, frames analysed per
    second (coverage) and the quality mix."""
    out = []
    for q in range(4):
        mine = [r for r in rows if quarter_of(r.end_s, seconds) == q]
        timed = [r.latency_s for r in mine if r.closed_by == "chunk" and r.latency_s is not None]
        span = sum(r.end_s - r.start_s for r in mine)
        out.append(
            {
                "quarter": q + 1,
                "windows": len(mine),
                "in_stream_windows": len(timed),
                "update_latency": summarize_ms(timed),
                "analysed_per_s": sum(r.analysed for r in mine) / span if span else math.nan,
                "received_per_s": sum(r.received for r in mine) / span if span else math.nan,
                "quality": quality_mix(mine),
            }
        )
    return out


def quarter_ratio(quarter_list: Sequence[Mapping[str, Any]]) -> float:
    """p95 update latency of the last quarter / the first (NaN when either is missing)."""
    if len(quarter_list) < 4:
        return math.nan
    first = quarter_list[0]["update_latency"]["p95_ms"]
    last = quarter_list[-1]["update_latency"]["p95_ms"]
    if not (math.isfinite(first) and math.isfinite(last)) or first <= 0:
        return math.nan
    return float(last / first)


def quality_mix(rows: Iterable[WindowRow]) -> dict[str, int]:
    counts = Counter(r.quality for r in rows if r.first_at is not None)
    return {q: counts[q] for q in (*QUALITIES, "AUTO") if counts[q]} | {
        q: n for q, n in counts.items() if q not in (*QUALITIES, "AUTO")
    }


def modality_metrics(record: LiveRecord, modality: str) -> dict[str, Any]:
    """One modality of one stream: windows, latency, coverage, quality, held."""
    paced = segment_rows if modality in SEGMENT_PACED else window_rows
    rows, off_grid = paced(record, modality)
    by_lane = lanes(record.sent, modality)
    latencies = [r.latency_s for r in rows if r.latency_s is not None]
    missing = [r for r in rows if r.first_at is None]
    # A lane of one chunk (one transcript segment in a short stream) has no rate to keep.
    ratios = {lane: realtime_ratio(c) for lane, c in by_lane.items() if len(c) > 1}
    sent = sum(len(c) for c in by_lane.values())
    received = sum(r.received for r in rows)
    analysed = sum(r.analysed for r in rows)
    final = record.finals.get(modality)
    seconds = record.seconds
    summary = summarize_ms(latencies)
    slowest = min((r for r in ratios.values() if math.isfinite(r)), default=math.nan)
    held = (
        record.error is None
        and record.final_at is not None
        and bool(rows)
        and not missing
        and all(math.isfinite(r) and r >= SEND_RATE_FRACTION for r in ratios.values())
        and math.isfinite(summary["p95_ms"])
        and summary["p95_ms"] <= record.target_ms
    )
    return {
        "window_s": window_length(record, modality),
        "chunks_sent": sent,
        "realtime_ratio_min": slowest,
        "windows_expected": len(rows),
        "windows_answered": len(rows) - len(missing),
        "windows_missing": len(missing),
        "missing_first_s": [r.start_s for r in missing[:10]],
        "windows_off_grid": len(off_grid),
        "updates_per_window_max": max((r.updates for r in rows), default=0),
        "windows_with_repeats": sum(1 for r in rows if r.updates > 1),
        "windows_closed_by_end": sum(1 for r in rows if r.closed_by == "end"),
        "update_latency": summary,
        "coverage": {
            "received": received,
            "analysed": analysed,
            "skipped": sum(r.skipped for r in rows),
            "final": None
            if final is None
            else {"received": final.received, "analysed": final.analysed, "skipped": final.skipped},
        },
        "analysed_per_s": analysed / seconds if seconds else math.nan,
        "received_per_s": received / seconds if seconds else math.nan,
        "quality": quality_mix(rows),
        "statuses": dict(Counter(r.status for r in rows if r.first_at is not None)),
        "final_status": final.status if final else None,
        "held": held,
    }


def stream_metrics(record: LiveRecord) -> dict[str, Any]:
    """Every modality of one stream, and whether the stream held."""
    # A modality none of whose chunks was sent (e.g. no transcript segment ended within a
    # short stream) has no windows to expect: it is not part of this stream.
    sent = {s.modality for s in record.sent}
    per = {m: modality_metrics(record, m) for m in record.modalities if m in sent}
    vision = per.get("vision")
    frames = vision["chunks_sent"] if vision else 0
    video = lanes(record.sent, "vision").get("vision", [])
    wall = video[-1].sent_at - video[0].sent_at if len(video) > 1 else 0.0
    return {
        "quality_asked": record.quality,
        "target_fps": record.target_fps,
        "seconds": record.seconds,
        "frames_sent": frames,
        "sent_fps": (len(video) - 1) / wall if wall > 0 else 0.0,
        "final_after_end_ms": (record.final_at - record.end_of_input) * 1000
        if record.final_at is not None and record.end_of_input
        else None,
        "error": record.error,
        "modalities": per,
        "held": record.error is None
        and record.final_at is not None
        and bool(per)
        and all(m["held"] for m in per.values()),
    }


def flat_cost(record: LiveRecord, modality: str = "vision") -> dict[str, Any]:
    """The flat-cost view of one long stream: per-quarter numbers and the per-window series
    (for the plot)."""
    rows, _ = window_rows(record, modality)
    q = quarters(rows, record.seconds)
    return {
        "quarters": q,
        "p95_ratio_last_first": quarter_ratio(q),
        "series": {
            "window_end_s": [r.end_s for r in rows],
            "latency_ms": [r.latency_s * 1000 if r.latency_s is not None else None for r in rows],
            "closed_by": [r.closed_by for r in rows],
            "quality": [r.quality for r in rows],
            "analysed": [r.analysed for r in rows],
            "received": [r.received for r in rows],
        },
    }


def level_summary(streams: Sequence[Mapping[str, Any]], modality: str = "vision") -> dict[str, Any]:
    """N streams run at once: held when every one held."""
    per = [s["modalities"].get(modality, {}) for s in streams]
    mix: Counter[str] = Counter()
    for m in per:
        mix.update(m.get("quality", {}))
    p95s = [m["update_latency"]["p95_ms"] for m in per if m]
    analysed = [m["analysed_per_s"] for m in per if m]
    return {
        "streams": len(streams),
        "held": bool(streams) and all(s["held"] for s in streams),
        "streams_held": sum(1 for s in streams if s["held"]),
        "sent_fps_min": min((s["sent_fps"] for s in streams), default=math.nan),
        "analysed_fps_min": min(analysed, default=math.nan),
        "analysed_fps_mean": sum(analysed) / len(analysed) if analysed else math.nan,
        "update_latency_p95_ms_max": max(p95s, default=math.nan),
        "windows_missing": sum(m.get("windows_missing", 0) for m in per),
        "quality": dict(mix),
        "errors": sum(1 for s in streams if s["error"]),
        "per_stream": list(streams),
    }


def most_held(levels: Sequence[Mapping[str, Any]]) -> int:
    """The largest N that held, counting levels in order until the first that did not."""
    most = 0
    for level in levels:
        if not level["held"]:
            break
        most = level["streams"]
    return most


def memory_growth(
    samples: Sequence[tuple[float, int]], seconds: float, span_s: float = 60.0
) -> dict[str, Any]:
    """Resident memory in the first and the last `span_s` of a run (at most half of it
    each): mean and max of each, and the growth of the mean in percent."""
    span = min(span_s, seconds / 2)
    first = [b for t, b in samples if t < span]
    last = [b for t, b in samples if t >= seconds - span]
    mean_first = sum(first) / len(first) if first else math.nan
    mean_last = sum(last) / len(last) if last else math.nan
    growth = (mean_last / mean_first - 1) * 100 if first and last and mean_first > 0 else math.nan
    return {
        "span_s": span,
        "samples": len(samples),
        "first_mean_bytes": mean_first,
        "first_max_bytes": max(first, default=math.nan),
        "last_mean_bytes": mean_last,
        "last_max_bytes": max(last, default=math.nan),
        "growth_pct": growth,
    }


def cpu_per_quarter(samples: Sequence[tuple[float, float]], seconds: float) -> list[float]:
    """Cores used in each quarter, from (seconds since start, CPU seconds so far) samples."""
    out = []
    for q in range(4):
        lo, hi = q * seconds / 4, (q + 1) * seconds / 4
        inside = [(t, c) for t, c in samples if lo <= t <= hi]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            out.append(math.nan)
            continue
        out.append((inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0]))
    return out
