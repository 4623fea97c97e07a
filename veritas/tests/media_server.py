"""A real HTTP media server on 127.0.0.1 for tests: good files, redirects, a server that
trickles one byte at a time, oversized bodies. It counts connections so tests can assert
what a client did (how many fetches ran at once, whether a cancelled fetch hung up)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-answer is what several tests do on purpose."""


class MediaServer:
    """Routes (GET):
    /media/<name>            the file <name> from `files`
    /media/redirect?to=URL   302 to URL (relative or absolute)
    /media/loop              302 to itself
    /media/trickle           200, Content-Length 1 MB, then one byte every `trickle_s`
    /media/big               200, Content-Length 10 MB, body streamed in 64 KiB chunks
    /media/chunked-big       200, chunked, no length, endless 64 KiB chunks
    /media/status?code=N     an empty answer with status N
    /private/<name>          the file too (outside the allow-listed /media/ prefix)
    """

    def __init__(self, files: dict[str, bytes] | None = None, trickle_s: float = 0.2) -> None:
        self.files = dict(files or {})
        self.trickle_s = trickle_s
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.trickling = 0  # trickle connections open now
        self.max_trickling = 0
        self.trickle_started = 0
        self.trickle_closed = 0  # trickle connections the client hung up
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                path, _, query = self.path.partition("?")
                if path in ("/media/redirect", "/media/loop"):
                    self.send_response(302)
                    self.send_header("Location", query.removeprefix("to=") or path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path == "/media/trickle":
                    server._trickle(self)
                elif path == "/media/big":
                    self._endless(10 << 20)
                elif path == "/media/chunked-big":
                    self._endless(None)
                elif path == "/media/status":
                    self.send_response(int(query.removeprefix("code=")))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path.startswith(("/media/", "/private/")):
                    data = server.files.get(path.rsplit("/", 1)[1])
                    if data is None:
                        self.send_error(404)
                        return
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_error(404)

            def _endless(self, length: int | None) -> None:
                self.send_response(200)
                if length is None:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                block = b"\0" * 65536
                try:
                    for _ in range(1000):
                        if server.stopping.is_set():
                            return
                        if length is None:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                        else:
                            self.wfile.write(block)
                except OSError:
                    return

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _trickle(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.trickling += 1
            self.trickle_started += 1
            self.max_trickling = max(self.max_trickling, self.trickling)
        try:
            handler.send_response(200)
            handler.send_header("Content-Length", str(1 << 20))
            handler.end_headers()
            handler.wfile.flush()
            while not self.stopping.is_set():
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(self.trickle_s)
        except OSError:
            with self.lock:
                self.trickle_closed += 1
        finally:
            with self.lock:
                self.trickling -= 1

    def wait_for(self, predicate, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self.lock:
                if predicate(self):
                    return True
            time.sleep(0.02)
        return False

    def __enter__(self) -> MediaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def media_folder(root: Path, sample: bytes = b"RIFF....WAVE") -> Path:
    """root/media (allow-listed in tests) with a.wav, a symlink out, and root/private."""
    folder, private = root / "media", root / "private"
    folder.mkdir()
    private.mkdir()
    (folder / "a.wav").write_bytes(sample)
    (private / "secret.wav").write_bytes(b"secret")
    (folder / "link.wav").symlink_to(private / "secret.wav")
    (folder / "sub").mkdir()
    (folder / "escape").symlink_to(private, target_is_directory=True)
    return folder
