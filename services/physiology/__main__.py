"""The physiology service: `python -m services.physiology` (settings: docs/configuration.md)."""

from services.physiology.analyzer import PhysiologyAnalyzer
from veritas.modality_service import serve_modality

if __name__ == "__main__":
    serve_modality("physiology", PhysiologyAnalyzer)
