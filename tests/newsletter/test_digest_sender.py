"""The digest's sender thread on its own (newsletter/digest_sender.py): a batch
handed over in time goes out right after the answer before it, and only then;
anything else is left to the loop, and nothing is ever posted twice."""

from __future__ import annotations

import asyncio
import threading

import pytest

from distributor.errors import TransientDeliveryError
from distributor.newsletter.digest_sender import Sender


class Script:
    """Posts that record their body; each waits for its own go-ahead."""

    def __init__(self, fail: tuple[str, ...] = ()):
        self.posted: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.fail = fail

    def gate(self, body: str) -> threading.Event:
        return self.gates.setdefault(body, threading.Event())

    def start(self, body: str):
        def wait() -> str:
            assert self.gate(body).wait(10)
            self.posted.append(body)
            if body in self.fail:
                raise TransientDeliveryError("503", channel="t", status_code=503)
            return f"id-{body}"
        return wait


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("ready", [True, False])
def test_a_batch_handed_over_in_time_goes_out_after_the_answer_unless_not_ready(ready):
    script = Script()

    async def main():
        sender = Sender(asyncio.get_running_loop(), "t", script.start, lambda batch: ready)
        try:
            a = sender.post("A")
            b = sender.then("B", "B")
            assert b is not None
            script.gate("A").set()
            first = await a
            assert first.message_id == "id-A" and first.chained is ready
            if ready:
                script.gate("B").set()
                assert (await b).message_id == "id-B"
            else:
                assert not b.done()  # left to the loop, which posts it itself
                again = sender.post("B")
                script.gate("B").set()
                assert (await again).chained is False
        finally:
            sender.close()

    run(main())
    assert script.posted == ["A", "B"]


def test_a_batch_handed_over_after_the_answer_is_left_to_the_loop():
    script = Script()

    async def main():
        sender = Sender(asyncio.get_running_loop(), "t", script.start, lambda batch: True)
        try:
            a = sender.post("A")
            script.gate("A").set()
            assert (await a).chained is False
            assert sender.then("B", "B") is None  # too late: nothing in flight
            c = sender.post("C")  # and no stale hand-over follows a later answer
            script.gate("C").set()
            assert (await c).chained is False
        finally:
            sender.close()

    run(main())
    assert script.posted == ["A", "C"]


def test_a_failed_request_hands_its_error_to_the_loop_and_posts_nothing_after_it():
    script = Script(fail=("A",))

    async def main():
        sender = Sender(asyncio.get_running_loop(), "t", script.start, lambda batch: True)
        try:
            a = sender.post("A")
            assert sender.then("B", "B") is not None
            script.gate("A").set()
            with pytest.raises(TransientDeliveryError):
                await a
            retry = sender.post("A2")  # the loop's retry
            script.gate("A2").set()
            assert (await retry).message_id == "id-A2"
        finally:
            sender.close()

    run(main())
    assert script.posted == ["A", "A2"]


def test_after_close_the_batch_handed_over_is_not_posted():
    script = Script()

    async def main():
        sender = Sender(asyncio.get_running_loop(), "t", script.start, lambda batch: True)
        a = sender.post("A")
        assert sender.then("B", "B") is not None
        sender.close()  # the loop was cancelled with A in flight
        script.gate("A").set()
        script.gate("B").set()
        assert (await a).chained is False
        sender._thread.join(10)
        assert not sender._thread.is_alive()

    run(main())
    assert script.posted == ["A"]
