"""The digest's sender: one thread of its own that posts the batches' request
bodies, one at a time, and the next one right after an answer.

The send loop (newsletter/digest.py) prepares batch n + 1 while batch n's
request runs: its row committed `sending` (store/digest_batches.py), its
tokens, its body. It hands it over with `then`. When n's answer comes, the
sender checks in its own thread, on its own database connection, that the send
is not stopping and that nobody of n + 1 left since it was read, and if so
posts n + 1 at once: no round trip through the event loop between two
requests. Whatever else happens (an error, a stop, a leaver, the next batch
not ready yet) goes back to the loop, which decides as before: `Answer.chained`
says whether the next request is already on its way.

So the order is the loop's: a request starts only after its batch was
committed `sending` and every earlier batch was answered, and the loop records
a batch sent only after its answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Coroutine

from distributor.metrics import counted


@dataclass
class Answer:
    message_id: str
    chained: bool  # the batch handed over with `then` is posted already (its future answers it)


class Sender:
    """`start(body)` starts a request and returns the blocking wait for its
    answer (the message id, or the channel's DeliveryError raised), which the
    sender's thread calls. The newsletter channel's post is all in the wait; a
    coroutine channel's is a task on the loop, made by `start` (on the loop's
    thread for `post`, on the sender's for a batch posted right after an
    answer, before that answer is handed back: either way it starts before the
    loop prepares the next batch). `ready(batch)`, in the sender's thread, says
    whether the next batch may go out right after an answer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, channel: str, start: Callable[[Any], Callable[[], str]],
                 ready: Callable[[Any], bool]):
        self._loop, self._channel, self._start, self._ready = loop, channel, start, ready
        self._work: queue.SimpleQueue[tuple[Callable[[], str], asyncio.Future[Answer]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._in_flight = False
        self._next: tuple[Any, Any, asyncio.Future[Answer]] | None = None  # (batch, body, its future)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"{channel} sender", daemon=True)
        self._thread.start()

    def post(self, body: Any) -> asyncio.Future[Answer]:
        """Post `body` now (nothing is in flight): started here, on the loop's
        thread, and waited for in the sender's."""
        fut: asyncio.Future[Answer] = self._loop.create_future()
        with self._lock:
            self._in_flight, self._next = True, None
        try:
            wait = self._start(body)
        except BaseException:
            with self._lock:
                self._in_flight = False
            raise
        self._work.put((wait, fut))
        return fut

    def then(self, batch: Any, body: Any) -> asyncio.Future[Answer] | None:
        """Hand over the next batch, to be posted as soon as the request in
        flight is answered (if `ready(batch)`); its future, or None when the
        answer came already (the loop posts it itself)."""
        fut: asyncio.Future[Answer] = self._loop.create_future()
        with self._lock:
            if not self._in_flight or self._closed:
                return None
            self._next = (batch, body, fut)
        return fut

    def close(self) -> None:
        """No further post; a request in flight is left to end (its answer is
        not awaited, as a cancelled request's is not)."""
        with self._lock:
            self._closed, self._next = True, None
        self._work.put(None)

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            wait, fut = item
            while True:
                try:
                    message_id = counted(self._channel, _answer, wait)
                except BaseException as exc:  # noqa: BLE001 - handed to the loop, which decides
                    self._failed(fut, exc)
                    break
                with self._lock:
                    # Taken and decided in one hold of the lock: once nothing is handed
                    # over, the request is no longer in flight, so a `then` from now on
                    # returns None and the loop posts that batch itself (never both).
                    nxt, self._next = self._next, None
                    if nxt is None or self._closed:
                        nxt, self._in_flight = None, False
                go = False
                if nxt is not None:
                    try:
                        go = self._ready(nxt[0])
                    except Exception:  # noqa: BLE001 - the loop checks again, and reports what fails
                        go = False
                    with self._lock:
                        self._in_flight = go = go and not self._closed
                if not go or nxt is None:
                    self._settle(fut, Answer(message_id, chained=False))
                    break
                _, body, next_fut = nxt
                try:
                    wait = self._start(body)
                except BaseException as exc:  # noqa: BLE001
                    self._settle(fut, Answer(message_id, chained=True))
                    self._failed(next_fut, exc)
                    break
                self._settle(fut, Answer(message_id, chained=True))
                fut = next_fut

    def _failed(self, fut: asyncio.Future[Answer], exc: BaseException) -> None:
        with self._lock:
            self._in_flight, self._next = False, None
        self._settle(fut, exc)

    def _settle(self, fut: asyncio.Future[Answer], outcome: Answer | BaseException) -> None:
        def done() -> None:
            if fut.done():
                return
            if isinstance(outcome, BaseException):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(done)


async def posted(sender: Sender, body: Any) -> asyncio.Future[Answer]:
    """`sender.post(body)`, and one turn of the loop: a coroutine channel's
    request starts (its task's first step) before the caller goes on."""
    request = sender.post(body)
    await asyncio.sleep(0)
    return request


def _answer(wait: Callable[[], str]) -> str:
    return wait()


def on_loop(loop: asyncio.AbstractEventLoop, call: Coroutine[Any, Any, str]) -> Callable[[], str]:
    """A coroutine channel's request as a task on the loop, and the blocking
    wait for its answer. Made on the loop's thread, the task is scheduled at
    once (it runs before the send loop's next step); from the sender's, it is
    handed to the loop."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not loop:
        return asyncio.run_coroutine_threadsafe(call, loop).result
    done: concurrent.futures.Future[str] = concurrent.futures.Future()
    loop.create_task(call).add_done_callback(lambda task: _copy(task, done))
    return done.result


def _copy(task: asyncio.Future[str], to: concurrent.futures.Future[str]) -> None:
    """A finished task's outcome, for the thread that waits for it."""
    if task.cancelled():
        to.set_exception(asyncio.CancelledError())
    elif (exc := task.exception()) is not None:
        to.set_exception(exc)
    else:
        to.set_result(task.result())
