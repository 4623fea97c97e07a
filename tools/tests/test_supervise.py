"""The supervisor of the local launcher, on real child processes: a child that fails is
restarted with backoff and the restart reported and noted; what it started dies with it; a
deliberate stop, or a stop from outside, restarts nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tools.supervise import Backoff, Supervised, describe_exit

FAST = Backoff(initial_s=0.05, max_s=0.2, reset_after_s=60)


def python(code: str) -> Callable[[], subprocess.Popen[bytes]]:
    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)

    return spawn


def wait_until(what: str, check: Callable[[], object], timeout_s: float = 20) -> None:
    end = time.monotonic() + timeout_s  # a bound, not a wait: returns once it holds
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.02)


def gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for its (new) parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def test_backoff_doubles_to_its_cap_and_starts_over_after_a_long_run() -> None:
    backoff = Backoff(initial_s=0.5, max_s=30, reset_after_s=60)
    delays = [backoff.delay(None, 1.0)]
    for _ in range(8):
        delays.append(backoff.delay(delays[-1], 1.0))
    assert delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.delay(30, uptime_s=61) == 0.5


def test_a_killed_child_is_restarted_and_the_restart_reported_and_noted() -> None:
    reports: list[str] = []
    notes: list[str] = []
    keeper = Supervised(
        "sleeper",
        python("import time; time.sleep(60)"),
        note=notes.append,
        report=reports.append,
        backoff=FAST,
    ).start()
    try:
        first = keeper.process
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)
        wait_until("a new run", lambda: keeper.process is not first)
        assert keeper.process is not None and keeper.process.poll() is None
        assert keeper.restarts == 1
        assert len(reports) == 1 and reports == notes
        assert reports[0].startswith("sleeper killed by SIGKILL after ")
        assert reports[0].endswith("restarting in 0.05 s (restart 1)")
    finally:
        code = keeper.stop(grace_s=5)
    assert code == -signal.SIGTERM  # the deliberate stop's own signal, not restarted
    time.sleep(0.3)  # longer than any backoff here: a restart would have happened
    assert keeper.restarts == 1 and keeper.process.poll() is not None


def test_a_child_stopped_from_outside_stays_stopped() -> None:
    """SIGTERM (a `kill`, as README's alert demo does) or exit 0: someone stopped it."""
    reports: list[str] = []
    keeper = Supervised(
        "sleeper", python("import time; time.sleep(60)"), report=reports.append, backoff=FAST
    ).start()
    assert keeper.process is not None
    keeper.process.send_signal(signal.SIGTERM)
    wait_until("the supervisor done", lambda: not keeper.active)
    time.sleep(0.3)  # longer than any backoff here: a restart would have happened
    assert keeper.restarts == 0 and len(reports) == 1
    assert reports[0].startswith("sleeper killed by SIGTERM after ")
    assert reports[0].endswith("stopped from outside, not restarted")
    assert keeper.stop() == -signal.SIGTERM


def test_a_child_that_keeps_dying_waits_longer_each_time() -> None:
    reports: list[str] = []
    keeper = Supervised(
        "crasher", python("raise SystemExit(3)"), report=reports.append, backoff=FAST
    ).start()
    try:
        wait_until("five restarts", lambda: len(reports) >= 5)
    finally:
        keeper.stop(grace_s=5)
    assert all(r.startswith("crasher exited with code 3 after ") for r in reports)
    delays = [r.split("restarting in ")[1].split(" s")[0] for r in reports[:5]]
    assert delays == ["0.05", "0.1", "0.2", "0.2", "0.2"]  # doubling up to its cap


def test_what_a_child_started_dies_with_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    keeper = Supervised("parent", python(code), report=lambda _: None, restart=False).start()
    try:
        wait_until("the grandchild", lambda: pid_file.exists() and pid_file.read_text())
        grandchild = int(pid_file.read_text())
        assert not gone(grandchild)
        assert keeper.process is not None
        os.kill(keeper.process.pid, signal.SIGKILL)  # the child alone, as a crash would
        wait_until("the grandchild killed with its parent", lambda: gone(grandchild), 5)
    finally:
        keeper.stop(grace_s=5)


def test_restart_now_cuts_the_backoff_short() -> None:
    slow = Backoff(initial_s=30, max_s=30)
    keeper = Supervised(
        "sleeper", python("import time; time.sleep(60)"), report=lambda _: None, backoff=slow
    ).start()
    try:
        first = keeper.process
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)
        wait_until("the restart pending", lambda: keeper.restarts == 1)
        time.sleep(0.3)
        assert keeper.process is first  # waiting out its 30 s
        keeper.restart_now()
        wait_until("restarted at once", lambda: keeper.process is not first, 5)
    finally:
        keeper.stop(grace_s=5)


def test_restart_now_before_the_death_is_seen_still_counts() -> None:
    """As `Mesh.restart_service` right after a kill: the ask may come before the watcher
    has seen the death; it must not be lost (a 30 s backoff here)."""
    keeper = Supervised(
        "sleeper",
        python("import time; time.sleep(60)"),
        report=lambda _: None,
        backoff=Backoff(initial_s=30, max_s=30),
    ).start()
    try:
        first = keeper.process
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)
        keeper.restart_now()  # at once: the watcher may not even have woken yet
        wait_until("restarted at once", lambda: keeper.process is not first, 5)
        second = keeper.process
        assert second is not None and second.poll() is None
        # The ask was used up by that start: the next death waits out its backoff.
        os.kill(second.pid, signal.SIGKILL)
        wait_until("the second death seen", lambda: keeper.restarts == 2)
        time.sleep(0.3)
        assert keeper.process is second
    finally:
        keeper.stop(grace_s=5)


@pytest.mark.parametrize(
    ("code", "words"),
    [(0, "exited with code 0"), (-9, "killed by SIGKILL"), (-11, "killed by SIGSEGV")],
)
def test_exits_are_described_in_words(code: int, words: str) -> None:
    assert describe_exit(code) == words
