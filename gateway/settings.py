"""The gateway's own configuration, read once at start from environment variables.

The variables, their defaults and meanings are listed with every other one in
veritas.config.VARIABLES (and so in docs/configuration.md).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from veritas.config import env


def get(name: str) -> str:
    return env(name)


class ConfigError(ValueError):
    """The gateway cannot start safely with this configuration."""


@dataclass(frozen=True)
class Settings:
    auth: frozenset[str]
    api_keys_file: str
    jwt_jwks: str
    jwt_issuer: str
    jwt_audience: str
    jwt_leeway_s: float
    jwt_tenant_claim: str
    jwt_roles_claim: str
    redis_url: str
    rate: float
    burst: float
    max_streams: int
    max_request_bytes: int
    max_legacy_request_bytes: int
    budget_s: float
    default_deadline_s: float
    max_deadline_s: float
    max_stream_s: float
    http_port: int
    tls_cert: str
    tls_key: str
    audit_file: str
    host: str = "127.0.0.1"  # the address both public ports bind (VERITAS_HOST)

    @classmethod
    def from_env(cls) -> Settings:
        auth = frozenset(m.strip() for m in get("VERITAS_AUTH").split(",") if m.strip())
        settings = cls(
            auth=auth,
            api_keys_file=get("VERITAS_API_KEYS_FILE"),
            jwt_jwks=get("VERITAS_JWT_JWKS"),
            jwt_issuer=get("VERITAS_JWT_ISSUER"),
            jwt_audience=get("VERITAS_JWT_AUDIENCE"),
            jwt_leeway_s=float(get("VERITAS_JWT_LEEWAY_S")),
            jwt_tenant_claim=get("VERITAS_JWT_TENANT_CLAIM"),
            jwt_roles_claim=get("VERITAS_JWT_ROLES_CLAIM"),
            redis_url=get("VERITAS_REDIS_URL"),
            rate=float(get("VERITAS_RATE_LIMIT_RPS")),
            burst=float(get("VERITAS_RATE_LIMIT_BURST")),
            max_streams=int(get("VERITAS_MAX_STREAMS_PER_TENANT")),
            max_request_bytes=int(float(get("VERITAS_MAX_REQUEST_MB")) * 1024 * 1024),
            max_legacy_request_bytes=int(float(get("VERITAS_MAX_LEGACY_REQUEST_KB")) * 1024),
            budget_s=float(get("VERITAS_GATEWAY_BUDGET_MS")) / 1000,
            default_deadline_s=float(env("VERITAS_DEFAULT_DEADLINE_S")),
            max_deadline_s=float(env("VERITAS_MAX_DEADLINE_S")),
            max_stream_s=float(get("VERITAS_MAX_STREAM_S")),
            http_port=int(get("VERITAS_HTTP_PORT")),
            tls_cert=get("VERITAS_TLS_CERT"),
            tls_key=get("VERITAS_TLS_KEY"),
            audit_file=get("VERITAS_AUDIT_FILE"),
            host=get("VERITAS_HOST"),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse to start half-configured: a gateway that silently admits everyone is worse
        than one that does not start."""
        known = {"keys", "jwt", "none"}
        if not self.auth or not self.auth <= known:
            raise ConfigError(f"VERITAS_AUTH={','.join(sorted(self.auth))!r}: use keys, jwt, none")
        if "none" in self.auth and len(self.auth) > 1:
            raise ConfigError("VERITAS_AUTH=none cannot be combined with other methods")
        if "none" in self.auth and not is_loopback(self.host):
            raise ConfigError(
                f"VERITAS_AUTH=none admits anyone, so it is allowed only on a loopback address; "
                f"VERITAS_HOST={self.host!r} is not one: bind 127.0.0.1 or ::1, or use "
                f"VERITAS_AUTH=keys or jwt"
            )
        if "keys" in self.auth and not self.api_keys_file:
            raise ConfigError("VERITAS_AUTH=keys needs VERITAS_API_KEYS_FILE")
        if "jwt" in self.auth and not (self.jwt_jwks and self.jwt_issuer and self.jwt_audience):
            raise ConfigError(
                "VERITAS_AUTH=jwt needs VERITAS_JWT_JWKS, VERITAS_JWT_ISSUER, VERITAS_JWT_AUDIENCE"
            )
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("set both VERITAS_TLS_CERT and VERITAS_TLS_KEY, or neither")
        if self.rate <= 0 or self.burst < 1 or self.max_streams < 1:
            raise ConfigError("rate limits must be positive (burst and streams at least 1)")


def is_loopback(host: str) -> bool:
    """A literal loopback address or `localhost`; any other name or address is not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False
