"""Who is calling and what they may do.

`Principal` is the authenticated caller; `require_role` is the one authorisation rule:
analysts analyse, admins manage keys and read usage (a key may hold both roles).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from gateway.errors import Refused

ANALYST = "analyst"
ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    tenant: str
    roles: frozenset[str]
    subject: str = ""  # JWT `sub`, or the API key's name
    key_id: str = ""  # API key id, or the JWT's `kid`
    method: str = "none"  # how it authenticated: key, jwt, none


ANONYMOUS = Principal(tenant="local", roles=frozenset({ANALYST}), subject="anonymous")


def require_role(principal: Principal, role: str) -> None:
    if role not in principal.roles:
        raise Refused(
            grpc.StatusCode.PERMISSION_DENIED,
            f"tenant {principal.tenant!r}: this call needs the {role!r} role",
        )
