from pathlib import Path

from veritas.config import markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_doc_matches_the_code() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert doc == markdown_table(), "run: python -m veritas.config > docs/configuration.md"
