"""API keys: the key file the gateway reads, and the `veritas keys` tool that writes it.

A key is `vk_<id>_<secret>`: the id is public (logs, audit, revocation), the secret holds
256 random bits. Only a SHA-256 hash of the whole key is stored: with that much entropy a
slow hash adds nothing, and the gateway checks a key in microseconds. The file is JSON,
written atomically (temp file + rename, mode 0600) under an advisory lock, so the gateway
can re-read it whenever it changes and keys rotate without a restart.

    veritas keys create --tenant acme --role analyst --name "batch jobs"
    veritas keys list [--tenant acme]
    veritas keys revoke KEY_ID
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

ROLES = ("analyst", "admin")
PREFIX = "vk"
LOCAL_TENANT = "local"
MAX_TENANT = 64


class KeyFileError(ValueError):
    """A key-file operation the caller asked for cannot be done (unknown id, bad role)."""


@dataclass(frozen=True)
class KeyRecord:
    id: str
    tenant: str
    roles: tuple[str, ...]
    hash: str
    name: str = ""
    created_at: str = ""
    revoked_at: str = ""

    @property
    def revoked(self) -> bool:
        return bool(self.revoked_at)


@dataclass
class KeyFile:
    keys: list[KeyRecord] = field(default_factory=list)

    def by_id(self, key_id: str) -> KeyRecord | None:
        return next((k for k in self.keys if k.id == key_id), None)


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(key: str) -> str | None:
    """The id part of a key in our format, else None (e.g. a JWT)."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def generate_key() -> tuple[str, str]:
    """(id, key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def check_tenant(tenant: str) -> str:
    if not tenant or len(tenant) > MAX_TENANT or not all(c.isalnum() or c in "-_." for c in tenant):
        raise KeyFileError(f"tenant {tenant!r}: 1-{MAX_TENANT} characters of [A-Za-z0-9._-]")
    return tenant


def check_roles(roles: Sequence[str]) -> tuple[str, ...]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise KeyFileError(f"roles {list(roles)!r}: choose from {', '.join(ROLES)}")
    return tuple(dict.fromkeys(roles))


def parse(text: str) -> KeyFile:
    data = json.loads(text) if text.strip() else {}
    return KeyFile(
        [
            KeyRecord(
                id=str(k["id"]),
                tenant=str(k["tenant"]),
                roles=tuple(k.get("roles", ())),
                hash=str(k["hash"]),
                name=str(k.get("name", "")),
                created_at=str(k.get("created_at", "")),
                revoked_at=str(k.get("revoked_at") or ""),
            )
            for k in data.get("keys", [])
        ]
    )


def load(path: Path) -> KeyFile:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return KeyFile()


def dump(keys: KeyFile) -> str:
    rows = [asdict(k) | {"roles": list(k.roles)} for k in keys.keys]
    return json.dumps({"version": 1, "keys": rows}, indent=2) + "\n"


def save(path: Path, keys: KeyFile) -> None:
    """Replace the file atomically: a reader sees the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dump(keys))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def locked(path: Path) -> Iterator[KeyFile]:
    """Read-modify-write under an advisory lock (several gateways may write one file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        keys = load(path)
        yield keys
        save(path, keys)


def create_key(
    path: Path, tenant: str, roles: Sequence[str] = ("analyst",), name: str = ""
) -> tuple[KeyRecord, str]:
    """Add a key; returns its record and the key itself (shown once, never stored)."""
    record_roles = check_roles(roles)
    key_id, key = generate_key()
    record = KeyRecord(
        id=key_id,
        tenant=check_tenant(tenant),
        roles=record_roles,
        hash=hash_key(key),
        name=name,
        created_at=now_rfc3339(),
    )
    with locked(path) as keys:
        keys.keys.append(record)
    return record, key


def revoke_key(path: Path, key_id: str, tenant: str | None = None) -> KeyRecord:
    """Mark a key revoked (kept in the file, so audit logs keep resolving its id)."""
    with locked(path) as keys:
        record = keys.by_id(key_id)
        if record is None or (tenant is not None and record.tenant != tenant):
            raise KeyFileError(f"no key with id {key_id!r}")
        if not record.revoked:
            updated = replace(record, revoked_at=now_rfc3339())
            keys.keys[keys.keys.index(record)] = updated
            record = updated
    return record


def ensure_local_key(path: Path, secret_path: Path | None = None) -> str:
    """The key `make run` prints: an analyst+admin key of tenant `local`, created once and
    kept (mode 0600) in `secret_path` (default: beside the key file) for the next run."""
    secret_path = secret_path or path.with_name(path.name + ".local-key")
    if secret_path.exists():
        key = secret_path.read_text(encoding="utf-8").strip()
        key_id = key_id_of(key)
        record = load(path).by_id(key_id) if key_id else None
        if record and not record.revoked and record.hash == hash_key(key):
            return key
    _, key = create_key(path, LOCAL_TENANT, ROLES, name="local (make run)")
    secret_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return key


# ---- the `veritas keys` command ----------------------------------------------------------


def _default_file() -> str:
    return os.environ.get("VERITAS_API_KEYS_FILE", "")


def _file(args: argparse.Namespace) -> Path:
    if not args.file:
        raise KeyFileError("no key file: pass --file or set VERITAS_API_KEYS_FILE")
    return Path(args.file)


def _cmd_create(args: argparse.Namespace) -> int:
    record, key = create_key(_file(args), args.tenant, args.role or ["analyst"], args.name)
    print(f"created key {record.id} for tenant {record.tenant} ({', '.join(record.roles)})")
    print(key)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    for k in load(_file(args)).keys:
        if args.tenant and k.tenant != args.tenant:
            continue
        state = f"revoked {k.revoked_at}" if k.revoked else "active"
        print(f"{k.id}  {k.tenant:<16} {','.join(k.roles):<14} {state:<28} {k.name}")
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    record = revoke_key(_file(args), args.id)
    print(f"revoked key {record.id} of tenant {record.tenant} at {record.revoked_at}")
    return 0


def add_subcommand(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `veritas keys ...` on the CLI's subparsers."""
    keys = sub.add_parser("keys", help="create, list and revoke gateway API keys")
    keys.add_argument("--file", default=_default_file(), help="key file (VERITAS_API_KEYS_FILE)")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", action="append", choices=ROLES, help="repeatable")
    create.add_argument("--name", default="", help="who or what holds the key")
    create.set_defaults(func=run)
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--tenant", default="")
    listing.set_defaults(func=run)
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    revoke.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    commands = {"create": _cmd_create, "list": _cmd_list, "revoke": _cmd_revoke}
    try:
        return commands[args.keys_command](args)
    except KeyFileError as e:
        print(f"veritas keys: {e}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="veritas")
    add_subcommand(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
