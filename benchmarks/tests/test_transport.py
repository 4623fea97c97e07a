"""benchmarks/transport.py on a few messages: both ways answer every message, each side's
CPU is counted, and the table names both (the numbers themselves are `make bench`'s)."""

from __future__ import annotations

from benchmarks.transport import render, run


def test_both_ways_answer_every_message_and_count_each_sides_cpu() -> None:
    result = run(messages=60, payload=100)
    for way in ("unary", "stream"):
        assert result[way]["latency"]["n"] == 60
        assert result[way]["latency"]["p50_ms"] > 0
        assert result[way]["server_cpu_ms"] >= 0 and result[way]["client_cpu_ms"] > 0
    table = render(result)
    assert "| unary call |" in table and "| message on an open stream |" in table
