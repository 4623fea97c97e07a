"""Bounded buffers for live physiology: the latest samples of a channel, and recent series.

A live stream keeps only what the next window and its overlap need (`SampleRing`), and
what recent measurements refer back to (`SeriesRing`: the reference window, the few seconds
before a question); the owner trims both as the stream advances, so their size depends on
the window length, never on how long the stream has run.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class SampleRing:
    """One channel's latest samples, addressed by absolute sample index since the stream began.

    Appending is amortised O(1) (a numpy array compacted in place when its free tail runs
    out); `discard_before` drops what no window needs any more.
    """

    def __init__(self) -> None:
        self._buf = np.empty(0, dtype=np.float64)
        self._off = 0  # position of the first held sample in _buf
        self._n = 0  # samples held
        self.first = 0  # absolute index of the first held sample

    def __len__(self) -> int:
        return self._n

    @property
    def end(self) -> int:
        """Absolute index just after the last held sample."""
        return self.first + self._n

    def append(self, x: np.ndarray) -> None:
        k = len(x)
        if self._off + self._n + k > len(self._buf):
            need = self._n + k
            if need > len(self._buf):
                grown = np.empty(max(need, 2 * len(self._buf)), dtype=np.float64)
                grown[: self._n] = self._buf[self._off : self._off + self._n]
                self._buf = grown
            else:  # room at the front: move the held samples there
                self._buf[: self._n] = self._buf[self._off : self._off + self._n]
            self._off = 0
        at = self._off + self._n
        self._buf[at : at + k] = x
        self._n += k

    def discard_before(self, index: int) -> None:
        drop = min(self._n, max(0, index - self.first))
        self._off += drop
        self._n -= drop
        self.first += drop

    def restart(self, index: int) -> None:
        """Forget everything held; the next sample appended has absolute index `index`."""
        self._off = self._n = 0
        self.first = index

    def view(self, start: int, stop: int) -> np.ndarray:
        """A copy of the held samples with absolute indices in [start, stop)."""
        a = max(start, self.first) - self.first
        b = min(stop, self.end) - self.first
        if b <= a:
            return np.empty(0, dtype=np.float64)
        return self._buf[self._off + a : self._off + b].copy()


class SeriesRing:
    """Timestamped rows (a time column plus named value columns), appended in time order.

    Rows come in blocks (one per measured window); `trim` drops rows older than a time,
    `between` reads the rows in a span back as arrays.
    """

    def __init__(self, *columns: str) -> None:
        self.columns = columns
        self._blocks: deque[tuple[np.ndarray, dict[str, np.ndarray]]] = deque()
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def append(self, times: np.ndarray, **values: np.ndarray) -> None:
        times = np.asarray(times, dtype=np.float64)
        if times.size == 0:
            return
        self._blocks.append((times, {c: np.asarray(values[c]) for c in self.columns}))
        self._rows += times.size

    def trim(self, before_s: float) -> None:
        while self._blocks and self._blocks[0][0][-1] < before_s:
            self._rows -= self._blocks.popleft()[0].size
        if self._blocks and self._blocks[0][0][0] < before_s:
            times, values = self._blocks[0]
            keep = times >= before_s
            self._rows -= int((~keep).sum())
            self._blocks[0] = (times[keep], {c: v[keep] for c, v in values.items()})

    def between(self, lo: float, hi: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The rows with lo <= time < hi: (times, {column: values})."""
        parts = [b for b in self._blocks if b[0][-1] >= lo and b[0][0] < hi]
        if not parts:
            return np.empty(0), {c: np.empty(0) for c in self.columns}
        times = np.concatenate([t for t, _ in parts])
        sel = (times >= lo) & (times < hi)
        values = {c: np.concatenate([v[c] for _, v in parts])[sel] for c in self.columns}
        return times[sel], values
