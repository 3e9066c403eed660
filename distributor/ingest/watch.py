"""Has anything in a folder tree changed since I last asked? (Linux inotify)

A folder source polled every second stats each of its files at every poll;
for 10,000 files that alone is a tenth of a core. The kernel can say instead
whether anything was created, written, moved, deleted or touched: when
nothing was, the poll skips the scan. The scan stays the truth: the watch is
only a hint that says "scan now", never which file changed, and the pipeline
still scans every FULL_SCAN_SECONDS in case an event was lost (a network
file system, an overflowing queue is reported as a change).

Where inotify is not available (another OS, the watch limit reached), `open`
gives None and every poll scans.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger("distributor.ingest")

_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_MASK = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE
         | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF)

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.inotify_init1.argtypes = [ctypes.c_int]
        _libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    return _libc


class FolderWatch:
    def __init__(self, fd: int):
        self.fd = fd
        self.watched: set[str] = set()
        self.broken = False  # a watch could not be added: the hint is not to be trusted

    @classmethod
    def open(cls) -> FolderWatch | None:
        if not sys.platform.startswith("linux"):
            return None
        try:
            fd = _lib().inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        except (OSError, AttributeError):
            return None
        return cls(fd) if fd >= 0 else None

    def add(self, folder: str) -> None:
        """Watch one directory (not recursive: the scan adds each subfolder,
        before listing it, so nothing created in it meanwhile is missed)."""
        if folder in self.watched:
            return
        if _lib().inotify_add_watch(self.fd, os.fsencode(folder), _MASK) < 0:
            err = ctypes.get_errno()
            if not self.broken:
                log.info("cannot watch %s (%s): the folder is scanned at every poll", folder, os.strerror(err))
            self.broken = True
            return
        self.watched.add(folder)

    def changed(self) -> bool:
        """Whether any event came since the last call (reads them all)."""
        any_event = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                return True
            if not data:
                break
            any_event = True
        if any_event:
            # Deleted folders lose their watches; the next scan adds back the ones that exist.
            self.watched.clear()
        return any_event or self.broken

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:  # a Store never closed must not leak the descriptor
        try:
            self.close()
        except OSError:
            pass
