from veritas.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModalityRequest(_message.Message):
    __slots__ = ("request_id", "subject_id", "input", "baseline", "options", "questions")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    subject_id: str
    input: _common_pb2.ModalityInput
    baseline: _common_pb2.ModalityInput
    options: _common_pb2.Options
    questions: _containers.RepeatedCompositeFieldContainer[_common_pb2.QuestionMarker]
    def __init__(self, request_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., input: _Optional[_Union[_common_pb2.ModalityInput, _Mapping]] = ..., baseline: _Optional[_Union[_common_pb2.ModalityInput, _Mapping]] = ..., options: _Optional[_Union[_common_pb2.Options, _Mapping]] = ..., questions: _Optional[_Iterable[_Union[_common_pb2.QuestionMarker, _Mapping]]] = ...) -> None: ...

class ModalityUpdate(_message.Message):
    __slots__ = ("result", "final")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    result: _common_pb2.ModalityResult
    final: bool
    def __init__(self, result: _Optional[_Union[_common_pb2.ModalityResult, _Mapping]] = ..., final: _Optional[bool] = ...) -> None: ...

class ModalityBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[ModalityRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[ModalityRequest, _Mapping]]] = ...) -> None: ...

class ModalityBatchItem(_message.Message):
    __slots__ = ("update", "error_code", "error_message")
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    update: ModalityUpdate
    error_code: int
    error_message: str
    def __init__(self, update: _Optional[_Union[ModalityUpdate, _Mapping]] = ..., error_code: _Optional[int] = ..., error_message: _Optional[str] = ...) -> None: ...

class ModalityBatchResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ModalityBatchItem]
    def __init__(self, items: _Optional[_Iterable[_Union[ModalityBatchItem, _Mapping]]] = ...) -> None: ...
