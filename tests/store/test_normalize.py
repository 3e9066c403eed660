"""normalize_email's fast path for plain addresses agrees with email-validator."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings, strategies as st

from distributor.store.subscribers import InvalidAddress, _plain, normalize_email


def slow(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@pytest.mark.parametrize("address", [
    "Reader@Example.ORG", "a.b+c@sub.example.co.uk", "x@ex--ample.com", "x@xn--bcher-kva.example",
    "a..b@x.com", "x@a.test", "x@sub.example.invalid", "x@localhost", "x@a.b1", "-x@a-b.com",
    "x@-a.com", "x@a-.com", "o'brien@example.ie", "{x}@example.com", "x" * 65 + "@example.com",
    "x@" + "a" * 64 + ".com", "müller@example.de", "x@bücher.example", "x@example.onion",
])
def test_the_fast_path_accepts_only_what_email_validator_accepts_the_same_way(address):
    fast = _plain(address)
    if fast is not None:
        assert fast == slow(address)
    expected = slow(address)
    if expected is None:
        with pytest.raises(InvalidAddress):
            normalize_email(address)
    else:
        assert normalize_email(address) == expected


local = st.text(alphabet="abcXYZ09.!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=70)
label = st.text(alphabet="abzAZ09-", min_size=1, max_size=12)


@settings(max_examples=400, deadline=None)
@given(local, st.lists(label, min_size=1, max_size=3), st.sampled_from(["com", "ORG", "test", "de", "x1", "io"]))
def test_the_fast_path_agrees_with_email_validator(lp, labels, tld):
    address = f"{lp}@{'.'.join(labels)}.{tld}"
    fast = _plain(address)
    if fast is not None:
        assert fast == slow(address)
