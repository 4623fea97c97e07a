"""The Python client SDK (sync and asyncio).

from veritas.client import Client, build_request
with Client("127.0.0.1:50051") as client:
    result = client.analyze(build_request(audio="answer.wav", transcript="I was home."))
    print(result.decision, result.deception_probability)
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

import grpc

from veritas.config import channel_options
from veritas.modalities import MODALITIES
from veritas.v1 import common_pb2, veritas_pb2, veritas_pb2_grpc

DEFAULT_TARGET = "127.0.0.1:50051"
MIME_BY_SUFFIX = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".mov": "video/quicktime",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
}
MODALITY_NAMES: dict[str, common_pb2.Modality] = {m.name: m.enum for m in MODALITIES}
STRATEGY_NAMES = {
    "log_odds": common_pb2.LOG_ODDS,
    "weighted_average": common_pb2.WEIGHTED_AVERAGE,
    "majority_vote": common_pb2.MAJORITY_VOTE,
    "stacker": common_pb2.STACKER,
}
# What the input is (Options.domain): a model counts as calibrated evidence only inside the
# domain its validation covers (docs/fusion.md).
DOMAIN_NAMES = {
    "unknown": common_pb2.INPUT_DOMAIN_UNSPECIFIED,
    "written_review": common_pb2.WRITTEN_REVIEW,
    "written_statement": common_pb2.WRITTEN_STATEMENT,
    "interview": common_pb2.INTERVIEW,
}


def media(source: str | Path | bytes, mime_type: str = "") -> common_pb2.Media:
    """Media from a file path, raw bytes, or an allow-listed URI (scheme://...)."""
    if isinstance(source, bytes):
        return common_pb2.Media(data=source, mime_type=mime_type)
    text = str(source)
    if "://" in text:
        return common_pb2.Media(uri=text, mime_type=mime_type)
    path = Path(text)
    guessed = MIME_BY_SUFFIX.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or ""
    return common_pb2.Media(data=path.read_bytes(), mime_type=mime_type or guessed)


def build_request(
    *,
    video: str | Path | bytes | None = None,
    audio: str | Path | bytes | None = None,
    transcript: str | common_pb2.Transcript | None = None,
    physiology: str | Path | common_pb2.Physiology | Sequence[float] | None = None,
    subject_id: str = "",
    modalities: Sequence[str] = (),
    strategy: str = "",
    deadline_ms: int = 0,
    explain: bool = True,
    request_id: str = "",
    domain: str = "unknown",
) -> common_pb2.AnalysisRequest:
    """An AnalysisRequest from files and values. `physiology` is a CSV path (see
    veritas.physio_csv), a Physiology message, or a plain list of heart-rate bpm values."""
    request = common_pb2.AnalysisRequest(
        request_id=request_id,
        subject_id=subject_id,
        options=common_pb2.Options(
            modalities=[MODALITY_NAMES[m] for m in modalities],
            strategy=STRATEGY_NAMES[strategy]
            if strategy
            else common_pb2.FUSION_STRATEGY_UNSPECIFIED,
            deadline_ms=deadline_ms,
            explain=explain,
            domain=DOMAIN_NAMES[domain],
        ),
    )
    if video is not None:
        request.video.CopyFrom(media(video))
    if audio is not None:
        request.audio.CopyFrom(media(audio))
    if isinstance(transcript, common_pb2.Transcript):
        request.transcript.CopyFrom(transcript)
    elif transcript:
        request.transcript.text = transcript
    if isinstance(physiology, common_pb2.Physiology):
        request.physiology.CopyFrom(physiology)
    elif isinstance(physiology, (str, Path)):
        from veritas.physio_csv import read_physio_csv

        request.physiology.CopyFrom(read_physio_csv(Path(physiology)))
    elif physiology is not None:
        request.physiology.heart_rate.extend(float(v) for v in physiology)
    return request


def _metadata(api_key: str | None) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {api_key}")] if api_key else []


def _with_cache(metadata: list[tuple[str, str]], cache: bool) -> list[tuple[str, str]]:
    """The call's metadata, turning the gateway's result cache off when asked."""
    return metadata if cache else [*metadata, ("x-veritas-cache", "off")]


class Client:
    """Blocking client for the gateway."""

    def __init__(
        self, target: str = DEFAULT_TARGET, timeout_s: float = 60.0, api_key: str | None = None
    ) -> None:
        self._channel = grpc.insecure_channel(target, options=channel_options())
        self._stub = veritas_pb2_grpc.VeritasStub(self._channel)
        self.timeout_s = timeout_s
        self._metadata = _metadata(api_key)

    def analyze(
        self, request: common_pb2.AnalysisRequest, *, cache: bool = True
    ) -> common_pb2.AnalysisResult:
        """`cache=False`: analyse anew, never answered from (or stored in) the gateway's
        result cache (`x-veritas-cache: off`)."""
        result: common_pb2.AnalysisResult = self._stub.Analyze(
            request, timeout=self.timeout_s, metadata=_with_cache(self._metadata, cache)
        )
        return result

    def analyze_batch(
        self, requests: Iterable[common_pb2.AnalysisRequest]
    ) -> veritas_pb2.AnalyzeBatchResponse:
        batch = veritas_pb2.AnalyzeBatchRequest(requests=list(requests))
        response: veritas_pb2.AnalyzeBatchResponse = self._stub.AnalyzeBatch(
            batch, timeout=self.timeout_s, metadata=self._metadata
        )
        return response

    def stream(self, chunks: Iterable[common_pb2.LiveChunk]) -> Iterator[common_pb2.AnalysisResult]:
        results: Iterator[common_pb2.AnalysisResult] = self._stub.AnalyzeStream(
            iter(chunks), timeout=self.timeout_s, metadata=self._metadata
        )
        return results

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """asyncio client for the gateway."""

    def __init__(
        self, target: str = DEFAULT_TARGET, timeout_s: float = 60.0, api_key: str | None = None
    ) -> None:
        self._channel = grpc.aio.insecure_channel(target, options=channel_options())
        self._stub = veritas_pb2_grpc.VeritasStub(self._channel)
        self.timeout_s = timeout_s
        self._metadata = _metadata(api_key)

    async def analyze(
        self, request: common_pb2.AnalysisRequest, *, cache: bool = True
    ) -> common_pb2.AnalysisResult:
        """`cache=False`: analyse anew (`x-veritas-cache: off`)."""
        result: common_pb2.AnalysisResult = await self._stub.Analyze(
            request, timeout=self.timeout_s, metadata=_with_cache(self._metadata, cache)
        )
        return result

    async def analyze_batch(
        self, requests: Iterable[common_pb2.AnalysisRequest]
    ) -> veritas_pb2.AnalyzeBatchResponse:
        batch = veritas_pb2.AnalyzeBatchRequest(requests=list(requests))
        response: veritas_pb2.AnalyzeBatchResponse = await self._stub.AnalyzeBatch(
            batch, timeout=self.timeout_s, metadata=self._metadata
        )
        return response

    async def stream(
        self, chunks: AsyncIterator[common_pb2.LiveChunk] | Iterable[common_pb2.LiveChunk]
    ) -> AsyncIterator[common_pb2.AnalysisResult]:
        call = self._stub.AnalyzeStream(chunks, timeout=self.timeout_s, metadata=self._metadata)
        async for result in call:
            yield result

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
