"""free_port never gives one process the same port twice: two parts of one mesh given the
same port would fail at random (the kernel hands just-released ports out again)."""

from __future__ import annotations

import socket

from tools.mesh import free_port


def test_ports_handed_out_are_distinct_and_bindable() -> None:
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[-1]))  # free when handed out
