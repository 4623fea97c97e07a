"""Plain errors with a correlation reference.

A status message or a modality's reason tells the caller what happened and what to do; it
never says where things live (addresses, ports, file paths) or what raised (exception class
names, tracebacks). The details go to the log once, with a short reference that the caller
also gets (`... (ref 3f2a9c1d)` in the message, and `x-veritas-ref` in gRPC trailing metadata
or the HTTP `X-Veritas-Ref` header), so an operator can find them from what a caller reports.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

REF_METADATA = "x-veritas-ref"
REF_HEADER = "X-Veritas-Ref"
_REF = re.compile(r"\(ref ([0-9a-f]{8})\)")

# What must never reach a caller. Checked on every message that is passed through from a
# process further in (and by the chaos tests on every answer).
_LEAKS = (
    ("an address", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b|\[[0-9a-f:]*:[0-9a-f:]*\]")),
    ("an address", re.compile(r"\b(?:ipv4|ipv6|unix|dns):", re.IGNORECASE)),
    ("an address", re.compile(r"\blocalhost:\d+", re.IGNORECASE)),
    ("a file path", re.compile(r"(?<![\w.])/(?:[\w.@-]+/)+[\w.@-]*")),
    ("a file path", re.compile(r"\b[\w-]+\.py\b")),
    ("an exception class", re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception|Exit)\b")),
    ("an exception class", re.compile(r"<class '|Traceback \(most recent call last\)")),
    ("a transport detail", re.compile(r"failed to connect to all addresses|last error:", re.I)),
)


def new_ref() -> str:
    """A short random reference (8 hex digits): unique enough to find one log record."""
    return secrets.token_hex(4)


def with_ref(message: str, ref: str) -> str:
    return f"{message} (ref {ref})"


def ref_in(message: str) -> str | None:
    """The reference a message carries, if any."""
    match = _REF.search(message)
    return match.group(1) if match else None


def leaks(message: str) -> list[str]:
    """What in `message` a caller must not see (empty when it is plain)."""
    return sorted({what for what, pattern in _LEAKS if pattern.search(message)})


def logged(
    log: logging.Logger,
    event: str,
    detail: str,
    *,
    level: int = logging.WARNING,
    exc_info: Any = None,
    **fields: Any,
) -> str:
    """Log `detail` (and the traceback, with `exc_info`) once under a new reference;
    return the reference for the caller's message."""
    ref = new_ref()
    log.log(
        level, event, exc_info=exc_info, extra={"fields": {"ref": ref, "detail": detail, **fields}}
    )
    return ref


def logged_bug(log: logging.Logger, error: BaseException, **fields: Any) -> str:
    """Log an exception nobody expected (ERROR, with its traceback) once under a new
    reference; return the reference for the caller's INTERNAL message."""
    detail = f"{type(error).__name__}: {error}"
    return logged(log, "unexpected error", detail, level=logging.ERROR, exc_info=error, **fields)


def plain_or(message: str, fallback: str, log: logging.Logger, event: str, **fields: Any) -> str:
    """`message` when it is plain; otherwise `fallback` with a reference, and `message` to
    the log under it. For messages that come from another process."""
    if message and not leaks(message):
        return message
    return with_ref(fallback, logged(log, event, message, **fields))
