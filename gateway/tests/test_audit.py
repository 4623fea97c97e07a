import json
from pathlib import Path

from gateway.audit import AuditLog, AuditRecord, modalities, sizes
from veritas.v1 import common_pb2 as pb


def test_the_audit_record_has_sizes_never_content(tmp_path: Path):
    secret = "I took the money from the safe."
    request = pb.AnalysisRequest(
        request_id="r-1",
        video=pb.Media(data=b"\x00" * 1000, mime_type="video/mp4"),
        audio=pb.Media(uri="https://media.example/a.wav"),
        transcript=pb.Transcript(text=secret),
        physiology=pb.Physiology(heart_rate=[70, 71, 72]),
    )
    assert sizes(request) == {
        "video_bytes": 1000,
        "audio_uri": 1,
        "transcript_chars": len(secret),
        "physiology_samples": 3,
    }
    assert modalities(request) == ["video", "audio", "transcript", "physiology"]
    log = AuditLog(str(tmp_path / "audit.jsonl"))
    log.write(
        AuditRecord(
            method="Analyze",
            transport="grpc",
            tenant="acme",
            principal="key:abc",
            request_id="r-1",
            modalities=modalities(request),
            sizes=sizes(request),
            decision="INCONCLUSIVE",
        )
    )
    text = (tmp_path / "audit.jsonl").read_text()
    assert "money" not in text and "media.example" not in text
    entry = json.loads(text)
    assert entry["tenant"] == "acme" and entry["decision"] == "INCONCLUSIVE"
    assert entry["ts"].endswith("Z") and len(entry["ts"]) == 24
