"""The summary `run --once` prints: one line per channel and state, with the
articles' titles shortened at a word, never in the middle of one."""

from distributor.app import where_it_went
from distributor.ingest.pipeline import ingest


def test_titles_are_cut_at_a_word_with_an_ellipsis(settings, store, clock):
    ingest(settings, store, now=clock())
    lines = where_it_went(store, settings)
    en = next(line for line in lines if line.lstrip().startswith("en.telegram"))
    assert "(Kyrgyzstan's glaciers are melting faster than…)" in en, en
    assert "expe)" not in en
