"""Keep a local child process running: restart it with backoff when it dies, unless it was
stopped on purpose.

Used by the local launcher (`veritas up`, `make run`) and the test mesh (tools.mesh) for
the six services and Triton. A child runs in a process group of its own; when it exits, the
whole group is killed before the child is reaped, so nothing it started (Triton's
python-backend stubs) outlives it, and the group id cannot have been reused yet.

A child that fails is restarted: one that exits with a non-zero code or is killed by a
signal (SIGSEGV, SIGABRT, SIGKILL: a crash or the OOM killer). One that ends cleanly (exit 0,
or SIGTERM or SIGINT it did not catch) was stopped by someone and stays stopped, as with
systemd's Restart=on-failure. Restarts wait `Backoff`: 0.5 s, doubling up to 30 s, back to
0.5 s once a run lasted a minute. Each one is reported (the launcher prints it) and noted in
the child's own log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("veritas.launcher")

# Exit statuses of a child that was stopped, not one that failed.
CLEAN_EXITS = frozenset({0, -signal.SIGTERM, -signal.SIGINT})


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restart number n of a child that keeps dying."""

    initial_s: float = 0.5
    max_s: float = 30.0
    reset_after_s: float = 60.0  # a run at least this long starts the doubling again

    def delay(self, previous_s: float | None, uptime_s: float) -> float:
        if previous_s is None or uptime_s >= self.reset_after_s:
            return self.initial_s
        return min(self.max_s, previous_s * 2)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "exited"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def _wait_exited(pid: int) -> None:
    """Block until child `pid` has exited, without reaping it (its group id stays reserved
    until it is reaped). Returns at once if it was reaped elsewhere (a poll())."""
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            return
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def has_exited(pid: int) -> bool:
    """Whether child `pid` has exited (or was reaped), without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def kill_group(pid: int) -> None:
    """SIGKILL the process group `pid` leads (the child and all it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class Supervised:
    """One child process, restarted when it dies until `stop()` is called.

    `spawn` starts it (in a new session: `start_new_session=True`) and returns the Popen;
    `note` appends a line to the child's log; `report` tells the launcher's user.
    """

    def __init__(
        self,
        name: str,
        spawn: Callable[[], subprocess.Popen[bytes]],
        *,
        note: Callable[[str], None] | None = None,
        report: Callable[[str], None] | None = None,
        backoff: Backoff | None = None,
        on_restart: Callable[[subprocess.Popen[bytes]], None] | None = None,
        restart: bool = True,
        before_kill: Callable[[int], Callable[[], None]] | None = None,
    ) -> None:
        self.name = name
        self._spawn = spawn
        self._note = note
        self._report = report or log.warning
        self._on_restart = on_restart
        # Called with the group id once the child has exited, before its group is killed;
        # what it returns is called once the group is dead (Triton: free the stubs' memory).
        self._before_kill = before_kill
        self.restart = restart  # False: only watch (its group dies with it), never restart
        self.backoff = backoff or Backoff()
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._started_at = 0.0
        self._delay: float | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()  # ends a backoff: restart_now() or stop()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, process: subprocess.Popen[bytes] | None = None) -> Supervised:
        """Watch `process` (already started), or start one, and keep it running."""
        self.process = process or self._spawn()
        self._started_at = time.monotonic()
        self._thread = threading.Thread(
            target=self._watch, name=f"supervise-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    @property
    def active(self) -> bool:
        """Watching a run, or about to start the next: not stopped, not ended cleanly."""
        return self._thread is not None and self._thread.is_alive() and not self.stopped

    def restart_now(self) -> None:
        """Someone asked for the child: a restart waiting out its backoff happens at once,
        as does one whose death the watcher has not seen yet (asked since the last start)."""
        self._wake.set()

    def _watch(self) -> None:
        while True:
            process = self.process
            assert process is not None
            _wait_exited(process.pid)
            # Before reaping, the group id is still this child's; were it reaped elsewhere
            # (a poll() from another thread) a moment ago, the id cannot have come round yet.
            self._end_group(process.pid)
            code = process.wait()
            if self._stopping.is_set():
                return
            uptime = time.monotonic() - self._started_at
            message = f"{self.name} {describe_exit(code)} after {uptime:.1f} s"
            if code in CLEAN_EXITS:
                self._tell(f"{message}: stopped from outside, not restarted")
                return
            if not self.restart:
                self._tell(f"{message}; not restarted")
                return
            self.restarts += 1
            while True:  # until a new run starts, or stop()
                self._delay = self.backoff.delay(self._delay, uptime)
                self._tell(f"{message}; restarting in {self._delay:g} s (restart {self.restarts})")
                if self._pause(self._delay):
                    return
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._wake.clear()  # what was asked for is this start
                    try:
                        self.process = self._spawn()
                    except OSError as e:  # cannot even start it: again after the backoff
                        message, uptime = f"{self.name} could not be started ({e})", 0.0
                        continue
                    self._started_at = time.monotonic()
                    break
            if self._on_restart is not None:
                self._on_restart(self.process)

    def _end_group(self, pid: int) -> None:
        after = None
        if self._before_kill is not None:
            try:
                after = self._before_kill(pid)
            except OSError:
                log.exception("before killing %s's group", self.name)
        kill_group(pid)
        if after is not None:
            try:
                after()
            except OSError:
                log.exception("after killing %s's group", self.name)

    def _tell(self, message: str) -> None:
        self._report(message)
        if self._note is not None:
            try:
                self._note(message)
            except OSError:
                log.exception("could not note the restart in %s's log", self.name)

    def _pause(self, delay_s: float) -> bool:
        """Wait out the backoff, cut short by restart_now() or stop() (both set `_wake`);
        True when stop() was called."""
        self._wake.wait(delay_s)
        return self._stopping.is_set()

    def stop(self, grace_s: float = 15.0, sig: int = signal.SIGTERM) -> int | None:
        """Stop on purpose (no restart): `sig`, up to `grace_s` to exit, then SIGKILL for
        the whole group. Returns the exit code of the last run."""
        with self._lock:
            self._stopping.set()
            self._wake.set()  # ends a backoff under way
            process = self.process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(grace_s)
            if thread.is_alive():  # did not exit in time: the child alone, so that the
                with contextlib.suppress(ProcessLookupError):  # watcher ends its group
                    process.kill()
                thread.join(10)
        else:
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self._end_group(process.pid)
                process.wait(10)
        return process.returncode
