"""The OpenAPI 3.1 document of the HTTP API, built from the protobuf descriptors so the
schemas cannot drift from the gRPC contract (`python -m gateway.openapi > docs/openapi.json`;
tests check the committed file is fresh)."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from veritas.v1 import common_pb2, veritas_pb2

F = FieldDescriptor
SCALARS: dict[int, dict[str, Any]] = {
    F.TYPE_DOUBLE: {"type": "number"},
    F.TYPE_FLOAT: {"type": "number"},
    F.TYPE_INT32: {"type": "integer", "format": "int32"},
    F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    F.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    F.TYPE_INT64: {"type": "string", "format": "int64"},
    F.TYPE_UINT64: {"type": "string", "format": "uint64"},
    F.TYPE_BOOL: {"type": "boolean"},
    F.TYPE_STRING: {"type": "string"},
    F.TYPE_BYTES: {"type": "string", "format": "byte", "description": "base64"},
}


def _field_schema(field: FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    if field.type == F.TYPE_MESSAGE:
        _message_schema(field.message_type, schemas)
        item: dict[str, Any] = {"$ref": f"#/components/schemas/{field.message_type.name}"}
    elif field.type == F.TYPE_ENUM:
        item = {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    else:
        item = dict(SCALARS[field.type])
    if field.is_repeated:
        return {"type": "array", "items": item}
    return item


def _message_schema(message: Descriptor, schemas: dict[str, Any]) -> None:
    if message.name in schemas:
        return
    schemas[message.name] = {}  # placeholder: messages may refer to themselves
    properties = {f.name: _field_schema(f, schemas) for f in message.fields}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    oneofs = [o for o in message.oneofs if not o.name.startswith("_")]
    if oneofs:
        schema["description"] = "; ".join(
            f"at most one of {', '.join(f.name for f in o.fields)}" for o in oneofs
        )
    schemas[message.name] = schema


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "the gRPC status code name"},
                    "message": {"type": "string", "description": "names the field and problem"},
                    "retry_after_s": {"type": "number"},
                    "ref": {
                        "type": "string",
                        "description": "the log record with the details (also X-Veritas-Ref)",
                    },
                },
                "required": ["code", "message"],
            }
        },
    }


def _legacy_schema() -> dict[str, Any]:
    path = {
        "type": "string",
        "description": "absolute path (or file:// URI) inside a folder of "
        "VERITAS_MEDIA_URI_ALLOWLIST, or an allow-listed http(s) URI",
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "video_path": path,
            "audio_path": path,
            "transcript": {"type": "string"},
            "physiological_data": {
                "description": "heart rate in bpm, one value per second",
                "oneOf": [
                    {"type": "array", "items": {"type": "number"}},
                    {
                        "type": "object",
                        "properties": {
                            "heart_rate": {"type": "array", "items": {"type": "number"}}
                        },
                    },
                ],
            },
            "subject_id": {"type": "string"},
            "request_id": {"type": "string"},
        },
    }


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "invalid input (the message names the field)",
        401: "missing, invalid, expired or revoked credentials",
        403: "the caller's role does not allow this call",
        413: "request body over the size limit (refused before it is read)",
        429: "tenant over its rate limit; see Retry-After",
        503: "the analysis backend is unavailable",
        504: "deadline exceeded",
    }
    content = {"application/json": {"schema": _ref("Error")}}
    out: dict[str, Any] = {str(c): {"description": words[c], "content": content} for c in codes}
    out["429"]["headers"] = {
        "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
    }
    return out


def _operation(summary: str, request: str, response: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [{"bearer": []}, {"apiKey": []}],
        "parameters": [
            {
                "name": "X-Deadline-Ms",
                "in": "header",
                "required": False,
                "schema": {"type": "integer", "minimum": 1},
                "description": "the caller's deadline in ms; passed down to every service",
            },
            {
                "name": "traceparent",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "W3C trace context to continue",
            },
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref(request)}},
        },
        "responses": {"200": response, **_errors(400, 401, 403, 413, 429, 503, 504)},
    }


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for message in (
        common_pb2.AnalysisRequest.DESCRIPTOR,
        common_pb2.AnalysisResult.DESCRIPTOR,
        veritas_pb2.AnalyzeBatchRequest.DESCRIPTOR,
        veritas_pb2.AnalyzeBatchResponse.DESCRIPTOR,
    ):
        _message_schema(message, schemas)
    schemas["Error"] = _error_schema()
    schemas["LegacyAnalyzeRequest"] = _legacy_schema()
    result = {
        "description": "the final result",
        "content": {"application/json": {"schema": _ref("AnalysisResult")}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Veritas",
            "version": "v1",
            "description": "Multi-modal deception analysis. Scores are weak, calibrated "
            "evidence for a human reviewer, never a verdict. The same API is served over "
            "gRPC (veritas.v1.Veritas).",
        },
        "paths": {
            "/v1/analyze": {"post": _operation("Analyse one statement", "AnalysisRequest", result)},
            "/v1/analyze:batch": {
                "post": _operation(
                    "Several independent analyses (each item succeeds or fails alone; "
                    "costs one rate-limit token per item)",
                    "AnalyzeBatchRequest",
                    {
                        "description": "one item per request, in order",
                        "content": {"application/json": {"schema": _ref("AnalyzeBatchResponse")}},
                    },
                )
            },
            "/v1/analyze:stream": {
                "post": _operation(
                    "Progressive results as each modality reports, the final one last",
                    "AnalysisRequest",
                    {
                        "description": "NDJSON: one AnalysisResult a line (final=true last); "
                        'a failure after the first line arrives as a last line {"error": ...}',
                        "content": {"application/x-ndjson": {"schema": _ref("AnalysisResult")}},
                    },
                )
            },
            "/api/analyze": {
                "post": _operation(
                    "The old API's body; media only from allow-listed folders",
                    "LegacyAnalyzeRequest",
                    result,
                )
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key (vk_...) or a JWT (RS256/ES256)",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
