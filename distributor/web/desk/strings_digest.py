"""The desk's strings of the digest page (/desk/digest), in English, German and French;
strings.py merges them into the desk's one table (templates see `w.<key>`)."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "en": {
    },
    "de": {
    },
    "fr": {
    },
}
