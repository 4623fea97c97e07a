"""VERITAS_AUTH=none admits anyone as tenant `local`: allowed only on a loopback address."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import ConfigError, Settings, is_loopback

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_auth_none_on_a_loopback_address_starts(monkeypatch: pytest.MonkeyPatch, host: str):
    monkeypatch.setenv("VERITAS_AUTH", "none")
    monkeypatch.setenv("VERITAS_HOST", host)
    assert Settings.from_env().host == host


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "gateway.internal", ""])
def test_auth_none_elsewhere_is_refused(monkeypatch: pytest.MonkeyPatch, host: str):
    monkeypatch.setenv("VERITAS_AUTH", "none")
    monkeypatch.setenv("VERITAS_HOST", host)
    with pytest.raises(ConfigError, match="only on a loopback address"):
        Settings.from_env()
    assert not is_loopback(host)


def test_a_gateway_process_with_auth_none_on_all_interfaces_exits_non_zero():
    env = os.environ | {
        "VERITAS_AUTH": "none",
        "VERITAS_HOST": "0.0.0.0",
        "VERITAS_PORT": "0",
        "VERITAS_HTTP_PORT": "0",
        "VERITAS_METRICS_PORT": "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "gateway: cannot start: VERITAS_AUTH=none" in done.stderr
    assert "VERITAS_HOST='0.0.0.0' is not one" in done.stderr
    assert "Traceback" not in done.stderr  # a message, not a stack trace
