"""FuseBatch's items: each request of the batch is planned and aggregated as Fuse would for
it alone (fusion.settle), but its modality calls travel together: one AnalyzeBatch call per
modality for every item that needs it. An item fails on its own (bad input, a strategy this
server cannot run), with its field named `requests[i].<field>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from fusion import settle
from fusion.aggregate import Aggregate
from veritas import batching
from veritas.v1 import modality_pb2, veritas_pb2

Outcome = tuple[modality_pb2.ModalityUpdate | None, settle.Error | None]


@dataclass
class Item:
    """One request of the batch: its analysis, or why it was refused."""

    index: int
    deadline: float  # event-loop time by which its answer is due
    agg: Aggregate | None = None  # None once refused at planning
    calls: dict[int, modality_pb2.ModalityRequest] = field(default_factory=dict)
    refused: tuple[grpc.StatusCode, str] | None = None

    def refuse(self, code: grpc.StatusCode, message: str) -> None:
        """Fail this item (its first refusal counts, as the first aborts a Fuse call)."""
        if self.refused is None:
            self.refused = (code, batching.prefixed(self.index, message))

    def deliver(
        self,
        modality: int,
        update: modality_pb2.ModalityUpdate | None,
        error: settle.Error | None,
        now: float,
    ) -> None:
        """One modality's outcome for this item; one after its deadline is not taken (the
        modality is TIMED_OUT, as in Fuse)."""
        if self.agg is None or self.refused is not None or now > self.deadline:
            return
        refused = settle.record(self.agg, modality, update, error)
        if refused is not None:
            self.refuse(grpc.StatusCode.INVALID_ARGUMENT, refused)

    def answer(self) -> veritas_pb2.BatchItem:
        if self.refused is not None or self.agg is None:
            code, message = self.refused or (grpc.StatusCode.INTERNAL, "not analysed")
            return veritas_pb2.BatchItem(error_code=code.value[0], error_message=message)
        settle.expire(self.agg)
        return veritas_pb2.BatchItem(result=settle.final(self.agg))


def outcomes(response: modality_pb2.ModalityBatchResponse, sent: int) -> list[Outcome]:
    """Each item of a modality's batch answer as the outcome its own call would have had:
    the final update, or the error with the item's status (bad input named by the field
    alone, as a single call names it)."""
    if len(response.items) != sent:
        raise RuntimeError(f"AnalyzeBatch answered {len(response.items)} items for {sent}")
    out: list[Outcome] = []
    for k, item in enumerate(response.items):
        if item.error_code:
            message = item.error_message
            if batching.status_code(item.error_code) == grpc.StatusCode.INVALID_ARGUMENT:
                message = batching.unprefixed(k, message)
            out.append((None, batching.item_error(item.error_code, message)))
        elif item.update.ByteSize():
            out.append((item.update, None))
        else:  # no update: as a stream that ended without its final result
            out.append((None, None))
    return out
