"""API keys: hashed at rest, rotated and revoked without a restart, checked by role."""

from __future__ import annotations

import stat
from pathlib import Path

import grpc
import pytest

from gateway.auth import Authenticator
from gateway.errors import Refused
from gateway.keystore import KeyStore
from gateway.policy import ADMIN, ANALYST, require_role
from gateway.settings import ConfigError, Settings
from veritas import keys


def authenticator(path: Path) -> Authenticator:
    return Authenticator(KeyStore(path), None, anonymous=False)


async def test_a_key_is_stored_only_as_a_hash(tmp_path: Path):
    path = tmp_path / "keys.json"
    record, key = keys.create_key(path, "acme", ["analyst"], "ci")
    text = path.read_text()
    assert key not in text and key.split("_", 2)[2] not in text
    assert record.hash in text and record.id in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    principal = await authenticator(path).authenticate({"authorization": f"Bearer {key}"})
    assert (principal.tenant, principal.key_id, principal.roles) == ("acme", record.id, {ANALYST})
    also = await authenticator(path).authenticate({"x-api-key": key})
    assert also.key_id == record.id


async def test_keys_rotate_and_revoke_without_a_restart(tmp_path: Path):
    path = tmp_path / "keys.json"
    old_record, old = keys.create_key(path, "acme", ["analyst"])
    auth = authenticator(path)
    await auth.authenticate({"authorization": f"Bearer {old}"})
    _, new = keys.create_key(path, "acme", ["analyst"])  # the gateway is running
    assert (await auth.authenticate({"authorization": f"Bearer {new}"})).tenant == "acme"
    keys.revoke_key(path, old_record.id)
    with pytest.raises(Refused) as info:
        await auth.authenticate({"authorization": f"Bearer {old}"})
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in info.value.message


@pytest.mark.parametrize(
    "make",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # right id, wrong secret
        lambda key: "vk_ffffffffffff_" + key.split("_", 2)[2],  # unknown id
        lambda key: "not-a-key",
    ],
)
async def test_invalid_keys_are_refused(tmp_path: Path, make):
    path = tmp_path / "keys.json"
    _, key = keys.create_key(path, "acme", ["analyst"])
    with pytest.raises(Refused) as info:
        await authenticator(path).authenticate({"authorization": f"Bearer {make(key)}"})
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_a_broken_key_file_keeps_the_last_good_keys(tmp_path: Path):
    path = tmp_path / "keys.json"
    _, key = keys.create_key(path, "acme", ["analyst"])
    store = KeyStore(path)
    assert store.find(key) is not None
    path.write_text("{ not json")
    assert store.find(key) is not None


def test_roles():
    analyst = keys.check_roles(["analyst"])
    from gateway.policy import Principal

    p = Principal("acme", frozenset(analyst))
    require_role(p, ANALYST)
    with pytest.raises(Refused) as info:
        require_role(p, ADMIN)
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(keys.KeyFileError):
        keys.check_roles(["root"])
    with pytest.raises(keys.KeyFileError):
        keys.check_tenant("a b")


def test_the_local_key_is_created_once_and_reused(tmp_path: Path):
    path = tmp_path / "keys.json"
    key = keys.ensure_local_key(path)
    assert keys.ensure_local_key(path) == key
    record = keys.load(path).by_id(keys.key_id_of(key) or "")
    assert record is not None and set(record.roles) == {"analyst", "admin"}
    keys.revoke_key(path, record.id)
    assert keys.ensure_local_key(path) != key


def test_the_cli_creates_lists_and_revokes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = str(tmp_path / "keys.json")
    assert keys.main(["keys", "--file", path, "create", "--tenant", "acme", "--role", "admin"]) == 0
    out = capsys.readouterr().out.splitlines()
    key_id = out[0].split()[2]
    assert out[1].startswith(f"vk_{key_id}_")
    assert keys.main(["keys", "--file", path, "list"]) == 0
    assert key_id in capsys.readouterr().out
    assert keys.main(["keys", "--file", path, "revoke", key_id]) == 0
    assert keys.main(["keys", "--file", path, "revoke", "nope"]) == 2


def test_a_half_configured_gateway_refuses_to_start(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VERITAS_AUTH", "keys")
    monkeypatch.delenv("VERITAS_API_KEYS_FILE", raising=False)
    with pytest.raises(ConfigError, match="VERITAS_API_KEYS_FILE"):
        Settings.from_env()
    monkeypatch.setenv("VERITAS_AUTH", "jwt")
    with pytest.raises(ConfigError, match="VERITAS_JWT_JWKS"):
        Settings.from_env()
    monkeypatch.setenv("VERITAS_AUTH", "none,keys")
    with pytest.raises(ConfigError):
        Settings.from_env()
