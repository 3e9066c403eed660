"""Local network misbehaviour for the adapters' error tables: a port nothing
listens on, a listener that never completes a connection (the request never
leaves: a connect timeout), and a server that reads the whole request and
then resets the connection (the request left; the answer never came)."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import pytest


@pytest.fixture
def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def blackhole_port():
    """A listener whose backlog is full: a new connection's SYN is dropped."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fill = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fill.append(c)
    yield port
    for c in fill:
        c.close()
    srv.close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


@pytest.fixture
def resetting_port():
    """Reads each request in full, then answers with a TCP reset."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    _read_request(conn)
                except OSError:
                    pass
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join(2)
    srv.close()


def fault(control, **f) -> None:
    r = control.post("/_sandbox/faults", json=f)
    assert r.status_code < 300, r.text


def raised(channel, call) -> BaseException | None:
    """What `call(channel)` (a coroutine) raised, or None; the channel is closed
    either way. Each row of an adapter's error table asserts on this."""
    async def go():
        try:
            await call(channel)
        except BaseException as exc:  # noqa: BLE001 - the row asserts what came out
            return exc
        finally:
            await channel.aclose()
        return None

    return asyncio.run(go())
