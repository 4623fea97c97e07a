"""Errors from fusion, as the caller sees them (gateway.errors.from_backend): words written
for the caller pass; grpc's own words and exceptions' are replaced by a plain sentence and a
reference carried in the message, the trailing metadata and the HTTP answer."""

from __future__ import annotations

import grpc
import pytest

from gateway.errors import Refused, from_backend, internal_error
from veritas import refs

DOWN = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:50052: "
    "Failed to connect to remote host: Connection refused"
)


def error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


def test_fusion_down_is_unavailable_in_plain_words_with_a_reference() -> None:
    refused = from_backend(error(grpc.StatusCode.UNAVAILABLE, DOWN))
    assert refused.code == grpc.StatusCode.UNAVAILABLE
    assert refused.message.startswith("the analysis service is unavailable; retry later (ref ")
    assert refused.ref == refs.ref_in(refused.message)
    assert (refs.REF_METADATA, refused.ref) in refused.grpc_status().trailing_metadata
    assert refused.http_headers()[refs.REF_HEADER] == refused.ref
    assert refused.http_body()["error"]["ref"] == refused.ref  # type: ignore[index]


@pytest.mark.parametrize(
    "code, details",
    [
        (grpc.StatusCode.INVALID_ARGUMENT, "physiology.heart_rate[1]: not a finite number (nan)"),
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            "options.strategy: STACKER is unavailable (ref 1234abcd)",
        ),
    ],
)
def test_words_written_for_the_caller_pass(code: grpc.StatusCode, details: str) -> None:
    refused = from_backend(error(code, details))
    assert (refused.code, refused.message) == (code, details)


def test_a_bug_behind_the_gateway_is_internal_not_unavailable() -> None:
    refused = from_backend(error(grpc.StatusCode.UNKNOWN, "Unexpected <class 'KeyError'>: 'x'"))
    assert refused.code == grpc.StatusCode.INTERNAL and refused.http_status == 500
    assert not refs.leaks(refused.message) and refused.ref


def test_a_leaking_message_is_replaced_even_for_bad_input() -> None:
    refused = from_backend(error(grpc.StatusCode.INVALID_ARGUMENT, "cannot read /etc/shadow"))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "/etc" not in refused.message and refused.ref


def test_a_gateway_bug_is_internal_with_a_reference() -> None:
    refused = internal_error(ZeroDivisionError("division by zero"))
    assert isinstance(refused, Refused) and refused.code == grpc.StatusCode.INTERNAL
    assert "ZeroDivisionError" not in refused.message and refused.ref


class Broken:
    """A gateway whose every call hits a bug (what HttpApi needs of it, no more)."""

    class settings:  # noqa: N801 (stands in for Settings)
        max_request_bytes = max_legacy_request_bytes = 1024

    def call(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("self.limiter is None at gateway/core.py:120")


async def test_an_http_bug_is_a_json_500_with_a_reference_not_a_bare_one() -> None:
    import httpx

    from gateway.http_api import HttpApi

    app = HttpApi(Broken()).app()  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        response = await client.post("/v1/analyze", content=b"{}")
    assert response.status_code == 500
    body = response.json()["error"]
    assert body["code"] == "INTERNAL" and body["ref"] == response.headers[refs.REF_HEADER]
    assert not refs.leaks(body["message"])
