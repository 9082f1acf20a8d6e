"""A small server following plik's documented HTTP API, for testing the plik
upload handlers (no real plik server can be installed here: plik ships as a
Go binary from GitHub, outside the package registries).

What it implements, after plik's API documentation:
- ``POST /upload`` with a JSON body (``ttl``, ``oneShot``) answers
  ``{"id": UPLOAD_ID, "uploadToken": TOKEN, ...}``;
- ``POST /file/{upload id}`` with the ``X-UploadToken`` header and the file as
  multipart field ``file`` answers ``{"id": FILE_ID, "fileName": NAME, ...}``;
- ``GET /file/{upload id}/{file id}/{file name}`` returns the bytes; a
  one-shot upload's file is gone after its first download (404).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class PlikServer:
    """Runs on a free loopback port until `stop()` or the end of a `with`."""

    def __init__(self, token: str | None = None) -> None:
        self.uploads: dict[str, dict] = {}
        self.files: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.requests: list[tuple[str, str]] = []
        self.token = token
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: bytes = b"", kind: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, value: dict) -> None:
                self._answer(200, json.dumps(value).encode(), "application/json")

            def do_POST(self) -> None:
                server.requests.append(("POST", self.path))
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if server.token and self.headers.get("X-PlikToken") != server.token:
                    return self._answer(403, b"bad token")
                parts = self.path.strip("/").split("/")
                if parts == ["upload"]:
                    options = json.loads(body or b"{}")
                    upload_id = uuid.uuid4().hex[:16]
                    token = uuid.uuid4().hex
                    server.uploads[upload_id] = {**options, "uploadToken": token}
                    return self._json({"id": upload_id, "uploadToken": token, **options})
                if len(parts) == 2 and parts[0] == "file" and parts[1] in server.uploads:
                    upload = server.uploads[parts[1]]
                    if self.headers.get("X-UploadToken") != upload["uploadToken"]:
                        return self._answer(403, b"bad upload token")
                    name, data = multipart_file(self.headers["Content-Type"], body)
                    file_id = uuid.uuid4().hex[:16]
                    server.files[(parts[1], file_id)] = (name, data)
                    return self._json({"id": file_id, "fileName": name, "fileSize": len(data)})
                return self._answer(404, b"no such upload")

            def do_GET(self) -> None:
                server.requests.append(("GET", self.path))
                parts = self.path.strip("/").split("/")
                if len(parts) == 4 and parts[0] == "file":
                    key = (parts[1], parts[2])
                    found = server.files.get(key)
                    if found and urllib.parse.unquote(parts[3]) == found[0]:
                        if server.uploads[parts[1]].get("oneShot"):
                            del server.files[key]
                        return self._answer(200, found[1], "application/octet-stream")
                return self._answer(404, b"not found")

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(10)

    def __enter__(self) -> PlikServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def multipart_file(content_type: str, body: bytes) -> tuple[str, bytes]:
    """The file name and bytes of the multipart field ``file``."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    for part in body.split(b"--" + boundary):
        head, _, data = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            name = head.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
            return name, data[: -len(b"\r\n")] if data.endswith(b"\r\n") else data
    raise ValueError("no file field in the form")
