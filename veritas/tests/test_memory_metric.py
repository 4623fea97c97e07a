"""`veritas_memory_usage_bytes` counts a service's child processes too (the audio service's
measuring workers, veritas.analysis_pool): the pod's memory limit holds them all."""

from __future__ import annotations

import subprocess
import sys

from veritas.metrics import rss_bytes

HELD = 64 * 1024 * 1024


def test_a_childs_memory_counts_while_it_runs() -> None:
    alone = rss_bytes()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; held = bytearray({HELD}); print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        with_child = rss_bytes()
    finally:
        child.kill()
        child.wait()
    assert with_child - alone >= HELD
    assert rss_bytes() < with_child - HELD // 2  # gone: no longer counted
