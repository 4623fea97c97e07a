"""The secured gateway as a client meets it: keys, tokens, roles, the admin API, audit."""

from __future__ import annotations

import time

import grpc
import pytest

from tests.gateway_fixtures import Credentials, GatewayProcess, bearer, metric
from veritas.client import build_request
from veritas.v1 import admin_pb2, admin_pb2_grpc, veritas_pb2_grpc

pytest_plugins = ("tests.gateway_fixtures",)
SECRET_TEXT = "I locked the office and went straight home that evening."


def analyze(gw: GatewayProcess, metadata: list[tuple[str, str]]):
    with grpc.insecure_channel(gw.address) as channel:
        stub = veritas_pb2_grpc.VeritasStub(channel)
        return stub.Analyze(build_request(transcript=SECRET_TEXT), timeout=60, metadata=metadata)


def refused(gw: GatewayProcess, metadata: list[tuple[str, str]]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        analyze(gw, metadata)
    return info.value


def admin(gw: GatewayProcess, method: str, request, key: str):
    with grpc.insecure_channel(gw.address) as channel:
        stub = admin_pb2_grpc.AdminStub(channel)
        return getattr(stub, method)(request, timeout=10, metadata=bearer(key))


def test_an_analyst_key_and_a_token_are_admitted(secured, credentials: Credentials):
    assert analyze(secured, bearer(credentials.analyst)).final
    assert analyze(secured, bearer(credentials.rsa.token())).final
    assert analyze(secured, bearer(credentials.ec.token())).final


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "missing credentials"),
        ("invalid key", "invalid API key"),
        ("revoked key", "revoked"),
        ("expired token", "token expired"),
        ("wrong audience", "audience"),
        ("bad signature", "invalid token"),
    ],
)
def test_bad_credentials_are_unauthenticated(secured, credentials, case, expected):
    now = int(time.time())
    metadata = {
        "missing": [],
        "invalid key": bearer(credentials.analyst[:-2] + "xx"),
        "revoked key": bearer(credentials.revoked),
        "expired token": bearer(credentials.rsa.token(exp=now - 60)),
        "wrong audience": bearer(credentials.rsa.token(aud="other-api")),
        "bad signature": bearer(credentials.rsa.token()[:-4] + "AAAA"),
    }[case]
    error = refused(secured, metadata)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert expected in error.details()


def test_roles_are_enforced(secured, credentials: Credentials):
    error = refused(secured, bearer(credentials.admin))  # admin only: may not analyse
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as info:
        admin(secured, "ListKeys", admin_pb2.ListKeysRequest(), credentials.analyst)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    token = credentials.rsa.token(roles=["viewer"])
    assert refused(secured, bearer(token)).code() == grpc.StatusCode.PERMISSION_DENIED


def test_admins_manage_their_tenants_keys_without_a_restart(secured, credentials):
    created = admin(
        secured,
        "CreateKey",
        admin_pb2.CreateKeyRequest(roles=["analyst"], name="rotation test"),
        credentials.admin,
    )
    assert created.key.tenant == "acme" and created.secret.startswith(f"vk_{created.key.id}_")
    assert analyze(secured, bearer(created.secret)).final
    listed = admin(secured, "ListKeys", admin_pb2.ListKeysRequest(), credentials.admin)
    assert created.key.id in {k.id for k in listed.keys}
    assert {k.tenant for k in listed.keys} == {"acme"}  # never another tenant's keys
    revoked = admin(
        secured, "RevokeKey", admin_pb2.RevokeKeyRequest(id=created.key.id), credentials.admin
    )
    assert revoked.key.revoked_at
    assert refused(secured, bearer(created.secret)).code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as info:
        admin(secured, "ListKeys", admin_pb2.ListKeysRequest(tenant="beta"), credentials.admin)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_usage_per_tenant_in_the_admin_api_and_metrics(secured, credentials):
    before = admin(secured, "GetUsage", admin_pb2.GetUsageRequest(), credentials.admin).usage
    analyze(secured, bearer(credentials.analyst))
    refused(secured, bearer(credentials.revoked))
    after = admin(secured, "GetUsage", admin_pb2.GetUsageRequest(), credentials.admin).usage
    assert after.tenant == "acme"
    assert after.analyses == before.analyses + 1
    assert after.request_bytes > before.request_bytes
    body = secured.metrics()
    assert metric(body, "veritas_tenant_requests_total", tenant="acme", status="OK") >= 1
    revoked = metric(body, "veritas_tenant_requests_total", tenant="acme", status="UNAUTHENTICATED")
    assert revoked >= 1  # a revoked key still says whose it was
    assert metric(body, "veritas_requests_total", method="Analyze", status="UNAUTHENTICATED") >= 1
    assert metric(body, "veritas_tenant_analyses_total", tenant="acme") >= 1


def test_the_audit_log_says_who_analysed_what_without_the_content(secured, credentials):
    result = analyze(secured, bearer(credentials.other))
    records = [r for r in secured.audit_records() if r["request_id"] == result.request_id]
    assert len(records) == 1
    (record,) = records
    key_id = credentials.other.split("_")[1]
    assert record["tenant"] == "beta" and record["principal"] == f"key:{key_id}"
    assert record["modalities"] == ["transcript"]
    assert record["sizes"] == {"transcript_chars": len(SECRET_TEXT)}
    assert record["status"] == "OK" and record["decision"]
    assert record["trace_id"] == result.trace_id
    text = secured.audit.read_text()
    assert SECRET_TEXT not in text and "straight home" not in text
    assert any(r["status"] == "UNAUTHENTICATED" for r in secured.audit_records())
