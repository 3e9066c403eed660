"""The desk's strings of the article page (/desk/articles/<id>): approval and editing, in English, German and French;
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
