"""The sandbox's request log stays bounded: every call counted, the last ones
listed, only the last BODIES_KEPT with their body (a digest to a million
readers must not make the sandbox hold gigabytes)."""

from __future__ import annotations

from distributor.sandbox.core import RequestLog


def test_bodies_are_kept_for_the_last_n_calls_and_every_call_is_counted():
    log = RequestLog(maxlen=50, bodies=5)
    for i in range(120):
        log.add("sendgrid", "POST /v3/mail/send", "/sendgrid/v3/mail/send", float(i), {"n": i}, status=202)
    log.add("sendgrid", "POST /v3/mail/send", "/sendgrid/v3/mail/send", 0.0, None, status=429)
    entries = log.select("sendgrid")
    assert len(entries) == 49  # the 50 listed include the refused one
    assert [e["body"]["n"] for e in entries if e["body"] is not None] == [115, 116, 117, 118, 119]
    assert all(e.get("body_dropped") for e in entries if e["body"] is None)
    assert log.total("sendgrid") == 120 and log.total("sendgrid", accepted_only=False) == 121
    assert log.total("telegram") == 0
    log.clear()
    assert log.select() == [] and log.total() == 0


def test_the_http_log_reports_the_total(sandbox, control):

    control.delete("/_sandbox/requests")
    control.post("/_sandbox/ping")
    data = control.get("/_sandbox/requests").json()
    assert data["count"] == len(data["requests"]) and data["total"] == data["count"]


def test_a_json_body_is_kept_as_received_not_as_containers_for_the_collector_to_walk():
    """Two hundred parsed Mail Send bodies were over a million containers that
    each full collection of the sandbox walked; kept as bytes, they are none,
    and read back they are the bodies posted."""
    import gc
    import json

    log = RequestLog(maxlen=50, bodies=20)
    body = {"personalizations": [{"to": [{"email": f"r{i}@example.org"}], "headers": {"X": str(i)}}
                                 for i in range(1000)]}
    raw = json.dumps(body).encode()
    gc.collect()
    before = len(gc.get_objects())
    for i in range(20):
        log.add("sendgrid", "POST /v3/mail/send", "/sendgrid/v3/mail/send", float(i), json.loads(raw), status=202,
                raw=raw)
    gc.collect()
    assert len(gc.get_objects()) - before < 1000  # not 20 bodies × 3,000 containers
    entries = log.select("sendgrid")
    assert len(entries) == 20 and all(e["body"] == body for e in entries)
    for i in range(20):  # older bodies dropped as before
        log.add("sendgrid", "POST /v3/mail/send", "/sendgrid/v3/mail/send", 0.0, {"n": i}, status=202)
    assert all(e["body"] is None and e["body_dropped"] for e in log.select("sendgrid")[:20])
