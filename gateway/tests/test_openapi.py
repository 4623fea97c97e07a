from pathlib import Path

from gateway.openapi import document, render

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_openapi_document_is_fresh():
    committed = (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert committed == render(), "run: python -m gateway.openapi > docs/openapi.json"


def test_every_reference_resolves():
    doc = document()
    schemas = doc["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"].rsplit("/", 1)[-1]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    assert set(refs(doc)) <= set(schemas)
    assert {"/v1/analyze", "/v1/analyze:batch", "/v1/analyze:stream", "/api/analyze"} <= set(
        doc["paths"]
    )
