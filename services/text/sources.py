"""Where each character of an analysed text came from in the caller's transcript.

Text features carry the spans that matched, as character offsets into the transcript the
caller sent (`Transcript.text`, or, when only timed segments were sent, the segments' texts
joined with single spaces in time order). A window's text is pieced together from stripped
segments or cut out of the whole text, so a `SourceMap` records, piece by piece, where its
characters sit in that transcript. Offsets count Unicode code points, as Python strings do.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceMap:
    """Pieces (start in the analysed text, start in the transcript, length), in order."""

    pieces: tuple[tuple[int, int, int], ...]

    @staticmethod
    def shifted(offset: int, length: int) -> SourceMap:
        """A text that is one stretch of the transcript, starting at `offset`."""
        return SourceMap(((0, offset, length),))

    def cut(self, start: int, end: int) -> SourceMap:
        """The map of the analysed text's [start, end) slice (a window of it)."""
        out = []
        for local, source, length in self.pieces:
            a, b = max(local, start), min(local + length, end)
            if a < b:
                out.append((a - start, source + a - local, b - a))
        return SourceMap(tuple(out))

    def to_source(self, start: int, end: int) -> tuple[int, int] | None:
        """Transcript offsets of the analysed text's [start, end); None if a character of
        either end is not from the transcript (a joining space)."""
        first = self._locate(start)
        last = self._locate(end - 1)
        if first is None or last is None:
            return None
        return first, last + 1

    def _locate(self, position: int) -> int | None:
        starts = [p[0] for p in self.pieces]
        i = bisect.bisect_right(starts, position) - 1
        if i < 0:
            return None
        local, source, length = self.pieces[i]
        return source + position - local if position < local + length else None


def joined(parts: list[str], sources: list[SourceMap | None], sep: str = " ") -> SourceMap | None:
    """The map of `sep.join(parts)`, given each part's own map (None: unknown origin)."""
    if any(s is None for s in sources):
        return None
    pieces = []
    position = 0
    for part, source in zip(parts, sources):
        assert source is not None
        pieces += [(local + position, src, length) for local, src, length in source.pieces]
        position += len(part) + len(sep)
    return SourceMap(tuple(pieces))
