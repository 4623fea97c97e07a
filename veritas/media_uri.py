"""Media named by URI or path: the one place that decides what may be read, and reads it.

Both fusion (a request's `video.uri`, `audio.uri`) and the gateway's old API (`video_path`,
`audio_path`) use it, so both refuse the same things. VERITAS_MEDIA_URI_ALLOWLIST lists
prefixes; a caller's value is accepted only when:

- `file:///folder/...` (or `file://localhost/...`, or a plain absolute path where allowed):
  the path, percent-decoded once, has no `.`/`..` segments, and after every symlink is
  resolved it lies inside a listed folder (os.path.commonpath, not a string prefix). The
  opened file is checked again (Linux: /proc/self/fd) so a symlink swapped in between does
  not escape, and it must be a regular file. Other hosts (`file://server/...`) are refused.
- `http(s)://host[:port]/path`: same scheme, host and port as a listed prefix, and the path
  inside the prefix's path at a `/` boundary. No user name or password (`https://a@b/`), no
  encoded `/`, `\\` or NUL, no dot segments. A redirect is followed only to a URI that passes
  the same check (at most MAX_REDIRECTS hops).

Reads are capped in size while they stream (never buffered whole first) and bounded in total
time by the caller's deadline, not per read: a server trickling one byte at a time cannot
hold a fetch longer than that. Remote fetches are asyncio (httpx), so a slow server holds a
socket, not a thread; local files are read on a small dedicated pool.

Errors: InvalidInput naming the field (the caller can fix it: INVALID_ARGUMENT) or
MediaUnavailable (the media source is slow or failing: the modality is TIMED_OUT or FAILED).
Messages never echo paths, addresses or exception class names.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import stat
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from urllib.parse import quote, unquote, unquote_to_bytes, urljoin, urlsplit, urlunsplit

from veritas.analysis import InvalidInput
from veritas.config import env

log = logging.getLogger("veritas.media_uri")

MAX_REDIRECTS = 3
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = {301, 302, 303, 307, 308}
# gRPC metadata the gateway sets on its calls to fusion: the caller's tenant, so fusion can
# cap media fetches per tenant (docs/gateway.md).
TENANT_METADATA = "x-veritas-tenant"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_FILE_READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="media-file")


class MediaUnavailable(Exception):
    """The media could not be had in time or the server failed: not the caller's mistake."""

    def __init__(self, field: str, problem: str, timed_out: bool = False) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
        self.timed_out = timed_out


# ---- the allow-list ---------------------------------------------------------------------


@dataclass(frozen=True)
class Folder:
    path: str  # absolute, normalised as written
    resolved: str = ""  # its realpath when the list was read: for the I/O-free check only

    def real(self) -> str:
        """The realpath now (reading a file checks against this, never the cached one)."""
        return os.path.realpath(self.path)


@dataclass(frozen=True)
class Prefix:
    scheme: str
    host: str
    port: int
    path: str  # percent-decoded, always ending in "/"


@dataclass(frozen=True)
class AllowList:
    folders: tuple[Folder, ...] = ()
    prefixes: tuple[Prefix, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Entries that cannot be understood are ignored with a warning: fail closed."""
        folders: list[Folder] = []
        prefixes: list[Prefix] = []
        for raw in (e.strip() for e in entries):
            if not raw:
                continue
            try:
                entry = _parse_entry(raw)
            except ValueError as e:
                log.warning("media allow-list entry ignored", extra={"fields": {"why": str(e)}})
                continue
            if isinstance(entry, Folder):
                folders.append(entry)
            else:
                prefixes.append(entry)
        return cls(tuple(folders), tuple(prefixes))

    @classmethod
    def from_env(cls) -> AllowList:
        return _from_env(env("VERITAS_MEDIA_URI_ALLOWLIST"))

    def folder_of(self, path: str) -> Folder | None:
        """The listed folder that contains `path` (already resolved), if any."""
        for folder in self.folders:
            if _inside(path, folder.real()):
                return folder
        return None


@lru_cache(maxsize=8)
def _from_env(raw: str) -> AllowList:
    return AllowList.parse(raw.split(","))


def _parse_entry(raw: str) -> Folder | Prefix:
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc.lower() not in ("", "localhost"):
            raise ValueError("file prefixes must name this machine (file:///folder/)")
        path = os.fsdecode(unquote_to_bytes(parts.path))
        if not os.path.isabs(path) or "\x00" in path:
            raise ValueError("file prefixes need an absolute folder")
        return Folder(os.path.normpath(path), os.path.realpath(path))
    if scheme in DEFAULT_PORTS:
        if "@" in parts.netloc or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("http(s) prefixes are scheme://host[:port]/path/ only")
        path = unquote(parts.path or "/")
        return Prefix(scheme, parts.hostname, parts.port or DEFAULT_PORTS[scheme], _slash(path))
    raise ValueError(f"unsupported scheme {scheme!r}")


def _slash(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # one relative, one absolute
        return False


# ---- checking a caller's value (no I/O) -------------------------------------------------


@dataclass(frozen=True)
class FileSource:
    path: str  # absolute and normalised; resolved (symlinks) when read


@dataclass(frozen=True)
class HttpSource:
    url: str  # rebuilt from its checked parts (no user info, no fragment)
    host: str
    port: int


Source = FileSource | HttpSource


def check(value: str, field: str, allow: AllowList, plain_paths: bool = False) -> Source:
    """Where `value` points, if the allow-list admits it; InvalidInput naming `field` if not.
    Touches no file and no network: call it before charging or fanning out. `plain_paths`
    also accepts an absolute path without a scheme (the gateway's old API)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must be a non-empty URI")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidInput(field, "contains control characters")
    if not _SCHEME.match(value):
        if plain_paths:
            return _file(value, field, allow)
        raise InvalidInput(field, "must be a file:// or http(s):// URI")
    if " " in value or "\\" in value:
        raise InvalidInput(field, "spaces and backslashes must be percent-encoded in a URI")
    scheme = value.split(":", 1)[0].lower()
    if scheme == "file":
        return _file_uri(value, field, allow)
    if scheme in DEFAULT_PORTS:
        return _http_uri(value, field, allow)
    raise InvalidInput(field, f"unsupported scheme {scheme!r}: use file:// or http(s)://")


def _file_uri(value: str, field: str, allow: AllowList) -> FileSource:
    parts = urlsplit(value)
    if parts.netloc.lower() not in ("", "localhost"):
        raise InvalidInput(field, "file URIs must name this machine (file:///path)")
    if parts.query or parts.fragment:
        raise InvalidInput(field, "file URIs take no query or fragment")
    return _file(os.fsdecode(unquote_to_bytes(parts.path)), field, allow)


def _file(path: str, field: str, allow: AllowList) -> FileSource:
    if "\x00" in path:
        raise InvalidInput(field, "contains a NUL character")
    if not os.path.isabs(path) or path.startswith("//"):
        raise InvalidInput(field, "must be an absolute path inside an allow-listed media folder")
    if {".", ".."} & set(path.split("/")):
        raise InvalidInput(field, "must not contain . or .. segments")
    normalised = os.path.normpath(path)
    if not any(
        _inside(normalised, f.path) or _inside(normalised, f.resolved or f.path)
        for f in allow.folders
    ):
        raise InvalidInput(field, "is not inside an allow-listed media folder")
    return FileSource(normalised)


def _http_uri(value: str, field: str, allow: AllowList) -> HttpSource:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as e:
        raise InvalidInput(field, "is not a valid URI") from e
    if "@" in parts.netloc:
        raise InvalidInput(field, "URIs with a user name or password are not accepted")
    host = parts.hostname or ""
    if not host:
        raise InvalidInput(field, "names no host")
    scheme = parts.scheme.lower()
    path = parts.path or "/"
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered or "%00" in lowered:
        raise InvalidInput(field, "encoded '/', '\\' or NUL in the path are not accepted")
    decoded = unquote(path)
    if {".", ".."} & set(decoded.split("/")):
        raise InvalidInput(field, "must not contain . or .. segments")
    effective = port or DEFAULT_PORTS[scheme]
    if not any(
        p.scheme == scheme
        and p.host == host
        and p.port == effective
        and (decoded.startswith(p.path) or decoded == p.path.rstrip("/"))
        for p in allow.prefixes
    ):
        raise InvalidInput(field, "is not in the media URI allow-list")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return HttpSource(urlunsplit((scheme, netloc, path, parts.query, "")), host, effective)


# ---- reading ----------------------------------------------------------------------------


def read_file(source: FileSource, field: str, allow: AllowList, limit: int) -> bytes:
    """The file's bytes (at most `limit`), if its real path lies in a listed folder.
    Blocking: call it from a worker thread (read_local does)."""
    real = os.path.realpath(source.path)
    folder = allow.folder_of(real)
    if folder is None:
        raise InvalidInput(field, "resolves outside the allow-listed media folders")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as e:
        raise InvalidInput(field, f"cannot be read: {_why(e)}") from e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(field, "is not a regular file")
        proc = f"/proc/self/fd/{fd}"
        if os.path.exists(proc) and not _inside(os.readlink(proc), folder.real()):
            raise InvalidInput(field, "resolves outside the allow-listed media folders")
        if info.st_size > limit:
            raise InvalidInput(field, f"larger than {limit} bytes")
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise InvalidInput(field, f"larger than {limit} bytes")
        return b"".join(chunks)
    except OSError as e:
        raise InvalidInput(field, f"cannot be read: {_why(e)}") from e
    finally:
        os.close(fd)


def _why(e: OSError) -> str:
    """The reason without the path (errors must not tell callers where things live)."""
    return (e.strerror or "I/O error").lower()


async def read_local(
    source: FileSource, field: str, allow: AllowList, limit: int, timeout_s: float
) -> bytes:
    """read_file on the media pool, given up after `timeout_s` (a hung file system)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            return await loop.run_in_executor(_FILE_READS, read_file, source, field, allow, limit)
    except TimeoutError:
        raise MediaUnavailable(field, f"not read within {timeout_s:.1f} s", True) from None


async def fetch(
    source: Source, field: str, allow: AllowList, limit: int, timeout_s: float
) -> bytes:
    """The media's bytes, at most `limit`, within `timeout_s` in total (connect, redirects,
    every read). Cancelling the caller closes the connection at once."""
    if isinstance(source, FileSource):
        return await read_local(source, field, allow, limit, timeout_s)
    import httpx

    try:
        async with asyncio.timeout(timeout_s):
            return await _fetch_http(source, field, allow, limit, timeout_s)
    except (TimeoutError, httpx.TimeoutException):
        raise MediaUnavailable(field, f"not fetched within {timeout_s:.1f} s", True) from None
    except httpx.HTTPError:
        raise MediaUnavailable(field, "the media server could not be reached") from None


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


async def _fetch_http(
    source: HttpSource, field: str, allow: AllowList, limit: int, timeout_s: float
) -> bytes:
    import httpx

    # One client per fetch: no pool shared with other fetches that a slow server could fill.
    # No proxies from the environment, no redirects followed by httpx (checked here).
    async with httpx.AsyncClient(
        follow_redirects=False, trust_env=False, verify=_tls(), timeout=timeout_s
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                url = httpx.URL(source.url)
            except httpx.InvalidURL:
                raise InvalidInput(field, "is not a valid URI") from None
            if url.host != source.host or (url.port or DEFAULT_PORTS[url.scheme]) != source.port:
                raise InvalidInput(field, "is not a valid URI")  # parsers disagree: refuse
            headers = {"Accept-Encoding": "identity"}
            async with client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status in REDIRECTS:
                    source = _redirect(source, response.headers.get("location", ""), field, allow)
                    continue
                if 400 <= status < 500:
                    raise InvalidInput(field, f"cannot be read: the media server answered {status}")
                if status != 200:
                    raise MediaUnavailable(field, f"the media server answered {status}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise InvalidInput(field, f"larger than {limit} bytes")
                chunks, size = [], 0
                async for chunk in response.aiter_raw():  # raw: no decompression bombs
                    size += len(chunk)
                    if size > limit:
                        raise InvalidInput(field, f"larger than {limit} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
    raise InvalidInput(field, f"more than {MAX_REDIRECTS} redirects")


def _redirect(source: HttpSource, location: str, field: str, allow: AllowList) -> HttpSource:
    """The next hop, if it passes the same allow-list check as the first."""
    if not location:
        raise MediaUnavailable(field, "the media server sent a redirect without a location")
    try:
        target = check(urljoin(source.url, location), field, allow)
    except InvalidInput:
        raise InvalidInput(field, "redirected outside the media URI allow-list") from None
    if not isinstance(target, HttpSource):
        raise InvalidInput(field, "redirected outside the media URI allow-list")
    return target


# ---- how many fetches at once -----------------------------------------------------------


class TenantSlots:
    """At most `per_tenant` fetches at once per tenant; a tenant's further fetches wait
    (within their own deadline) while other tenants' go ahead."""

    def __init__(self, per_tenant: int) -> None:
        self.per_tenant = max(1, per_tenant)
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, tenant: str) -> AsyncIterator[None]:
        gate = self._gates.setdefault(tenant, asyncio.Semaphore(self.per_tenant))
        self._users[tenant] = self._users.get(tenant, 0) + 1
        try:
            async with gate:
                yield
        finally:
            self._users[tenant] -= 1
            if not self._users[tenant]:  # forget idle tenants: the map cannot grow forever
                del self._users[tenant], self._gates[tenant]


def tenant_metadata(tenant: str) -> tuple[tuple[str, str], ...]:
    """The gateway's tenant as gRPC metadata (printable ASCII, whatever the claim held)."""
    return ((TENANT_METADATA, quote(tenant, safe="")),) if tenant else ()
