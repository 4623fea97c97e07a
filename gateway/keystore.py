"""The gateway's view of the API key file: re-read whenever it changes on disk, so keys
are added, rotated and revoked without a restart."""

from __future__ import annotations

import hmac
import logging
import os
from pathlib import Path

from veritas.keys import KeyFile, KeyRecord, hash_key, key_id_of, load

log = logging.getLogger("veritas.gateway.keys")


class KeyStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._keys = KeyFile()
        self._by_id: dict[str, KeyRecord] = {}

    def _fresh(self) -> None:
        """Reload if the file changed (rename, rewrite or touch); a broken file keeps the
        last good keys and says so in the log."""
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (0, 0, 0)
        if stamp == self._stamp:
            return
        try:
            keys = load(self.path)
        except (ValueError, KeyError, TypeError) as e:
            log.error(
                "key file unreadable; keeping the last good one",
                extra={"fields": {"error": str(e)}},
            )
            return
        self._stamp, self._keys = stamp, keys
        self._by_id = {k.id: k for k in keys.keys}
        log.info("key file loaded", extra={"fields": {"keys": len(keys.keys)}})

    def find(self, key: str) -> KeyRecord | None:
        """The record of a presented key (revoked ones included), or None if unknown."""
        key_id = key_id_of(key)
        if key_id is None:
            return None
        self._fresh()
        record = self._by_id.get(key_id)
        if record is None or not hmac.compare_digest(record.hash, hash_key(key)):
            return None
        return record

    def keys(self) -> list[KeyRecord]:
        self._fresh()
        return list(self._keys.keys)
