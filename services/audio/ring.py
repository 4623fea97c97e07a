"""A fixed-capacity numpy buffer of the latest items of a stream, indexed by stream position.

Live sessions keep their samples and per-frame decisions here: appending past the capacity
is a bug (the session drops what it no longer needs before it gets there), so memory is
fixed when the stream opens and cannot grow with its length.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class Ring:
    def __init__(self, capacity: int, dtype: npt.DTypeLike) -> None:
        self.data = np.zeros(capacity, dtype)
        self.start = 0  # stream index of data[0]
        self.size = 0

    @property
    def capacity(self) -> int:
        return len(self.data)

    @property
    def end(self) -> int:
        """Stream index one past the latest item."""
        return self.start + self.size

    def append(self, items: np.ndarray) -> None:
        if self.size + len(items) > self.capacity:
            raise OverflowError(
                f"ring buffer of {self.capacity} full ({self.size} held, {len(items)} more)"
            )
        self.data[self.size : self.size + len(items)] = items
        self.size += len(items)

    def drop_before(self, index: int) -> None:
        """Forget the items before stream index `index`."""
        k = min(max(0, index - self.start), self.size)
        if k:
            self.data[: self.size - k] = self.data[k : self.size]  # numpy handles the overlap
            self.start += k
            self.size -= k

    def get(self, first: int, last: int) -> np.ndarray:
        """A copy of stream items [first, last), clipped to what is held."""
        lo = min(max(first - self.start, 0), self.size)
        hi = min(max(last - self.start, lo), self.size)
        return self.data[lo:hi].copy()
