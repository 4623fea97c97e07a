"""How long the services behind the gateway get: the caller's deadline less the gateway's
own budget (to map errors and answer), capped by the configured maximum."""

from __future__ import annotations

import grpc

from gateway.errors import Refused


def downstream_timeout(
    client_remaining_s: float | None, budget_s: float, default_s: float, max_s: float
) -> float:
    """Seconds to give fusion. No caller deadline: the default. Nothing left after the
    gateway's budget: DEADLINE_EXCEEDED now, rather than a call that cannot finish."""
    if client_remaining_s is None:
        return min(default_s, max_s)
    left = client_remaining_s - budget_s
    if left <= 0:
        raise Refused(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"deadline too short: {client_remaining_s * 1000:.0f} ms left, the gateway "
            f"needs {budget_s * 1000:.0f} ms of it",
        )
    return min(left, max_s)


def http_deadline_s(header: str | None) -> float | None:
    """The caller's deadline over HTTP: `X-Deadline-Ms` (milliseconds from now)."""
    if header is None or header == "":
        return None
    try:
        ms = float(header)
    except ValueError:
        ms = -1
    if ms <= 0 or ms != ms:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "X-Deadline-Ms: a positive number of ms")
    return ms / 1000
