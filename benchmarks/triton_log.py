"""Each model's load time, read from Triton's log.

Triton logs `loading: <model>:<version>` when it starts loading a model and
`successfully loaded '<model>'` when the model is READY, each line stamped
`I1127 23:56:20.867427`. Models load in parallel; each one's time is its own span.
"""

from __future__ import annotations

import re

_STAMP = r"^[IWE](\d{4}) (\d{2}):(\d{2}):(\d{2}\.\d+)\s+\d+\s+\S+\]\s+"
_LOADING = re.compile(_STAMP + r'"loading: ([^:"]+):(\d+)"', re.MULTILINE)
_LOADED = re.compile(_STAMP + r"\"successfully loaded '([^']+)'", re.MULTILINE)
_DAY_S = 24 * 3600.0


def _seconds(hours: str, minutes: str, seconds: str) -> float:
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def load_counts(log: str) -> dict[str, int]:
    """How many times each model started loading: more than once means it was reloaded
    during the run (a new version, or its files rewritten), which disturbs the numbers."""
    counts: dict[str, int] = {}
    for match in _LOADING.finditer(log):
        counts[match.group(5)] = counts.get(match.group(5), 0) + 1
    return dict(sorted(counts.items()))


def loads_in_flight(log: str) -> int:
    """Model loads started and not yet finished (or failed) in this log."""
    loaded: dict[str, int] = {}
    for match in _LOADED.finditer(log):
        loaded[match.group(5)] = loaded.get(match.group(5), 0) + 1
    return sum(max(0, n - loaded.get(name, 0)) for name, n in load_counts(log).items())


def model_load_times(log: str) -> dict[str, float]:
    """Seconds from `loading` to `successfully loaded`, per model (first load of each)."""
    started: dict[str, float] = {}
    for match in _LOADING.finditer(log):
        started.setdefault(match.group(5), _seconds(*match.group(2, 3, 4)))
    out: dict[str, float] = {}
    for match in _LOADED.finditer(log):
        name = match.group(5)
        if name in started and name not in out:
            span = _seconds(*match.group(2, 3, 4)) - started[name]
            out[name] = span + _DAY_S if span < 0 else span  # loaded after midnight
    return dict(sorted(out.items()))
