from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Modality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODALITY_UNSPECIFIED: _ClassVar[Modality]
    VISION: _ClassVar[Modality]
    AUDIO: _ClassVar[Modality]
    TEXT: _ClassVar[Modality]
    PHYSIOLOGY: _ClassVar[Modality]

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    TRUTHFUL: _ClassVar[Decision]
    DECEPTIVE: _ClassVar[Decision]
    INCONCLUSIVE: _ClassVar[Decision]

class ModalityStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODALITY_STATUS_UNSPECIFIED: _ClassVar[ModalityStatus]
    OK: _ClassVar[ModalityStatus]
    FAILED: _ClassVar[ModalityStatus]
    SKIPPED: _ClassVar[ModalityStatus]
    TIMED_OUT: _ClassVar[ModalityStatus]
    PENDING: _ClassVar[ModalityStatus]

class FusionStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FUSION_STRATEGY_UNSPECIFIED: _ClassVar[FusionStrategy]
    LOG_ODDS: _ClassVar[FusionStrategy]
    WEIGHTED_AVERAGE: _ClassVar[FusionStrategy]
    MAJORITY_VOTE: _ClassVar[FusionStrategy]
    STACKER: _ClassVar[FusionStrategy]

class InputDomain(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INPUT_DOMAIN_UNSPECIFIED: _ClassVar[InputDomain]
    WRITTEN_REVIEW: _ClassVar[InputDomain]
    WRITTEN_STATEMENT: _ClassVar[InputDomain]
    INTERVIEW: _ClassVar[InputDomain]

class Quality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUALITY_AUTO: _ClassVar[Quality]
    QUALITY_LOW: _ClassVar[Quality]
    QUALITY_MEDIUM: _ClassVar[Quality]
    QUALITY_HIGH: _ClassVar[Quality]
MODALITY_UNSPECIFIED: Modality
VISION: Modality
AUDIO: Modality
TEXT: Modality
PHYSIOLOGY: Modality
DECISION_UNSPECIFIED: Decision
TRUTHFUL: Decision
DECEPTIVE: Decision
INCONCLUSIVE: Decision
MODALITY_STATUS_UNSPECIFIED: ModalityStatus
OK: ModalityStatus
FAILED: ModalityStatus
SKIPPED: ModalityStatus
TIMED_OUT: ModalityStatus
PENDING: ModalityStatus
FUSION_STRATEGY_UNSPECIFIED: FusionStrategy
LOG_ODDS: FusionStrategy
WEIGHTED_AVERAGE: FusionStrategy
MAJORITY_VOTE: FusionStrategy
STACKER: FusionStrategy
INPUT_DOMAIN_UNSPECIFIED: InputDomain
WRITTEN_REVIEW: InputDomain
WRITTEN_STATEMENT: InputDomain
INTERVIEW: InputDomain
QUALITY_AUTO: Quality
QUALITY_LOW: Quality
QUALITY_MEDIUM: Quality
QUALITY_HIGH: Quality

class Media(_message.Message):
    __slots__ = ("data", "uri", "mime_type")
    DATA_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    uri: str
    mime_type: str
    def __init__(self, data: _Optional[bytes] = ..., uri: _Optional[str] = ..., mime_type: _Optional[str] = ...) -> None: ...

class TranscriptSegment(_message.Message):
    __slots__ = ("start_s", "end_s", "text", "speaker")
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    start_s: float
    end_s: float
    text: str
    speaker: str
    def __init__(self, start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., text: _Optional[str] = ..., speaker: _Optional[str] = ...) -> None: ...

class Transcript(_message.Message):
    __slots__ = ("text", "segments", "language")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    text: str
    segments: _containers.RepeatedCompositeFieldContainer[TranscriptSegment]
    language: str
    def __init__(self, text: _Optional[str] = ..., segments: _Optional[_Iterable[_Union[TranscriptSegment, _Mapping]]] = ..., language: _Optional[str] = ...) -> None: ...

class PhysioChannel(_message.Message):
    __slots__ = ("name", "unit", "sampling_rate_hz", "samples", "start_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    unit: str
    sampling_rate_hz: float
    samples: _containers.RepeatedScalarFieldContainer[float]
    start_s: float
    def __init__(self, name: _Optional[str] = ..., unit: _Optional[str] = ..., sampling_rate_hz: _Optional[float] = ..., samples: _Optional[_Iterable[float]] = ..., start_s: _Optional[float] = ...) -> None: ...

class QuestionMarker(_message.Message):
    __slots__ = ("kind", "start_s", "end_s", "label")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[QuestionMarker.Kind]
        RELEVANT: _ClassVar[QuestionMarker.Kind]
        COMPARISON: _ClassVar[QuestionMarker.Kind]
        IRRELEVANT: _ClassVar[QuestionMarker.Kind]
    KIND_UNSPECIFIED: QuestionMarker.Kind
    RELEVANT: QuestionMarker.Kind
    COMPARISON: QuestionMarker.Kind
    IRRELEVANT: QuestionMarker.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    kind: QuestionMarker.Kind
    start_s: float
    end_s: float
    label: str
    def __init__(self, kind: _Optional[_Union[QuestionMarker.Kind, str]] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., label: _Optional[str] = ...) -> None: ...

class Physiology(_message.Message):
    __slots__ = ("channels", "heart_rate", "markers")
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    HEART_RATE_FIELD_NUMBER: _ClassVar[int]
    MARKERS_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedCompositeFieldContainer[PhysioChannel]
    heart_rate: _containers.RepeatedScalarFieldContainer[float]
    markers: _containers.RepeatedCompositeFieldContainer[QuestionMarker]
    def __init__(self, channels: _Optional[_Iterable[_Union[PhysioChannel, _Mapping]]] = ..., heart_rate: _Optional[_Iterable[float]] = ..., markers: _Optional[_Iterable[_Union[QuestionMarker, _Mapping]]] = ...) -> None: ...

class ModalityInput(_message.Message):
    __slots__ = ("media", "transcript", "physiology")
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    PHYSIOLOGY_FIELD_NUMBER: _ClassVar[int]
    media: Media
    transcript: Transcript
    physiology: Physiology
    def __init__(self, media: _Optional[_Union[Media, _Mapping]] = ..., transcript: _Optional[_Union[Transcript, _Mapping]] = ..., physiology: _Optional[_Union[Physiology, _Mapping]] = ...) -> None: ...

class Baseline(_message.Message):
    __slots__ = ("video", "audio", "transcript", "physiology")
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    PHYSIOLOGY_FIELD_NUMBER: _ClassVar[int]
    video: Media
    audio: Media
    transcript: Transcript
    physiology: Physiology
    def __init__(self, video: _Optional[_Union[Media, _Mapping]] = ..., audio: _Optional[_Union[Media, _Mapping]] = ..., transcript: _Optional[_Union[Transcript, _Mapping]] = ..., physiology: _Optional[_Union[Physiology, _Mapping]] = ...) -> None: ...

class Options(_message.Message):
    __slots__ = ("modalities", "strategy", "deadline_ms", "explain", "target_fps", "window_s", "domain", "quality", "update_latency_target_ms")
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    TARGET_FPS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_LATENCY_TARGET_MS_FIELD_NUMBER: _ClassVar[int]
    modalities: _containers.RepeatedScalarFieldContainer[Modality]
    strategy: FusionStrategy
    deadline_ms: int
    explain: bool
    target_fps: float
    window_s: float
    domain: InputDomain
    quality: Quality
    update_latency_target_ms: float
    def __init__(self, modalities: _Optional[_Iterable[_Union[Modality, str]]] = ..., strategy: _Optional[_Union[FusionStrategy, str]] = ..., deadline_ms: _Optional[int] = ..., explain: _Optional[bool] = ..., target_fps: _Optional[float] = ..., window_s: _Optional[float] = ..., domain: _Optional[_Union[InputDomain, str]] = ..., quality: _Optional[_Union[Quality, str]] = ..., update_latency_target_ms: _Optional[float] = ...) -> None: ...

class AnalysisRequest(_message.Message):
    __slots__ = ("request_id", "subject_id", "video", "audio", "transcript", "physiology", "baseline", "options", "questions")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    PHYSIOLOGY_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    subject_id: str
    video: Media
    audio: Media
    transcript: Transcript
    physiology: Physiology
    baseline: Baseline
    options: Options
    questions: _containers.RepeatedCompositeFieldContainer[QuestionMarker]
    def __init__(self, request_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., video: _Optional[_Union[Media, _Mapping]] = ..., audio: _Optional[_Union[Media, _Mapping]] = ..., transcript: _Optional[_Union[Transcript, _Mapping]] = ..., physiology: _Optional[_Union[Physiology, _Mapping]] = ..., baseline: _Optional[_Union[Baseline, _Mapping]] = ..., options: _Optional[_Union[Options, _Mapping]] = ..., questions: _Optional[_Iterable[_Union[QuestionMarker, _Mapping]]] = ...) -> None: ...

class TextSpan(_message.Message):
    __slots__ = ("start", "end", "text")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    text: str
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("name", "onset_s", "apex_s", "offset_s", "magnitude", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ONSET_S_FIELD_NUMBER: _ClassVar[int]
    APEX_S_FIELD_NUMBER: _ClassVar[int]
    OFFSET_S_FIELD_NUMBER: _ClassVar[int]
    MAGNITUDE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    onset_s: float
    apex_s: float
    offset_s: float
    magnitude: float
    detail: str
    def __init__(self, name: _Optional[str] = ..., onset_s: _Optional[float] = ..., apex_s: _Optional[float] = ..., offset_s: _Optional[float] = ..., magnitude: _Optional[float] = ..., detail: _Optional[str] = ...) -> None: ...

class Feature(_message.Message):
    __slots__ = ("name", "value", "contribution", "unit", "baseline_value", "has_baseline", "spans")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_VALUE_FIELD_NUMBER: _ClassVar[int]
    HAS_BASELINE_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    contribution: float
    unit: str
    baseline_value: float
    has_baseline: bool
    spans: _containers.RepeatedCompositeFieldContainer[TextSpan]
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., contribution: _Optional[float] = ..., unit: _Optional[str] = ..., baseline_value: _Optional[float] = ..., has_baseline: _Optional[bool] = ..., spans: _Optional[_Iterable[_Union[TextSpan, _Mapping]]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "calibrated", "card", "validated_auc", "validated_domains", "domain_note")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CALIBRATED_FIELD_NUMBER: _ClassVar[int]
    CARD_FIELD_NUMBER: _ClassVar[int]
    VALIDATED_AUC_FIELD_NUMBER: _ClassVar[int]
    VALIDATED_DOMAINS_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_NOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    calibrated: bool
    card: str
    validated_auc: float
    validated_domains: _containers.RepeatedScalarFieldContainer[InputDomain]
    domain_note: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., calibrated: _Optional[bool] = ..., card: _Optional[str] = ..., validated_auc: _Optional[float] = ..., validated_domains: _Optional[_Iterable[_Union[InputDomain, str]]] = ..., domain_note: _Optional[str] = ...) -> None: ...

class Coverage(_message.Message):
    __slots__ = ("received", "analysed", "skipped")
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ANALYSED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    received: int
    analysed: int
    skipped: int
    def __init__(self, received: _Optional[int] = ..., analysed: _Optional[int] = ..., skipped: _Optional[int] = ...) -> None: ...

class ModalityResult(_message.Message):
    __slots__ = ("modality", "status", "reason", "score", "confidence", "features", "model", "latency_ms", "window_start_s", "window_end_s", "notes", "events", "counted_calibrated", "calibration_reason", "quality", "coverage")
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_S_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_S_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    COUNTED_CALIBRATED_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_REASON_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    modality: Modality
    status: ModalityStatus
    reason: str
    score: float
    confidence: float
    features: _containers.RepeatedCompositeFieldContainer[Feature]
    model: ModelInfo
    latency_ms: float
    window_start_s: float
    window_end_s: float
    notes: _containers.RepeatedScalarFieldContainer[str]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    counted_calibrated: bool
    calibration_reason: str
    quality: Quality
    coverage: Coverage
    def __init__(self, modality: _Optional[_Union[Modality, str]] = ..., status: _Optional[_Union[ModalityStatus, str]] = ..., reason: _Optional[str] = ..., score: _Optional[float] = ..., confidence: _Optional[float] = ..., features: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., model: _Optional[_Union[ModelInfo, _Mapping]] = ..., latency_ms: _Optional[float] = ..., window_start_s: _Optional[float] = ..., window_end_s: _Optional[float] = ..., notes: _Optional[_Iterable[str]] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., counted_calibrated: _Optional[bool] = ..., calibration_reason: _Optional[str] = ..., quality: _Optional[_Union[Quality, str]] = ..., coverage: _Optional[_Union[Coverage, _Mapping]] = ...) -> None: ...

class ReasoningStep(_message.Message):
    __slots__ = ("kind", "text", "modality")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[ReasoningStep.Kind]
        OBSERVE: _ClassVar[ReasoningStep.Kind]
        THINK: _ClassVar[ReasoningStep.Kind]
        ACT: _ClassVar[ReasoningStep.Kind]
    KIND_UNSPECIFIED: ReasoningStep.Kind
    OBSERVE: ReasoningStep.Kind
    THINK: ReasoningStep.Kind
    ACT: ReasoningStep.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    kind: ReasoningStep.Kind
    text: str
    modality: Modality
    def __init__(self, kind: _Optional[_Union[ReasoningStep.Kind, str]] = ..., text: _Optional[str] = ..., modality: _Optional[_Union[Modality, str]] = ...) -> None: ...

class Timing(_message.Message):
    __slots__ = ("stage", "ms")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    ms: float
    def __init__(self, stage: _Optional[str] = ..., ms: _Optional[float] = ...) -> None: ...

class Uncertainty(_message.Message):
    __slots__ = ("model", "disagreement", "missing", "total")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DISAGREEMENT_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    model: float
    disagreement: float
    missing: float
    total: float
    def __init__(self, model: _Optional[float] = ..., disagreement: _Optional[float] = ..., missing: _Optional[float] = ..., total: _Optional[float] = ...) -> None: ...

class AnalysisResult(_message.Message):
    __slots__ = ("request_id", "decision", "deception_probability", "confidence", "modalities", "reasoning", "timings", "trace_id", "summary", "human_review", "review_reason", "strategy", "final", "probability_low", "probability_high", "uncertainty", "window_start_s", "window_end_s", "decision_reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DECEPTION_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    HUMAN_REVIEW_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REASON_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_LOW_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_HIGH_FIELD_NUMBER: _ClassVar[int]
    UNCERTAINTY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_S_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_S_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    decision: Decision
    deception_probability: float
    confidence: float
    modalities: _containers.RepeatedCompositeFieldContainer[ModalityResult]
    reasoning: _containers.RepeatedCompositeFieldContainer[ReasoningStep]
    timings: _containers.RepeatedCompositeFieldContainer[Timing]
    trace_id: str
    summary: str
    human_review: bool
    review_reason: str
    strategy: FusionStrategy
    final: bool
    probability_low: float
    probability_high: float
    uncertainty: Uncertainty
    window_start_s: float
    window_end_s: float
    decision_reason: str
    def __init__(self, request_id: _Optional[str] = ..., decision: _Optional[_Union[Decision, str]] = ..., deception_probability: _Optional[float] = ..., confidence: _Optional[float] = ..., modalities: _Optional[_Iterable[_Union[ModalityResult, _Mapping]]] = ..., reasoning: _Optional[_Iterable[_Union[ReasoningStep, _Mapping]]] = ..., timings: _Optional[_Iterable[_Union[Timing, _Mapping]]] = ..., trace_id: _Optional[str] = ..., summary: _Optional[str] = ..., human_review: _Optional[bool] = ..., review_reason: _Optional[str] = ..., strategy: _Optional[_Union[FusionStrategy, str]] = ..., final: _Optional[bool] = ..., probability_low: _Optional[float] = ..., probability_high: _Optional[float] = ..., uncertainty: _Optional[_Union[Uncertainty, _Mapping]] = ..., window_start_s: _Optional[float] = ..., window_end_s: _Optional[float] = ..., decision_reason: _Optional[str] = ...) -> None: ...

class VideoFrame(_message.Message):
    __slots__ = ("image", "mime_type", "timestamp_s")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_S_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    mime_type: str
    timestamp_s: float
    def __init__(self, image: _Optional[bytes] = ..., mime_type: _Optional[str] = ..., timestamp_s: _Optional[float] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("pcm16", "sample_rate_hz", "channels", "timestamp_s")
    PCM16_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_S_FIELD_NUMBER: _ClassVar[int]
    pcm16: bytes
    sample_rate_hz: float
    channels: int
    timestamp_s: float
    def __init__(self, pcm16: _Optional[bytes] = ..., sample_rate_hz: _Optional[float] = ..., channels: _Optional[int] = ..., timestamp_s: _Optional[float] = ...) -> None: ...

class StreamConfig(_message.Message):
    __slots__ = ("request_id", "subject_id", "options", "baseline", "questions")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    subject_id: str
    options: Options
    baseline: Baseline
    questions: _containers.RepeatedCompositeFieldContainer[QuestionMarker]
    def __init__(self, request_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., options: _Optional[_Union[Options, _Mapping]] = ..., baseline: _Optional[_Union[Baseline, _Mapping]] = ..., questions: _Optional[_Iterable[_Union[QuestionMarker, _Mapping]]] = ...) -> None: ...

class LiveChunk(_message.Message):
    __slots__ = ("config", "video_frame", "audio_chunk", "transcript_segment", "physio_samples", "question")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FRAME_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CHUNK_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_SEGMENT_FIELD_NUMBER: _ClassVar[int]
    PHYSIO_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    config: StreamConfig
    video_frame: VideoFrame
    audio_chunk: AudioChunk
    transcript_segment: TranscriptSegment
    physio_samples: PhysioChannel
    question: QuestionMarker
    def __init__(self, config: _Optional[_Union[StreamConfig, _Mapping]] = ..., video_frame: _Optional[_Union[VideoFrame, _Mapping]] = ..., audio_chunk: _Optional[_Union[AudioChunk, _Mapping]] = ..., transcript_segment: _Optional[_Union[TranscriptSegment, _Mapping]] = ..., physio_samples: _Optional[_Union[PhysioChannel, _Mapping]] = ..., question: _Optional[_Union[QuestionMarker, _Mapping]] = ...) -> None: ...
