"""Helpers shared by the sandbox tests (a unique module name: tests/ has no packages)."""

import asyncio
import struct
import zlib


def run(coro):
    return asyncio.run(coro)


def png(width: int = 2, height: int = 1) -> bytes:
    """A valid PNG of the given size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
