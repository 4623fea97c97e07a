"""The audio service: `python -m services.audio` (configuration: docs/configuration.md)."""

from services.audio.analyzer import AudioAnalyzer
from veritas.modality_service import serve_modality

if __name__ == "__main__":
    serve_modality("audio", AudioAnalyzer)
