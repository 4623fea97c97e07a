"""Bearer JWTs signed by an identity provider (RS256 or ES256), checked against its JWKS.

The JWKS comes from a file (re-read when it changes) or a URL (cached; fetched again when a
token names a key id it does not hold yet, at most once per `min_refetch_s`), so the
provider can rotate its signing keys without touching the gateway.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

import grpc
import jwt

from gateway.errors import Refused
from gateway.policy import Principal
from veritas import refs

log = logging.getLogger("veritas.gateway")

ALGORITHMS = ("RS256", "ES256")


def _unauthenticated(message: str) -> Refused:
    return Refused(grpc.StatusCode.UNAUTHENTICATED, message)


class JwksSource(Protocol):
    def key(self, kid: str) -> jwt.PyJWK | None: ...


def _index(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    keys = {}
    for raw in document.get("keys", []):
        try:
            key = jwt.PyJWK.from_dict(raw)
        except jwt.PyJWTError:
            continue  # a key type we do not use (e.g. an encryption key): skip it
        if key.key_id and key.algorithm_name in ALGORITHMS:
            keys[key.key_id] = key
    return keys


class JwksFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        st = os.stat(self.path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                with open(self.path, encoding="utf-8") as f:
                    self._keys = _index(json.load(f))
                self._stamp = stamp
            return self._keys.get(kid)


class JwksUrl:
    def __init__(
        self,
        url: str,
        max_age_s: float = 300.0,
        min_refetch_s: float = 10.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.max_age_s = max_age_s
        self.min_refetch_s = min_refetch_s
        self.timeout_s = timeout_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = -float("inf")
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        with urllib.request.urlopen(self.url, timeout=self.timeout_s) as response:  # noqa: S310
            self._keys = _index(json.load(response))
        self._fetched = time.monotonic()

    def key(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            age = time.monotonic() - self._fetched
            if age > self.max_age_s or (kid not in self._keys and age > self.min_refetch_s):
                self._fetch()
            return self._keys.get(kid)


def jwks_source(location: str) -> JwksSource:
    if location.startswith(("https://", "http://")):
        return JwksUrl(location)
    return JwksFile(location.removeprefix("file://"))


class JwtVerifier:
    def __init__(
        self,
        source: JwksSource,
        issuer: str,
        audience: str,
        leeway_s: float = 30.0,
        tenant_claim: str = "tenant",
        roles_claim: str = "roles",
    ) -> None:
        self.source = source
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.tenant_claim = tenant_claim
        self.roles_claim = roles_claim

    def verify(self, token: str) -> Principal:
        """The principal a valid token names; UNAUTHENTICATED saying why otherwise.
        Blocking (it may fetch the JWKS): call it from a worker thread."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise _unauthenticated(f"malformed bearer token: {e}") from e
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise _unauthenticated(f"token algorithm {alg!r} not accepted (use RS256 or ES256)")
        if not kid:
            raise _unauthenticated("token header has no kid")
        try:
            key = self.source.key(kid)
        except (OSError, ValueError) as e:  # its words name the JWKS URL or file: to the log
            ref = refs.logged(log, "JWKS unavailable", str(e))
            message = refs.with_ref(
                "JWKS unavailable: the token signing keys cannot be read now; retry later", ref
            )
            raise Refused(grpc.StatusCode.UNAVAILABLE, message, ref=ref) from e
        if key is None:
            raise _unauthenticated(f"unknown signing key {kid!r}")
        if key.algorithm_name != alg:
            raise _unauthenticated(f"key {kid!r} is for {key.algorithm_name}, token says {alg}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise _unauthenticated("token expired") from e
        except jwt.InvalidAudienceError as e:
            raise _unauthenticated(f"token audience is not {self.audience!r}") from e
        except jwt.InvalidIssuerError as e:
            raise _unauthenticated(f"token issuer is not {self.issuer!r}") from e
        except jwt.PyJWTError as e:
            raise _unauthenticated(f"invalid token: {e}") from e
        tenant = claims.get(self.tenant_claim)
        if not isinstance(tenant, str) or not tenant:
            raise _unauthenticated(f"token has no {self.tenant_claim!r} claim")
        roles = claims.get(self.roles_claim, [])
        if isinstance(roles, str):
            roles = roles.split()
        return Principal(
            tenant=tenant,
            roles=frozenset(r for r in roles if isinstance(r, str)),
            subject=str(claims["sub"]),
            key_id=kid,
            method="jwt",
        )
