"""Small HTTP helpers shared by the emulators: body parsing and JSON answers."""

from __future__ import annotations

import functools
import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response


@dataclass
class Upload:
    """A file part of a multipart body, read into memory."""

    filename: str
    content_type: str
    data: bytes

    def describe(self) -> dict[str, Any]:
        return {"file": self.filename, "content_type": self.content_type, "size": len(self.data)}


class BodyError(ValueError):
    pass


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj), status_code=status, headers=headers, media_type="application/json")


async def read_params(request: Request, *, max_file_bytes: int = 60 * 2**20) -> dict[str, Any]:
    """Query string, then a form, multipart or JSON body, as one flat dict.
    A client that hung up before its body arrived is a BodyError, not a crash."""
    try:
        return await _read_params(request, max_file_bytes=max_file_bytes)
    except ClientDisconnect:
        raise BodyError("the client disconnected before sending its body") from None


async def _read_params(request: Request, *, max_file_bytes: int) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params) if request.url.query else {}
    ctype = request.headers.get("content-type", "")
    if request.method in ("GET", "HEAD"):
        return params
    if ctype.startswith("application/x-www-form-urlencoded"):
        body = await request.body()
        if body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif ctype.startswith("multipart/form-data"):
        async with request.form(max_part_size=16 * 2**20) as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    if len(data) > max_file_bytes:
                        raise BodyError("file too large")
                    params[key] = Upload(value.filename or key, value.content_type or "", data)
                else:
                    params[key] = value
    elif ctype.startswith("application/json"):
        body = await request.body()
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise BodyError(str(exc)) from None
            if not isinstance(data, dict):
                raise BodyError("the JSON body must be an object")
            params.update(data)
    return params


def loggable(params: dict[str, Any]) -> dict[str, Any]:
    """Params for the request log: uploads described, not stored."""
    return {k: (v.describe() if isinstance(v, Upload) else v) for k, v in params.items()}


@functools.lru_cache(maxsize=1)
def placeholder_png(width: int = 640, height: int = 360) -> bytes:
    """A plain grey PNG: what the sandbox shows and serves instead of a remote
    image, which it never fetches (GET /_sandbox/placeholder.png)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = (b"\x00" + b"\xc8\xc8\xc8" * width) * height
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """(mime type, width, height) of a PNG, JPEG, GIF or WebP image, else None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return "image/png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return "image/gif", int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        kind = data[12:16]
        if kind == b"VP8X":
            return "image/webp", 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if kind == b"VP8 ":
            return "image/webp", int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
        if kind == b"VP8L":
            b = int.from_bytes(data[21:25], "little")
            return "image/webp", (b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1
        return None
    if data[:3] == b"\xff\xd8\xff":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h = int.from_bytes(data[i + 5:i + 7], "big")
                w = int.from_bytes(data[i + 7:i + 9], "big")
                return "image/jpeg", w, h
            i += 2 + length
        return None
    return None
