"""The desk's strings of the health page (/desk/health) and what went out (/desk/sent), in English, German and French;
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
