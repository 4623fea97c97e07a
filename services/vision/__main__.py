"""The vision service: `python -m services.vision` (configuration: docs/configuration.md)."""

from services.vision.analyzer import VisionAnalyzer
from veritas.modality_service import serve_modality

if __name__ == "__main__":
    serve_modality("vision", VisionAnalyzer)
