"""decoding.py: which evidence wins, and that text never passes unflagged."""

from __future__ import annotations

import codecs
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributor.errors import ParseError
from distributor.ingest.decoding import decode

RU = "Бишкек продолжает расти: каждый год в столицу переезжают тысячи людей из горных сёл.\n"
DE = "Die Dörfer im Tian-Schan schrumpfen: Junge Menschen ziehen nach Bischkek, die Älteren bleiben.\n"


def page(charset: str, body: str, encoding: str) -> bytes:
    return f'<html><head><meta charset="{charset}"></head><body><p>{body}</p></body></html>'.encode(encoding)


def test_a_declared_charset_that_decodes_cleanly_is_used_without_a_warning():
    for charset in ("windows-1251", "koi8-r"):
        text, warnings = decode(page(charset, RU, charset), "a.html", html=True)
        assert RU in text and warnings == []


def test_a_wrong_declaration_loses_to_detection_and_says_so():
    text, warnings = decode(page("windows-1251", RU, "koi8-r"), "a.html", html=True)
    assert RU in text
    assert warnings == ["encoding: not valid UTF-8 and the declared 'windows-1251' does not decode it; "
                        "detected as koi8-r"]


def test_utf8_bytes_declared_latin1_are_read_as_utf8():
    text, warnings = decode(page("iso-8859-1", DE, "utf-8"), "a.html", html=True)
    assert DE in text
    assert warnings == ["encoding: read as UTF-8; the declared charset 'iso-8859-1' does not fit the bytes"]


def test_double_encoded_utf8_is_kept_but_flagged():
    text, warnings = decode(DE.encode("utf-8").decode("latin-1").encode("utf-8"), "a.txt")
    assert "DÃ¶rfer" in text
    assert any("may be garbled" in w and "UTF-8 sequences read as single bytes" in w for w in warnings)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_text(encoding):
    for sample in (DE, RU):
        text, warnings = decode(sample.encode(encoding), "a.txt")
        assert text == sample and "no byte-order mark" in warnings[0]


def test_a_latin1_text_beginning_with_y_thorn_is_not_utf16():
    data = ("ÿþ" + DE).encode("latin-1")
    for extra in (b"", b"x"):  # odd and even lengths
        text, _ = decode(data + extra, "a.txt")
        assert text.startswith("ÿþDie Dörfer")


def test_nul_bytes_that_are_not_utf16_are_binary():
    with pytest.raises(ParseError, match="a.txt: binary file"):
        decode(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 8, "a.txt")


def test_decoding_a_large_file_costs_little():
    data = (DE * 60_000).encode("utf-8")  # ~6 MB
    started = time.perf_counter()
    text, warnings = decode(data, "big.txt")
    assert time.perf_counter() - started < 2 and warnings == []
    data = (DE * 60_000).encode("cp1252")
    started = time.perf_counter()
    text, warnings = decode(data, "big.txt")
    assert time.perf_counter() - started < 3 and "windows-1252" in warnings[0]


FR = "À Douchanbé, l’été est brûlant ; les marchés ferment à midi.\n"


@pytest.mark.parametrize("utf8_parts, cp1252_parts", [(1, 1), (3, 1), (1, 3)])
def test_a_document_mixing_utf8_and_cp1252_reads_both_right_and_says_so(utf8_parts, cp1252_parts):
    # A feed whose items were pasted from different editors: some UTF-8, some
    # windows-1252. Neither half may become mojibake (it once read as cp1250).
    data = b"".join([(DE + FR).encode("utf-8")] * utf8_parts + [(FR + DE).encode("cp1252")] * cp1252_parts)
    text, warnings = decode(data, "feed.xml", xml=True)
    assert text == (DE + FR) * utf8_parts + (FR + DE) * cp1252_parts
    assert any("windows-1252" in w and "mixed" in w for w in warnings), warnings


@pytest.mark.parametrize("encoding", ["utf-32-le", "utf-32-be"])
def test_utf32_without_bom_is_text(encoding):
    for sample in (DE, RU):
        text, warnings = decode(sample.encode(encoding), "a.txt")
        assert text == sample and "no byte-order mark" in warnings[0]


# ------------------------------------------------- shortcuts that must not change an answer

_PIECES = [b"a", b"Z ", b"\n", b"\t", b"\r", b"\x00", b"\x01", b"\x08", b"\x0b", b"\x0c", b"\x1f", b"\x7f",
           "ü".encode(), "Ã¼".encode(), "€".encode(), "€".encode("cp1252"), b"\x81", b"\x9d", b"\xff",
           b"\xc3", b"\xe2\x82", "Ð¿".encode(), "Щ".encode(), codecs.BOM_UTF8, "\U0001F600".encode()]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=60), st.booleans())
def test_counting_control_characters_from_the_bytes_is_the_regex_count(pieces, bom):
    """decode() counts control characters from the bytes when the text is
    their UTF-8 reading (strict, with replacements, mixed with windows-1252):
    the same count the regex gives on the text, whatever the bytes."""
    data = (codecs.BOM_UTF8 if bom else b"") + b"".join(pieces)
    from distributor.ingest import decoding

    found = decoding._from_bom(data) or decoding._from_utf8(data, None)
    if found is None:
        return
    text, encoding, _ = found
    assert decoding._controls(text, data, encoding) == len(decoding._CONTROLS.findall(text, 0, 65536))
    assert bool(any(c in text for c in "ÃâÐÑ")) or not decoding._MOJIBAKE.search(text)
