"""Bytes to text, for article files and feed documents alike.

The order of evidence, strongest first:

1. a byte-order mark (UTF-8, UTF-16, UTF-32), when what follows really reads
   as text in it (a latin-1 file may begin with "ÿþ", which is FF FE);
2. NUL bytes: UTF-16 or UTF-32 without a BOM when they fall in the pattern of its
   code units, otherwise a binary file;
3. the declared charset (HTTP Content-Type, <?xml encoding?>, <meta charset>),
   when the bytes decode in it cleanly and the text passes the sanity check;
4. valid UTF-8 (also: mostly UTF-8 with some bytes that are not, which
   are read as windows-1252: a document of mixed encodings);
5. charset-normalizer's detection, with windows-1252 preferred among the
   Western single-byte code pages that read the bytes equally well (WHATWG
   reads "latin-1" as windows-1252 too); a Western code page with UTF-8
   letters among its bytes is read as mixed, like 4.

Text that still looks garbled (mojibake, a wrong guess) is kept but flagged
with a warning on the article; it is never stored silently.
"""

from __future__ import annotations

import codecs
import re

from distributor.errors import ParseError

# charset-normalizer's own default threshold for "this decoding is a mess".
MESS_THRESHOLD = 0.2
# The sanity check reads samples, never a whole large file (it is pure Python).
_SAMPLE_CHARS = 4096

_HTML_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\bencoding\s*=\s*["']([\w.:-]+)["']""")
_TAG = re.compile(r"<[^<>]*>")
_SPACES = re.compile(r"\s+")
_BYTE_TAG = re.compile(rb"<[^<>]*>")
_BYTE_SPACES = re.compile(rb"\s+")
_DETECT_SAMPLE_BYTES = 64 * 1024
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes(range(0x00, 0x09)) + b"\x0b" + bytes(range(0x0e, 0x20)) + b"\x7f"
_SLICE = 1 << 20
_ESCAPED = re.compile("[\udc80-\udcff]")
# UTF-8 read as windows-1252 or latin-1 ("Ã¼" for "ü", "â€™" for "’", "Ð¿" for "п").
_MOJIBAKE = re.compile("Ã[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u2122]"
                       "|â€[\u0080-\u00bf\u0153\u02dc\u2013-\u2122]|[ÐÑ][\u0080-\u00bf\u2013-\u2122]")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# The legacy encodings of the WHATWG Encoding Standard (what browsers read):
# detection chooses among these, not among DOS or old Mac code pages.
_WEB_ENCODINGS = ["cp866", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_5", "iso8859_6", "iso8859_7",
                  "iso8859_8", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "koi8_r",
                  "koi8_u", "mac_roman", "cp874", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255",
                  "cp1256", "cp1257", "cp1258", "mac_cyrillic", "gb18030", "big5", "euc_jp", "iso2022_jp",
                  "shift_jis", "euc_kr"]
_UTF8 = frozenset({"utf_8", "utf_8_sig"})
_WESTERN = frozenset({"cp1252", "latin_1", "iso8859_15", "cp1250", "iso8859_2", "cp1257", "iso8859_4",
                      "iso8859_13", "cp1254", "iso8859_9", "mac_roman", "cp850", "cp437"})
_DISPLAY = {"cp1250": "cp1250 (windows-1250)", "cp1251": "cp1251 (windows-1251)",
            "cp1252": "cp1252 (windows-1252)", "latin_1": "latin-1 (ISO-8859-1)", "koi8_r": "koi8-r",
            "koi8_u": "koi8-u", "utf_16_le": "UTF-16LE", "utf_16_be": "UTF-16BE", "utf_8": "UTF-8",
            "utf_32_le": "UTF-32LE", "utf_32_be": "UTF-32BE"}


def declared_charset(data: bytes, *, html: bool = False, xml: bool = False) -> str | None:
    """The charset the document names for itself, if any: a feed by its XML
    declaration (a <meta> inside an item's content is not the feed's), a page
    by <meta charset> or <meta http-equiv>."""
    head = data[:4096]
    m = _XML_ENCODING.match(head) if xml else _HTML_CHARSET.search(head) if html else None
    return m.group(1).decode("ascii", "replace") if m else None


def decode(data: bytes, where: str, *, html: bool = False, declared: str | None = None,
           xml: bool = False) -> tuple[str, list[str]]:
    """(text, warnings). Raises ParseError naming `where` for an empty or
    binary file; never UnicodeDecodeError."""
    if not data or data.isspace():  # (not data.strip(): that copies a whole feed)
        raise ParseError(f"{where}: empty file")
    declared = declared or declared_charset(data, html=html, xml=xml)
    found = _from_bom(data) or _from_nul_pattern(data, where)
    if found is None:
        found = _from_declared(data, declared) or _from_utf8(data, declared) or _detected(data, declared)
    text, encoding, warnings = found
    if _controls(text, data, encoding) > max(3, min(len(text), 65536) // 50):
        raise ParseError(f"{where}: binary file, not an article")
    if "\x00" in text:
        text = text.replace("\x00", "")
        warnings.append("encoding: NUL characters removed")
    flag = garbled(text, encoding)
    if flag:
        warnings.append(f"encoding: the text may be garbled ({flag}) after decoding as {display(encoding)}; "
                        "check the article before it goes out")
    return text, warnings


def _controls(text: str, data: bytes, encoding: str) -> int:
    """How many control characters the first 64 K characters of the text
    hold. Read as UTF-8 (strictly, with replacements, or with stray bytes as
    windows-1252), each of them is one byte of the same value and no other
    byte becomes one: bytes without any mean a text without any, which a C
    translate tells faster than the regex scan (a slice at a time: no copy
    of a whole feed)."""
    if codecs.lookup(encoding).name == "utf-8" and not any(
            len(part) != len(part.translate(None, _CONTROL_BYTES))
            for part in (data[at:at + _SLICE] for at in range(0, len(data), _SLICE))):
        return 0
    return len(_CONTROLS.findall(text, 0, 65536))


def display(encoding: str) -> str:
    name = codecs.lookup(encoding).name.replace("-", "_")
    return _DISPLAY.get(name, encoding)


def garbled(text: str, encoding: str) -> str | None:
    """Why the text fails the sanity check, or None when it passes."""
    if text.count("\ufffd") > max(3, len(text) // 200):
        return f"{text.count(chr(0xfffd))} undecodable characters"
    # (Every match starts with one of these letters: most texts hold none and skip the scan.)
    mojibake = len(_MOJIBAKE.findall(text, 0, 1 << 20)) if any(c in text for c in "ÃâÐÑ") else 0
    if mojibake >= 2:
        return f"{mojibake} UTF-8 sequences read as single bytes"
    if codecs.lookup(encoding).name.replace("-", "_") in _UTF8 or text.isascii():
        return None  # valid UTF-8 is not a guess; mojibake was the check that matters
    ratio = _mess(text)
    return f"mess ratio {ratio:.2f}" if ratio > MESS_THRESHOLD else None


def _mess(text: str) -> float:
    """charset-normalizer's mess ratio over the text without its markup (ASCII
    tags dilute a garbled page), on samples from the start and the middle."""
    from charset_normalizer.md import mess_ratio

    ratios = []
    for start in {0, max(0, len(text) // 2 - 2 * _SAMPLE_CHARS)}:
        sample = _TAG.sub(" ", text[start:start + 4 * _SAMPLE_CHARS])
        if not sample.isascii():
            ratios.append(mess_ratio(_SPACES.sub(" ", sample)[:_SAMPLE_CHARS]))
    return max(ratios, default=0.0)


# ---------------------------------------------------------------- evidence

Found = tuple[str, str, list[str]]


def _from_bom(data: bytes) -> Found | None:
    for bom, encoding in _BOMS:
        if not data.startswith(bom):
            continue
        body = data[len(bom):]
        unit = 4 if "32" in encoding else 2 if "16" in encoding else 1
        cut = len(body) % unit
        warnings = []
        if cut:
            body = body[:-cut]
            warnings.append(f"encoding: the {display(encoding)} text ends in a truncated character "
                            f"({cut} byte(s) dropped)")
        text = body.decode(encoding, "replace")
        if "\ufffd" in text:
            warnings.append(f"encoding: {text.count(chr(0xfffd))} invalid {display(encoding)} unit(s) replaced")
        if unit == 1 or (text.strip() and not garbled(text, encoding)):
            return text, encoding, warnings
        return None  # "ÿþ" at the start of a latin-1 file: not UTF-16 at all
    return None


def _from_nul_pattern(data: bytes, where: str) -> Found | None:
    """UTF-16 without a BOM: ASCII letters, spaces and newlines put a NUL in
    every other byte. Any other NUL bytes in the first 8 KiB mean binary."""
    head = data[:8192]
    if b"\x00" not in head:
        return None
    quarters = len(head) // 4
    zeros = [head[i::4].count(0) for i in range(4)]
    # UTF-32: two NULs in every code unit (the high bytes of any BMP letter).
    for encoding, high, low in (("utf-32-le", (2, 3), 0), ("utf-32-be", (0, 1), 3)):
        if quarters >= 2 and all(zeros[i] * 20 >= quarters * 19 for i in high) and zeros[low] * 20 <= quarters:
            text = data[: len(data) - len(data) % 4].decode(encoding, "replace")
            if not garbled(text, encoding):
                warnings = [f"encoding: no byte-order mark; read as {display(encoding)}"]
                if len(data) % 4:
                    warnings.append("encoding: the text ends in a truncated character "
                                    f"({len(data) % 4} byte(s) dropped)")
                return text, encoding, warnings
    even, odd = head[0::2].count(0), head[1::2].count(0)
    # Lopsided: all the NULs on one side of the code units.
    for encoding, nuls, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if nuls >= 2 and others * 20 <= nuls:
            body = data[: len(data) - len(data) % 2]
            text = body.decode(encoding, "replace")
            if not garbled(text, encoding):
                warnings = [f"encoding: no byte-order mark; read as {display(encoding)}"]
                if len(data) % 2:
                    warnings.append("encoding: the text ends in a truncated character (1 byte dropped)")
                return text, encoding, warnings
    raise ParseError(f"{where}: binary file, not an article")


def _from_declared(data: bytes, declared: str | None) -> Found | None:
    if not declared:
        return None
    try:
        encoding = codecs.lookup(declared).name
    except LookupError:
        return None
    if encoding.replace("-", "_") in _UTF8 or "16" in encoding or "32" in encoding:
        return None  # UTF-8 is tried next anyway; a declared UTF-16 without BOM/NULs is a lie
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    if not text.isascii() and (_MOJIBAKE.search(text) or garbled(text, encoding)):
        return None  # e.g. UTF-8 bytes declared as iso-8859-1: even one "Ã¼" says so
    return text, encoding, []


def _from_utf8(data: bytes, declared: str | None) -> Found | None:
    note = f"; the declared charset {declared!r} does not fit the bytes" if declared and not _is_utf8(declared) else ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return text, "utf-8", [f"encoding: read as UTF-8{note}"] if note and not text.isascii() else []
    # Mostly UTF-8 with some bytes that are not: a document of mixed encodings
    # (a feed whose items came from different editors) or a few pasted
    # windows-1252 characters. Re-reading it all as one code page would garble
    # every UTF-8 letter, so keep UTF-8 and read only the stray bytes as cp1252.
    valid, invalid = _utf8_counts(data)
    if valid >= 2 and valid >= invalid:
        return _mixed(data, invalid, note)
    return None


def _utf8_counts(data: bytes) -> tuple[int, int]:
    """(valid multi-byte UTF-8 sequences, bytes that are not UTF-8) in data."""
    text = data.decode("utf-8", "surrogateescape")
    invalid = len(text) - len(_ESCAPED.sub("", text))
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return non_ascii - invalid, invalid


def _mixed(data: bytes, invalid: int, note: str = "") -> Found:
    text = data.decode("utf-8", "distributor-cp1252")
    return text, "utf-8", [f"encoding: {invalid} invalid UTF-8 byte(s) read as windows-1252 "
                           f"(mixed encodings){note}; check the article"]


def _cp1252_bytes(exc: UnicodeError) -> tuple[str, int]:
    """codecs error handler: the bytes UTF-8 refuses, read as windows-1252."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(bytes([b]).decode("cp1252", "replace") for b in bad), exc.end


codecs.register_error("distributor-cp1252", _cp1252_bytes)


def _detected(data: bytes, declared: str | None) -> Found:
    """charset-normalizer on the words that hold non-ASCII bytes (markup and
    ASCII words say nothing about the code page and dilute its measures), then
    the whole document decoded in what it found."""
    import charset_normalizer

    why = f"the declared {declared!r} does not decode it" if declared else "no charset declared"
    sample = _BYTE_SPACES.sub(b" ", _BYTE_TAG.sub(b" ", data[: 4 * _DETECT_SAMPLE_BYTES]))[:_DETECT_SAMPLE_BYTES]
    best = charset_normalizer.from_bytes(sample, cp_isolation=_WEB_ENCODINGS).best() if sample else None
    if best is None or best.encoding in _WESTERN:
        # A Western code page (or none found), and yet UTF-8 letters among its
        # bytes: mostly windows-1252 with some UTF-8 parts, which no single
        # code page reads both.
        valid, invalid = _utf8_counts(data)
        if valid >= 2 and valid * 10 >= invalid:
            return _mixed(data, invalid, f"; {why}")
    if best is None:
        # Undecidable: cp1252 reads nearly every byte; the sanity check flags it.
        encoding = "cp1252"
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            encoding, text = "latin-1", data.decode("latin-1")
        return text, encoding, [f"encoding: not valid UTF-8 and {why}; decoded as {display(encoding)} (a guess)"]
    encoding = best.encoding
    if encoding in _WESTERN and encoding != "cp1252":
        # For Western European text these code pages read the same letters;
        # cp1252 is what unlabelled legacy text nearly always is.
        try:
            if _mess(sample.decode("cp1252")) <= _mess(str(best)) + 0.01:
                encoding = "cp1252"
        except UnicodeDecodeError:
            pass
    warnings = [f"encoding: not valid UTF-8 and {why}; detected as {display(encoding)}"]
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        text = data.decode(encoding, "replace")
        warnings.append(f"encoding: {text.count(chr(0xfffd))} byte(s) not valid in {display(encoding)} replaced")
    return text, encoding, warnings


def _is_utf8(name: str) -> bool:
    try:
        return codecs.lookup(name).name.replace("-", "_") in _UTF8
    except LookupError:
        return False
