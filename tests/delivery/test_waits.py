"""How long a 429 says to wait, from the headers each provider sends."""

import datetime as dt

from distributor.channels.base import wait_from_headers

NOW = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)


def test_retry_after_in_seconds_or_as_a_date_wins_over_the_reset_header():
    reset = str(int(NOW.timestamp()) + 900)
    assert wait_from_headers({"Retry-After": "7", "x-rate-limit-reset": reset}, "x-rate-limit-reset", now=NOW) == 7
    assert wait_from_headers({"Retry-After": "Fri, 14 Mar 2025 09:00:30 GMT"}, "X-RateLimit-Reset", now=NOW) == 30


def test_the_epoch_reset_header_and_the_fallbacks():
    reset = str(int(NOW.timestamp()) + 42)
    assert wait_from_headers({"x-rate-limit-reset": reset}, "x-rate-limit-reset", now=NOW) == 42
    assert wait_from_headers({"X-RateLimit-Reset": reset}, "x-ratelimit-reset", now=NOW) == 42
    past = str(int(NOW.timestamp()) - 5)
    assert wait_from_headers({"x-rate-limit-reset": past}, "x-rate-limit-reset", now=NOW) == 1.0
    assert wait_from_headers({}, "x-rate-limit-reset", now=NOW) == 60.0
    assert wait_from_headers({"Retry-After": "soon"}, "x-rate-limit-reset", now=NOW, default=5) == 5
