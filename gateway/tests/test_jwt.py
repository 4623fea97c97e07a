"""Bearer JWTs: signature, algorithm, issuer, audience, expiry with leeway, key rotation."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import jwt
import pytest

from gateway.auth import Authenticator
from gateway.errors import Refused
from gateway.jwt_auth import JwksFile, JwtVerifier
from gateway.tests.signing_keys import AUDIENCE, ISSUER, ec_key, rsa_key, write_jwks

RSA, EC = rsa_key("rsa-1"), ec_key("ec-1")


@pytest.fixture
def jwks(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    write_jwks(path, RSA, EC)
    return path


@pytest.fixture
def auth(jwks: Path) -> Authenticator:
    verifier = JwtVerifier(JwksFile(str(jwks)), ISSUER, AUDIENCE, leeway_s=5)
    return Authenticator(None, verifier, anonymous=False)


async def refused(auth: Authenticator, headers: dict[str, str]) -> str:
    with pytest.raises(Refused) as info:
        await auth.authenticate(headers)
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
    return info.value.message


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_rs256_and_es256_tokens_name_tenant_roles_and_subject(auth: Authenticator):
    for key in (RSA, EC):
        principal = await auth.authenticate(bearer(key.token(roles=["analyst", "admin"])))
        assert principal.tenant == "acme"
        assert principal.roles == {"analyst", "admin"}
        assert principal.subject == "user-1" and principal.key_id == key.kid
    spaced = await auth.authenticate(bearer(RSA.token(roles="analyst admin")))
    assert spaced.roles == {"analyst", "admin"}


async def test_missing_credentials(auth: Authenticator):
    assert "missing credentials" in await refused(auth, {})
    assert "Bearer" in await refused(auth, {"authorization": "Basic dXNlcjpwdw=="})


async def test_expired_tokens_are_refused_beyond_the_leeway(auth: Authenticator):
    now = int(time.time())
    assert await refused(auth, bearer(RSA.token(exp=now - 30))) == "token expired"
    # Within the 5 s clock skew allowed: accepted.
    assert (await auth.authenticate(bearer(RSA.token(exp=now - 2)))).tenant == "acme"


async def test_wrong_audience_and_issuer(auth: Authenticator):
    assert "audience" in await refused(auth, bearer(RSA.token(aud="another-api")))
    assert "issuer" in await refused(auth, bearer(RSA.token(iss="https://evil.test")))


async def test_required_claims(auth: Authenticator):
    assert "exp" in await refused(auth, bearer(RSA.token(exp=None)))
    assert "tenant" in await refused(auth, bearer(RSA.token(tenant=None)))


async def test_forged_and_confused_tokens(auth: Authenticator):
    forged = rsa_key("rsa-1").token()  # same kid, another private key
    assert "invalid token" in await refused(auth, bearer(forged))
    hs = jwt.encode({"sub": "x"}, "s" * 32, algorithm="HS256", headers={"kid": "rsa-1"})
    assert "HS256" in await refused(auth, bearer(hs))
    unsigned = jwt.encode({"sub": "x"}, None, algorithm="none")  # type: ignore[arg-type]  # alg none: no key, as an attacker sends it
    assert "not accepted" in await refused(auth, bearer(unsigned))
    assert "malformed" in await refused(auth, bearer("a.b.c"))
    # An RSA token claiming the EC key's kid.
    swapped = jwt.encode({"sub": "x"}, RSA.private, algorithm="RS256", headers={"kid": EC.kid})
    assert "ES256" in await refused(auth, bearer(swapped))


async def test_signing_keys_rotate_without_a_restart(auth: Authenticator, jwks: Path):
    new = rsa_key("rsa-2")
    assert "unknown signing key" in await refused(auth, bearer(new.token()))
    write_jwks(jwks, new, EC)  # the provider rotates: rsa-1 retired, rsa-2 published
    assert (await auth.authenticate(bearer(new.token()))).key_id == "rsa-2"
    assert "unknown signing key" in await refused(auth, bearer(RSA.token()))


async def test_api_keys_are_refused_when_only_jwt_is_configured(auth: Authenticator):
    assert "not accepted" in await refused(auth, bearer("vk_0123456789ab_secret"))


async def test_anonymous_only_when_configured():
    principal = await Authenticator(None, None, anonymous=True).authenticate({})
    assert principal.tenant == "local" and principal.method == "none"
