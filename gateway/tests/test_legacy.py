import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway.legacy import old_field_names, parse
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "a.wav").write_bytes(b"RIFF....WAVE")
    (tmp_path / "media2").mkdir()
    (tmp_path / "media2" / "b.wav").write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("do not read")
    os.symlink(tmp_path / "secret.txt", folder / "link.wav")
    return folder


def allow(folder: Path) -> list[str]:
    return [f"file://{folder}/"]


async def to_request(
    body: object, limit: int, prefixes: Sequence[str]
) -> common_pb2.AnalysisRequest:
    """parse, then read as the HTTP API does (it charges the caller in between)."""
    return await parse(body, prefixes).read(limit, 10.0)


async def field(body: object, prefixes: list[str]) -> str:
    with pytest.raises(InvalidInput) as info:
        await to_request(body, 1024, prefixes)
    return str(info.value)


async def test_an_allow_listed_file_is_read_and_sent_as_bytes(media: Path):
    request = await to_request(
        {
            "audio_path": str(media / "a.wav"),
            "transcript": "I was at home.",
            "physiological_data": [70, 72.5],
        },
        1024,
        allow(media),
    )
    assert request.audio.data == b"RIFF....WAVE"
    assert request.transcript.text == "I was at home."
    assert list(request.physiology.heart_rate) == [70.0, 72.5]
    assert request.options.explain


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "{m}/../secret.txt", "{m}/link.wav", "{m}2/b.wav", "relative/a.wav"],
)
async def test_paths_outside_the_allow_list_are_refused_naming_the_field(media: Path, path: str):
    message = await field({"video_path": path.format(m=media)}, allow(media))
    assert message.startswith("video_path:"), message


async def test_nothing_is_readable_when_no_folder_is_listed(media: Path):
    assert (await field({"audio_path": str(media / "a.wav")}, [])).startswith("audio_path:")


async def test_file_uris_follow_the_same_rule(media: Path):
    assert (
        await to_request({"audio_path": f"file://{media}/a.wav"}, 1024, allow(media))
    ).audio.data
    assert (await field({"audio_path": "file:///etc/passwd"}, allow(media))).startswith(
        "audio_path:"
    )


async def test_http_uris_must_match_a_prefix_and_are_left_to_fusion():
    prefixes = ["https://media.example/"]
    ok = await to_request({"video_path": "https://media.example/v.mp4"}, 1024, prefixes)
    assert ok.video.uri == "https://media.example/v.mp4"
    assert (await field({"video_path": "https://evil.example/v.mp4"}, prefixes)).startswith(
        "video_path"
    )


async def test_a_file_over_the_limit_is_refused(media: Path):
    with pytest.raises(InvalidInput, match="audio_path: larger than 4 bytes"):
        await to_request({"audio_path": str(media / "a.wav")}, 4, allow(media))


@pytest.mark.parametrize(
    "body, name",
    [
        ({"physiological_data": [70, "x"]}, "physiological_data[1]"),
        ({"physiological_data": []}, "physiological_data"),
        ({"physiological_data": {"heart_rate": [70, 71]}, "mood": 1}, "mood"),
        ({"transcript": 5}, "transcript"),
        ([1, 2], "body"),
    ],
)
async def test_bad_old_bodies_name_the_field(body, name):
    assert (await field(body, [])).startswith(f"{name}:")


def test_errors_from_fusion_are_named_in_the_old_words():
    assert old_field_names("video.uri: cannot be read") == "video_path: cannot be read"
    assert old_field_names("physiology: 900 bpm") == "physiological_data: 900 bpm"
    assert old_field_names("transcript: empty") == "transcript: empty"


@pytest.mark.parametrize(
    "path",
    [
        "file://{m}/%2e%2e/secret.txt",
        "file://{m}%2f..%2fsecret.txt",
        "file://evil.example{m}/a.wav",
        "file://{m}/escape/secret.txt",
    ],
)
async def test_encoded_traversal_and_other_hosts_are_refused(media: Path, path: str):
    (media / "escape").symlink_to(media.parent, target_is_directory=True)
    message = await field({"audio_path": path.format(m=media)}, allow(media))
    assert message.startswith("audio_path:"), message


async def test_file_localhost_is_this_machine(media: Path):
    body = {"audio_path": f"file://localhost{media}/a.wav"}
    assert (await to_request(body, 1024, allow(media))).audio.data == b"RIFF....WAVE"


@pytest.mark.parametrize(
    "uri",
    [
        "https://media.example.evil/v.mp4",  # the prefix's host is a prefix of this one
        "https://media.example@evil.example/v.mp4",
        "https://media.example/../private/v.mp4",
        "http://media.example/v.mp4",
    ],
)
async def test_http_prefixes_end_at_a_boundary(uri: str):
    assert (await field({"video_path": uri}, ["https://media.example/"])).startswith("video_path:")


async def test_parsing_touches_no_file_reading_does(media: Path):
    """The HTTP API charges the rate limit between the two steps."""
    legacy = parse({"audio_path": str(media / "missing.wav")}, allow(media))
    assert legacy.request.audio.WhichOneof("source") is None
    with pytest.raises(InvalidInput, match="audio_path: cannot be read"):
        await legacy.read(1024, 10.0)
