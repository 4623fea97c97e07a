from veritas.v1 import common_pb2 as _common_pb2
from veritas.v1 import veritas_pb2 as _veritas_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
