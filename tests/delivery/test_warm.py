"""A worker builds its channels' clients before it registers (Dispatcher.warm):
the Telegram library imported and its HTTP client made at start, not on the
first send, and nothing sent doing so. A channel whose config is broken is
left for its first delivery to report, as before."""

from __future__ import annotations

import asyncio

from distributor.channels import social_channels
from distributor.delivery import Dispatcher
from distributor.errors import ConfigurationError
from distributor.ingest.pipeline import ingest
from distributor.store import Store

from support import sent, with_channel


def test_warm_builds_every_social_channel_and_sends_nothing(sb_settings, clock, control):
    with Store.open(sb_settings) as store:
        d = Dispatcher(sb_settings, store, clock=clock, sleep=clock.sleep, worker="w")
        try:
            built = d.warm()
            names = [name for name, _ in social_channels(sb_settings)]
            assert built == names and {"de.telegram", "de.twitter"} <= set(built)
            assert set(d._channels) == set(names)
            assert sent(control, "telegram") == [] and sent(control, "x") == []
        finally:
            asyncio.run(d.aclose())


def test_a_channel_that_cannot_be_built_is_left_to_its_first_delivery(sb_settings, clock, control, monkeypatch,
                                                                    caplog):
    monkeypatch.delenv("DISTRIBUTOR_TEST_UNSET_TOKEN", raising=False)
    settings = with_channel(sb_settings, "de.telegram", mode="live", token_env="DISTRIBUTOR_TEST_UNSET_TOKEN")
    with Store.open(settings) as store:
        ingest(settings, store, now=clock())
        d = Dispatcher(settings, store, clock=clock, sleep=clock.sleep, worker="w")
        try:
            built = d.warm()
            assert "de.telegram" not in built and "de.twitter" in built
            assert "de.telegram not built ahead" in caplog.text and "DISTRIBUTOR_TEST_UNSET_TOKEN" in caplog.text
            # The delivery still reports it, as it did before warm() existed: the loop stops on a broken config.
            telegram = next(x.id for x in store.deliveries(status="pending") if x.channel == "de.telegram")
            try:
                asyncio.run(d.deliver(telegram))
            except ConfigurationError as exc:
                assert "DISTRIBUTOR_TEST_UNSET_TOKEN" in str(exc)
            else:
                raise AssertionError("the broken channel was not reported")
            assert store.outbox.get(telegram).status == "pending"
        finally:
            asyncio.run(d.aclose())
