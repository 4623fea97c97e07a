"""The text service: `python -m services.text` (configuration: docs/configuration.md)."""

from services.text.analyzer import TextAnalyzer
from veritas.modality_service import serve_modality

if __name__ == "__main__":
    serve_modality("text", TextAnalyzer)
