"""Read physiological signals from a CSV file into a `veritas.v1.Physiology` message.

Format (UTF-8, comma-separated):

    # Lines starting with '#' are comments, anywhere in the file.
    # sampling_rate_hz=100
    # heart_rate.sampling_rate_hz=1
    time_s,heart_rate,ecg,eda,respiration
    0.00,72.1,0.012,2.31,0.12
    0.01,,0.015,2.31,0.13
    ...

- Header: the first non-comment line. An optional first column `time_s`; the others are
  channel names: heart_rate (bpm), ecg (mV), ppg, eda (microsiemens), respiration. Each
  channel at most once.
- Sampling rate of the file: from `time_s` (strictly increasing, uniform: every step within
  50% of the median step, which tolerates rounding but not a dropped sample), or from a
  comment `# sampling_rate_hz=N`. With both, they must agree within 1%.
- A channel recorded at its own (lower) rate: a comment `# <channel>.sampling_rate_hz=N`.
  That column's samples are its non-empty cells, in order, starting at the first row's
  time; its other cells stay empty. Every other column must have a value in every row.
- Every channel starts at the first row's `time_s` (0 without that column).
- Question markers for comparison-question scoring: a comment per question,
  `# marker=<relevant|comparison|irrelevant>,<start_s>,<end_s>[,<label>]`.

Problems raise ValueError naming the line (1-based) and column, e.g.
`physiology.csv line 12, column 3 (eda): 'abc' is not a number`.
"""

from __future__ import annotations

import csv
import math
import re
import statistics
from pathlib import Path

from veritas.v1 import common_pb2

CHANNELS: dict[str, str] = {  # name -> unit
    "heart_rate": "bpm",
    "ecg": "mV",
    "ppg": "",
    "eda": "uS",
    "respiration": "",
}
TIME = "time_s"
_MARKER = re.compile(r"^#\s*marker\s*=\s*(.*)$", re.IGNORECASE)
_KINDS = {
    "relevant": common_pb2.QuestionMarker.RELEVANT,
    "comparison": common_pb2.QuestionMarker.COMPARISON,
    "irrelevant": common_pb2.QuestionMarker.IRRELEVANT,
}
_DIRECTIVE = re.compile(r"^#\s*(?:([a-z_]+)\.)?sampling_rate_hz\s*=\s*(\S+)\s*$", re.IGNORECASE)


def read_physio_csv(path: str | Path) -> common_pb2.Physiology:
    """Parse `path` (format in the module docstring); ValueError names line and column."""
    path = Path(path)
    where = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: not UTF-8 text ({e})") from None
    rates: dict[str | None, float] = {}  # None: the file's rate
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[str]]] = []
    markers: list[common_pb2.QuestionMarker] = []
    for lineno, row in _rows(text):
        first = row[0].strip() if row else ""
        if not any(cell.strip() for cell in row):
            continue
        if first.startswith("#"):
            if marker := _marker(first, lineno, where):
                markers.append(marker)
            else:
                _directive(first, lineno, where, rates)
            continue
        if header is None:
            header, header_line = [c.strip() for c in row], lineno
        else:
            rows.append((lineno, row))
    if header is None:
        raise ValueError(f"{where}: no header row (expected e.g. 'time_s,ecg,eda')")
    columns = _columns(header, header_line, where)
    for name in rates:
        if name is not None and name not in columns:
            raise ValueError(f"{where}: sampling rate given for '{name}', which has no column")
    if not rows:
        raise ValueError(f"{where}: no data rows after the header (line {header_line})")

    cells: dict[str, list[float]] = {name: [] for name in columns}
    for lineno, row in rows:
        if len(row) != len(header):
            raise ValueError(
                f"{where} line {lineno}: {len(row)} cells, the header has {len(header)}"
            )
        for col, name in enumerate(header):
            value = _cell(row[col], lineno, col, name, where, sparse=name in rates)
            if value is not None:
                cells[name].append(value)

    start = cells[TIME][0] if TIME in cells else 0.0
    file_rate = _file_rate(cells.get(TIME), rates.get(None), rows, where)
    msg = common_pb2.Physiology()
    for name in columns:
        if name == TIME:
            continue
        rate = rates.get(name, file_rate)
        if rate is None:
            raise ValueError(
                f"{where}: no sampling rate for '{name}': add a time_s column or a "
                f"'# sampling_rate_hz=N' line (or '# {name}.sampling_rate_hz=N')"
            )
        if not cells[name]:
            raise ValueError(f"{where} column {header.index(name) + 1} ({name}): no values")
        msg.channels.add(
            name=name,
            unit=CHANNELS[name],
            sampling_rate_hz=rate,
            samples=cells[name],
            start_s=start,
        )
    if not msg.channels:
        raise ValueError(f"{where}: no channel columns (expected some of {', '.join(CHANNELS)})")
    msg.markers.extend(markers)
    return msg


def _marker(line: str, lineno: int, where: str) -> common_pb2.QuestionMarker | None:
    """A `# marker=kind,start_s,end_s[,label]` comment as a QuestionMarker, else None."""
    m = _MARKER.match(line)
    if not m:
        return None
    parts = [p.strip() for p in m.group(1).split(",", 3)]
    if len(parts) < 3 or parts[0].lower() not in _KINDS:
        raise ValueError(
            f"{where} line {lineno}: a marker is 'marker=<relevant|comparison|irrelevant>,"
            f"<start_s>,<end_s>[,<label>]'"
        )
    try:
        start, end = float(parts[1]), float(parts[2])
    except ValueError:
        raise ValueError(f"{where} line {lineno}: marker times must be numbers") from None
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
        raise ValueError(f"{where} line {lineno}: marker needs 0 <= start_s < end_s")
    return common_pb2.QuestionMarker(
        kind=_KINDS[parts[0].lower()],
        start_s=start,
        end_s=end,
        label=parts[3] if len(parts) > 3 else "",
    )


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(1-based line number, cells) for every line; comments are kept for directives."""
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            out.append((lineno, [line.strip()]))
        else:
            out.append((lineno, next(csv.reader([line]), [])))
    return out


def _directive(line: str, lineno: int, where: str, rates: dict[str | None, float]) -> None:
    m = _DIRECTIVE.match(line.strip())
    if not m:
        return  # an ordinary comment
    name = m.group(1).lower() if m.group(1) else None
    if name is not None and name not in CHANNELS:
        raise ValueError(f"{where} line {lineno}: sampling rate for unknown channel '{name}'")
    try:
        rate = float(m.group(2))
    except ValueError:
        raise ValueError(f"{where} line {lineno}: '{m.group(2)}' is not a number") from None
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"{where} line {lineno}: sampling rate must be a number > 0")
    if name in rates:
        raise ValueError(
            f"{where} line {lineno}: sampling rate for {name or 'the file'} given twice"
        )
    rates[name] = rate


def _columns(header: list[str], lineno: int, where: str) -> list[str]:
    seen: dict[str, int] = {}
    for col, name in enumerate(header, start=1):
        at = f"{where} line {lineno}, column {col}"
        if name == TIME and col != 1:
            raise ValueError(f"{at}: time_s must be the first column")
        if name != TIME and name not in CHANNELS:
            raise ValueError(
                f"{at}: unknown column '{name}' (expected time_s, {', '.join(CHANNELS)})"
            )
        if name in seen:
            raise ValueError(f"{at}: column '{name}' given twice (also column {seen[name]})")
        seen[name] = col
    return list(header)


def _cell(raw: str, lineno: int, col: int, name: str, where: str, sparse: bool) -> float | None:
    at = f"{where} line {lineno}, column {col + 1} ({name})"
    text = raw.strip()
    if not text:
        if sparse:
            return None
        raise ValueError(
            f"{at}: empty cell; only a channel with its own "
            f"'# {name}.sampling_rate_hz=N' line may leave cells empty"
        )
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{at}: '{text}' is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{at}: '{text}' is not a finite number")
    return value


def _file_rate(
    times: list[float] | None,
    declared: float | None,
    rows: list[tuple[int, list[str]]],
    where: str,
) -> float | None:
    """The file's sampling rate, from time_s (checked uniform) or the declared one."""
    if times is None or len(times) < 2:
        return declared
    steps = [b - a for a, b in zip(times, times[1:])]
    typical = statistics.median(steps)
    if typical <= 0:
        raise ValueError(f"{where} column 1 (time_s): times must increase")
    for i, d in enumerate(steps, start=1):
        if not 0.5 * typical <= d <= 1.5 * typical:
            raise ValueError(
                f"{where} line {rows[i][0]}, column 1 (time_s): step {d:.6g} s differs from the "
                f"file's usual {typical:.6g} s; time_s must be uniform (no gaps or repeats)"
            )
    step = (times[-1] - times[0]) / (len(times) - 1)  # the most precise estimate
    rate = float(f"{1.0 / step:.9g}")  # 99.99999999999999 -> 100
    if declared is not None and abs(rate - declared) > 0.01 * declared:
        raise ValueError(
            f"{where}: time_s gives {rate:.6g} Hz but '# sampling_rate_hz={declared:g}' says "
            "otherwise"
        )
    return declared if declared is not None else rate
