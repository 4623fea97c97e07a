"""veritas.media_uri: what may be read, and how reading is bounded. Files on a real
temporary folder; http cases against a real server on 127.0.0.1 (veritas/tests/media_server)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from veritas.analysis import InvalidInput
from veritas.media_uri import (
    AllowList,
    FileSource,
    HttpSource,
    MediaUnavailable,
    TenantSlots,
    check,
    fetch,
    read_file,
    tenant_metadata,
)
from veritas.tests.media_server import MediaServer, media_folder

FIELD = "video.uri"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return media_folder(tmp_path)


@pytest.fixture
def allow(folder: Path) -> AllowList:
    return AllowList.parse([f"file://{folder}/"])


def checked_file(value: str, allow: AllowList) -> FileSource:
    source = check(value, FIELD, allow)
    assert isinstance(source, FileSource)
    return source


def refused(value: str, allow: AllowList, plain_paths: bool = False) -> str:
    with pytest.raises(InvalidInput) as info:
        check(value, FIELD, allow, plain_paths)
    assert info.value.field == FIELD
    return info.value.problem


# ---- file paths -------------------------------------------------------------------------


def test_an_allow_listed_file_is_read(folder: Path, allow: AllowList) -> None:
    for uri in (
        f"file://{folder}/a.wav",
        f"file://localhost{folder}/a.wav",
        f"file:{folder}/a.wav",
    ):
        source = checked_file(uri, allow)
        assert source == FileSource(str(folder / "a.wav"))
        assert read_file(source, FIELD, allow, 1024) == b"RIFF....WAVE"


def test_the_reported_traversal_is_refused(tmp_path: Path) -> None:
    """The issue's case: allow-list file:///.../media/ and a sibling folder media_private."""
    (tmp_path / "media").mkdir()
    (tmp_path / "media_private").mkdir()
    (tmp_path / "media_private" / "x").write_bytes(b"secret")
    allow = AllowList.parse([f"file://{tmp_path}/media/"])
    assert "segments" in refused(f"file://{tmp_path}/media/../media_private/x", allow)
    # A sibling whose name merely starts with the folder's name is not inside it.
    assert "not inside" in refused(f"file://{tmp_path}/media_private/x", allow)


@pytest.mark.parametrize(
    "template",
    [
        "file://{m}/%2e%2e/private/secret.wav",
        "file://{m}/%2E%2E/private/secret.wav",
        "file://{m}/.%2e/private/secret.wav",
        "file://{m}%2f..%2fprivate/secret.wav",
        "file://{m}/sub/../../private/secret.wav",
        "file://{m}/./a.wav",
    ],
)
def test_dot_segments_are_refused_encoded_or_not(
    folder: Path, allow: AllowList, template: str
) -> None:
    assert "segments" in refused(template.format(m=folder), allow)


@pytest.mark.parametrize(
    "value, why",
    [
        ("file://evil.example{m}/a.wav", "this machine"),
        ("file://127.0.0.1{m}/a.wav", "this machine"),
        ("file:///etc/passwd", "not inside"),
        ("file:////etc/passwd", "absolute"),
        ("file://{m}/a.wav?x=1", "query"),
        ("file://{m}/a%00.wav", "NUL"),
        ("ftp://example.org/a.wav", "unsupported scheme"),
        ("gopher://127.0.0.1/", "unsupported scheme"),
        ("{m}/a.wav", "must be a file://"),
        ("", "non-empty"),
        ("file://{m}/a .wav", "percent-encoded"),
        ("file://{m}/a\n.wav", "control"),
    ],
)
def test_file_uri_forms_that_are_refused(
    folder: Path, allow: AllowList, value: str, why: str
) -> None:
    assert why in refused(value.format(m=folder), allow)


def test_plain_paths_only_where_allowed_and_absolute(folder: Path, allow: AllowList) -> None:
    assert check(str(folder / "a.wav"), FIELD, allow, plain_paths=True) == FileSource(
        str(folder / "a.wav")
    )
    assert "absolute" in refused("media/a.wav", allow, plain_paths=True)
    assert "segments" in refused(f"{folder}/../private/secret.wav", allow, plain_paths=True)


def test_a_symlink_out_of_the_folder_is_refused_when_read(folder: Path, allow: AllowList) -> None:
    for name in ("link.wav", "escape/secret.wav"):
        source = checked_file(f"file://{folder}/{name}", allow)  # syntactically inside
        with pytest.raises(InvalidInput, match="outside the allow-listed"):
            read_file(source, FIELD, allow, 1024)


def test_a_symlinked_allow_listed_folder_works_by_either_name(tmp_path: Path, folder: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(folder, target_is_directory=True)
    allow = AllowList.parse([f"file://{alias}"])  # no trailing slash either
    for base in (alias, folder):
        source = checked_file(f"file://{base}/a.wav", allow)
        assert read_file(source, FIELD, allow, 1024) == b"RIFF....WAVE"


def test_a_file_swapped_for_a_symlink_after_the_check_is_refused(
    folder: Path, allow: AllowList
) -> None:
    (folder / "swap.wav").write_bytes(b"ok")
    source = checked_file(f"file://{folder}/swap.wav", allow)
    (folder / "swap.wav").unlink()
    (folder / "swap.wav").symlink_to(folder.parent / "private" / "secret.wav")
    with pytest.raises(InvalidInput, match="outside"):
        read_file(source, FIELD, allow, 1024)


def test_only_regular_files_are_read(folder: Path, allow: AllowList) -> None:
    os.mkfifo(folder / "pipe.wav")  # opening a FIFO for reading would block forever
    for name in ("pipe.wav", "sub"):
        with pytest.raises(InvalidInput, match="not a regular file"):
            read_file(checked_file(f"file://{folder}/{name}", allow), FIELD, allow, 1024)


def test_a_file_over_the_limit_and_a_missing_file(folder: Path, allow: AllowList) -> None:
    with pytest.raises(InvalidInput, match="larger than 4 bytes"):
        read_file(FileSource(str(folder / "a.wav")), FIELD, allow, 4)
    with pytest.raises(InvalidInput, match="cannot be read: no such file") as info:
        read_file(FileSource(str(folder / "gone.wav")), FIELD, allow, 1024)
    assert str(folder) not in str(info.value)  # errors do not say where things live


def test_nothing_is_readable_with_an_empty_allow_list(folder: Path) -> None:
    assert "not inside" in refused(f"file://{folder}/a.wav", AllowList.parse([]))
    assert "allow-list" in refused("https://media.example/a.wav", AllowList.parse([""]))


def test_unusable_allow_list_entries_are_ignored() -> None:
    allow = AllowList.parse(
        ["ftp://x/", "file://server/share/", "https://u:p@media.example/", "file:relative", " "]
    )
    assert allow == AllowList()


# ---- http(s) prefixes -------------------------------------------------------------------

HTTP = AllowList.parse(["https://media.example/public/", "http://127.0.0.1:8080"])


@pytest.mark.parametrize(
    "uri",
    [
        "https://media.example/public/a.mp4",
        "HTTPS://Media.Example/public/a.mp4",
        "https://media.example:443/public/sub/a.mp4?sig=abc",
        "https://media.example/public/a%20b.mp4",
        "https://media.example/public",
        "http://127.0.0.1:8080/anything",
    ],
)
def test_http_uris_inside_a_prefix(uri: str) -> None:
    source = check(uri, FIELD, HTTP)
    assert isinstance(source, HttpSource) and "#" not in source.url and "@" not in source.url


@pytest.mark.parametrize(
    "uri, why",
    [
        ("https://media.example.evil/public/a.mp4", "allow-list"),  # host boundary
        ("https://media.example/publicity/a.mp4", "allow-list"),  # path boundary
        ("https://media.example/private/a.mp4", "allow-list"),
        ("http://media.example/public/a.mp4", "allow-list"),  # scheme
        ("https://media.example:8443/public/a.mp4", "allow-list"),  # port
        ("http://127.0.0.1:8081/a", "allow-list"),
        ("http://127.0.0.1/a", "allow-list"),
        ("https://media.example@evil.example/public/a.mp4", "user name"),
        ("https://media.example#@evil.example/public/a.mp4", "allow-list"),
        ("https://media.example%40evil.example/public/a.mp4", "allow-list"),
        ("https://user:pw@media.example/public/a.mp4", "user name"),
        ("https://media.example/public/../private/a.mp4", "segments"),
        ("https://media.example/public/%2e%2e/private/a.mp4", "segments"),
        ("https://media.example/public/..%2fprivate/a.mp4", "encoded"),
        ("https://media.example/public%2F..%2Fprivate/a.mp4", "encoded"),
        ("https://media.example/public/a%5c..%5cb", "encoded"),
        ("https://media.example\\@evil.example/public/", "backslash"),
        ("https:///public/a.mp4", "no host"),
        ("https://media.example:99999/public/a.mp4", "not a valid URI"),
        ("https://[::1/public/a.mp4", "not a valid URI"),
    ],
)
def test_http_uris_that_are_refused(uri: str, why: str) -> None:
    assert why in refused(uri, HTTP)


def test_tenant_metadata_is_printable_ascii() -> None:
    assert tenant_metadata("") == ()
    ((key, value),) = tenant_metadata("acmé corp\n")
    assert (
        key == "x-veritas-tenant" and value.isascii() and value.isprintable() and " " not in value
    )


# ---- fetching over http -----------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[MediaServer]:
    with MediaServer({"a.mp4": b"video bytes", "secret.mp4": b"secret"}, trickle_s=0.1) as s:
        yield s


def served(server: MediaServer) -> AllowList:
    return AllowList.parse([f"{server.base}/media/"])


async def get(server: MediaServer, path: str, limit: int = 1 << 20, timeout_s: float = 10) -> bytes:
    allow = served(server)
    return await fetch(check(server.base + path, FIELD, allow), FIELD, allow, limit, timeout_s)


async def test_an_allow_listed_url_is_fetched(server: MediaServer) -> None:
    assert await get(server, "/media/a.mp4") == b"video bytes"


async def test_a_redirect_inside_the_allow_list_is_followed(server: MediaServer) -> None:
    assert await get(server, "/media/redirect?to=/media/a.mp4") == b"video bytes"


@pytest.mark.parametrize(
    "target",
    [
        "/private/secret.mp4",  # same host, outside the prefix
        "http://localhost:{port}/media/a.mp4",  # another host name for the same server
        "http://127.0.0.1:1/media/a.mp4",  # another port
        "file:///etc/passwd",
        "/media/%2e%2e/private/secret.mp4",
    ],
)
async def test_a_redirect_outside_the_allow_list_is_refused(
    server: MediaServer, target: str
) -> None:
    with pytest.raises(InvalidInput, match="redirected outside"):
        await get(server, "/media/redirect?to=" + target.format(port=server.port))
    assert not any(r.startswith("/private/") for r in server.requests)  # never followed


async def test_redirect_loops_end(server: MediaServer) -> None:
    with pytest.raises(InvalidInput, match="more than 3 redirects"):
        await get(server, "/media/loop")
    assert server.requests.count("/media/loop") == 4


async def test_http_errors(server: MediaServer) -> None:
    with pytest.raises(InvalidInput, match="answered 404"):
        await get(server, "/media/missing.mp4")
    with pytest.raises(MediaUnavailable, match="answered 503") as info:
        await get(server, "/media/status?code=503")
    assert not info.value.timed_out


async def test_an_unreachable_server_is_unavailable_without_its_address() -> None:
    allow = AllowList.parse(["http://127.0.0.1:1/"])
    with pytest.raises(MediaUnavailable) as info:
        await fetch(check("http://127.0.0.1:1/a", FIELD, allow), FIELD, allow, 1024, 5)
    assert "127.0.0.1" not in str(info.value)


@pytest.mark.parametrize("path", ["/media/big", "/media/chunked-big"])
async def test_an_oversized_body_is_refused_while_streaming(server: MediaServer, path: str) -> None:
    with pytest.raises(InvalidInput, match="larger than 1048576 bytes"):
        await get(server, path, limit=1 << 20)


async def test_a_trickling_server_is_bounded_by_the_total_deadline(server: MediaServer) -> None:
    """A byte every 0.1 s: every single read is quick, so only a total deadline ends it."""
    started = time.monotonic()
    with pytest.raises(MediaUnavailable, match="not fetched within 1.0 s") as info:
        await get(server, "/media/trickle", timeout_s=1.0)
    assert info.value.timed_out
    assert time.monotonic() - started < 5  # bounded by the deadline, not by the 1 MB body
    # ... and the connection was closed.
    assert await asyncio.to_thread(server.wait_for, lambda s: s.trickle_closed == 1)


async def test_cancelling_a_fetch_hangs_up_at_once(server: MediaServer) -> None:
    task = asyncio.create_task(get(server, "/media/trickle", timeout_s=300))
    assert await asyncio.to_thread(server.wait_for, lambda s: s.trickling == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Well before the 300 s deadline: the server sees the client gone.
    assert await asyncio.to_thread(server.wait_for, lambda s: s.trickle_closed == 1, 10)


async def test_fetches_are_capped_per_tenant_and_tenants_are_independent(
    server: MediaServer,
) -> None:
    slots = TenantSlots(2)

    async def fetch_as(tenant: str, path: str, timeout_s: float) -> bytes:
        async with slots.hold(tenant):
            return await get(server, path, timeout_s=timeout_s)

    stuck = [asyncio.create_task(fetch_as("acme", "/media/trickle", 300)) for _ in range(4)]
    assert await asyncio.to_thread(server.wait_for, lambda s: s.trickling == 2)
    # acme's third and fourth fetch wait for a slot; beta's goes ahead at once.
    assert await asyncio.wait_for(fetch_as("beta", "/media/a.mp4", 10), 10) == b"video bytes"
    assert server.trickle_started == 2
    for task in stuck:
        task.cancel()
    await asyncio.gather(*stuck, return_exceptions=True)
    assert server.max_trickling == 2
    assert slots._gates == {}  # idle tenants are forgotten
