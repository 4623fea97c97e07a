"""`veritas trace TRACE_ID`: one request's trace as a tree, from the local span file.

Every service appends its finished spans to VERITAS_TRACE_FILE (JsonLinesSpanExporter in
veritas.telemetry), and the local launcher's OTLP receiver (tools.otlp_receiver) appends
Triton's, so a trace can be read without a collector: spans are grouped by trace id,
nested by parent id, and ordered by start time. Triton's request, model, queue and compute
spans sit under the `triton.infer` span of the call that made them. Spans whose parent is
not in the file (the caller's own span) are roots.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LOCAL_SPANS = Path(__file__).resolve().parent.parent / ".run" / "spans.jsonl"


def read_spans(trace_id: str, lines: Iterable[str]) -> list[dict[str, Any]]:
    """The spans of one trace; a unique prefix of the id is enough."""
    spans = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            span = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written while we read
        if str(span.get("trace_id", "")).startswith(trace_id):
            spans.append(span)
    return spans


def _label(span: dict[str, Any]) -> str:
    ms = (span.get("end_ns", 0) - span.get("start_ns", 0)) / 1e6
    status = span.get("status", "UNSET")
    flag = "" if status in ("UNSET", "OK") else f"  [{status}]"
    service = str(span.get("service", "")).removeprefix("veritas-")
    return f"{span.get('name', '?')}  ({service}, {ms:.1f} ms){flag}"


def render_tree(spans: list[dict[str, Any]]) -> str:
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s.get("parent_id", "") if s.get("parent_id", "") in ids else ""
        children.setdefault(parent, []).append(s)
    for group in children.values():
        group.sort(key=lambda s: s.get("start_ns", 0))
    lines: list[str] = []

    def walk(span: dict[str, Any], prefix: str, last: bool, root: bool) -> None:
        branch = "" if root else ("└─ " if last else "├─ ")
        lines.append(prefix + branch + _label(span))
        kids = children.get(span["span_id"], [])
        inner = prefix + ("" if root else ("   " if last else "│  "))
        for i, kid in enumerate(kids):
            walk(kid, inner, i == len(kids) - 1, False)

    for root in children.get("", []):
        walk(root, "", True, True)
    return "\n".join(lines)


def show_trace(trace_id: str, path: str | Path) -> str:
    """The trace as an indented tree with service and duration per span."""
    trace_id = trace_id.strip().lower()
    with open(path, encoding="utf-8") as f:
        spans = read_spans(trace_id, f)
    if not spans:
        return f"no spans of trace {trace_id} in {path}"
    ids = {s["trace_id"] for s in spans}
    if len(ids) > 1:
        return f"{trace_id} is a prefix of {len(ids)} traces: give more of the id"
    start = min(s["start_ns"] for s in spans)
    end = max(s["end_ns"] for s in spans)
    services = sorted({str(s.get("service", "")).removeprefix("veritas-") for s in spans})
    head = (
        f"trace {spans[0]['trace_id']}: {len(spans)} spans, {(end - start) / 1e6:.1f} ms, "
        f"services: {', '.join(services)}"
    )
    return head + "\n" + render_tree(spans)


def add_subcommand(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `veritas trace TRACE_ID [--file PATH]` on the CLI's subparsers."""
    parser = sub.add_parser("trace", help="show one request's trace as a tree")
    parser.add_argument("trace_id", help="the result's trace_id (a unique prefix will do)")
    parser.add_argument(
        "--file",
        default=os.environ.get("VERITAS_TRACE_FILE") or str(LOCAL_SPANS),
        help="span file (default: VERITAS_TRACE_FILE, else .run/spans.jsonl of `make run`)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.file:
        print("veritas trace: no span file: pass --file or set VERITAS_TRACE_FILE", file=sys.stderr)
        return 2
    try:
        print(show_trace(args.trace_id, args.file))
    except OSError as e:
        print(f"veritas trace: {e}", file=sys.stderr)
        return 2
    return 0
