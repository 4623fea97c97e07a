"""The vision service: `python -m services.vision` (configuration: docs/configuration.md).

Faces and landmarks are found by the face models on Triton (VERITAS_TRITON_URL), the same
server that scores the windows with `vision_behaviour`.
"""

from services.vision.analyzer import VisionAnalyzer
from services.vision.neural_face import TritonFaceModels
from veritas.modality_service import serve_modality


def make_analyzer() -> VisionAnalyzer:
    return VisionAnalyzer(face_models=TritonFaceModels.from_env())


if __name__ == "__main__":
    serve_modality("vision", make_analyzer)
