"""Identity follows the article, not only its path: a renamed or moved file,
a second copy, a shared front-matter id or url, a feed item whose link
changed. Real ingest on a temporary folder, delivered to the sandbox: what
was posted is never posted again."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from distributor.config import load_settings
from distributor.ingest.pipeline import ingest
from distributor.store import Store
from support import drain, sent

SEED = "de-kasachstan-china-ukraine.txt"
FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"


def posts(control) -> list[dict]:
    """Every post the sandbox accepted: Telegram messages and photos, tweets."""
    calls = (sent(control, "telegram", "sendMessage") + sent(control, "telegram", "sendPhoto")
             + sent(control, "x", "/2/tweets"))
    return sorted((c["seq"], c["path"]) for c in calls)


def poll(settings, store, clock, source: str = "articles"):
    (report,) = ingest(settings, store, source_name=source, now=clock())
    assert report.ok, report.error
    return report


def by_key(store) -> dict[str, int]:
    return {a.key: a.id for a in store.list_articles()}


def article_md(body: str, **front: str) -> str:
    meta = {"title": "Ein Dorf im Tian-Schan", "language": "de", **front}
    head = "".join(f"{k}: {v}\n" for k, v in meta.items())
    return (f"---\n{head}---\n\n{body}\n\n"
            "Folgt uns auf Telegram: https://t.me/novastan_de_example\n")


@pytest.mark.parametrize("new_path", ["de-kasachstan-china-ukraine-2.txt", "archiv/2025/" + SEED])
def test_a_posted_file_renamed_or_moved_is_the_same_article_and_not_posted_again(
        sb_settings, store, control, clock, articles_dir, new_path):
    poll(sb_settings, store, clock)
    drain(sb_settings, store, clock)
    before = posts(control)
    article_id = by_key(store)[SEED]
    assert {d.channel for d in store.deliveries(article_id=article_id, status="sent")} == {
        "de.telegram", "de.twitter"}
    count = len(store.list_articles())

    target = articles_dir / new_path
    target.parent.mkdir(parents=True, exist_ok=True)
    (articles_dir / SEED).rename(target)
    report = poll(sb_settings, store, clock)
    drain(sb_settings, store, clock)

    assert posts(control) == before
    assert len(store.list_articles()) == count and by_key(store)[new_path] == article_id
    # Nothing cancelled: the file did not go away, it moved.
    assert {d.status for d in store.deliveries(article_id=article_id)} <= {"sent", "pending", "skipped"}
    assert [d.channel for d in store.deliveries(article_id=article_id, status="pending")] == ["de.newsletter"]
    assert report.new == [] and report.updated == [] and report.removed == []
    assert [(a.id, old, a.key) for a, old in report.moved] == [(article_id, SEED, new_path)]
    assert poll(sb_settings, store, clock).moved == []  # recorded once


def test_a_move_before_anything_went_out_cancels_nothing(sb_settings, store, control, clock, articles_dir):
    poll(sb_settings, store, clock)
    article_id = by_key(store)[SEED]
    planned = {d.channel for d in store.deliveries(article_id=article_id, status="pending")}
    (articles_dir / "neu").mkdir()
    (articles_dir / SEED).rename(articles_dir / "neu" / SEED)
    report = poll(sb_settings, store, clock)
    assert {d.channel for d in store.deliveries(article_id=article_id, status="pending")} == planned
    assert store.deliveries(article_id=article_id, status="cancelled") == []
    assert report.removed == [] and [old for _, old in report.moved] == [SEED]
    drain(sb_settings, store, clock)
    assert len(sent(control, "telegram", "sendMessage") + sent(control, "telegram", "sendPhoto")) == len(
        [d for d in store.deliveries(status="sent") if d.kind == "telegram"])
    assert [d.channel for d in store.deliveries(article_id=article_id, status="sent")] == [
        "de.twitter", "de.telegram"]


def test_a_file_removed_then_back_under_another_name_is_restored_and_what_was_sent_stays_sent(
        sb_settings, store, control, clock, articles_dir):
    poll(sb_settings, store, clock)
    drain(sb_settings, store, clock)  # Telegram and X go out; the newsletter waits for the digest
    before = posts(control)
    article_id = by_key(store)[SEED]
    data = (articles_dir / SEED).read_bytes()

    (articles_dir / SEED).unlink()
    assert poll(sb_settings, store, clock).removed == [SEED]
    assert [d.channel for d in store.deliveries(article_id=article_id, status="cancelled")] == ["de.newsletter"]

    (articles_dir / "wieder-da.txt").write_bytes(data)
    report = poll(sb_settings, store, clock)
    drain(sb_settings, store, clock)
    assert posts(control) == before
    assert SEED not in by_key(store) and by_key(store)["wieder-da.txt"] == article_id
    status = {d.channel: d.status for d in store.deliveries(article_id=article_id)}
    assert (status["de.telegram"], status["de.twitter"], status["de.newsletter"]) == ("sent", "sent", "pending")
    assert [a.id for a in report.updated] == [article_id] and report.new == []
    assert [(a.id, old, a.key) for a, old in report.moved] == [(article_id, SEED, "wieder-da.txt")]


def test_two_live_files_with_the_same_text_are_one_article_with_a_warning_naming_both(
        sb_settings, store, control, clock, articles_dir):
    shutil.copy(articles_dir / SEED, articles_dir / "kopie.txt")  # both there from the first poll
    report = poll(sb_settings, store, clock)
    assert "kopie.txt" not in by_key(store)
    (warning,) = report.warnings
    assert "kopie.txt" in warning and SEED in warning
    assert len(report.new) == len(list(articles_dir.iterdir())) - 1
    drain(sb_settings, store, clock)
    before = posts(control)

    shutil.copy(articles_dir / SEED, articles_dir / "noch-eine-kopie.txt")  # a copy of a posted file
    n_deliveries = len(store.deliveries())
    report = poll(sb_settings, store, clock)
    drain(sb_settings, store, clock)
    assert posts(control) == before and len(store.deliveries()) == n_deliveries
    assert report.new == [] and report.updated == []
    assert sorted(w.split(" ")[0] for w in report.warnings) == ["kopie.txt", "noch-eine-kopie.txt"]
    assert all(SEED in w for w in report.warnings)

    # The editor removes the original: the copy is the article, moved; nothing is posted again.
    (articles_dir / SEED).unlink()
    (articles_dir / "noch-eine-kopie.txt").unlink()
    report = poll(sb_settings, store, clock)
    drain(sb_settings, store, clock)
    assert posts(control) == before
    assert [(old, a.key) for a, old in report.moved] == [(SEED, "kopie.txt")] and report.removed == []


@pytest.mark.parametrize("front", [{"id": "dorf-im-tian-schan"}, {"url": "https://novastan.org/de/dorf/"}])
def test_a_front_matter_id_or_url_makes_another_path_the_same_article(
        sb_settings, store, control, clock, articles_dir, front):
    (articles_dir / "entwurf.md").write_text(article_md("Erste Fassung des Textes.", **front), encoding="utf-8")
    poll(sb_settings, store, clock)
    drain(sb_settings, store, clock)
    before = posts(control)
    article_id = by_key(store)["entwurf.md"]
    assert [d.channel for d in store.deliveries(article_id=article_id, status="sent")] == ["de.telegram"]

    # Renamed and edited at once: the content hash differs, the id or url says it is the same.
    (articles_dir / "entwurf.md").unlink()
    (articles_dir / "2025-03-dorf.md").write_text(article_md("Zweite, korrigierte Fassung.", **front),
                                                  encoding="utf-8")
    report = poll(sb_settings, store, clock)
    drain(sb_settings, store, clock)
    assert posts(control) == before
    assert [a.id for a in report.updated] == [article_id] and report.new == [] and report.removed == []
    stored = store.get_article(article_id)
    assert (stored.key, stored.version, stored.article.lede) == ("2025-03-dorf.md", 2, "Zweite, korrigierte Fassung.")
    assert [(old, a.key) for a, old in report.moved] == [("entwurf.md", "2025-03-dorf.md")]

    # A second live file with the same id or url but other text: still one article, and a warning.
    (articles_dir / "dorf-kopie.md").write_text(article_md("Eine dritte Fassung.", **front), encoding="utf-8")
    report = poll(sb_settings, store, clock)
    assert report.new == [] and report.updated == [] and "dorf-kopie.md" not in by_key(store)
    (warning,) = report.warnings
    assert "dorf-kopie.md" in warning and "2025-03-dorf.md" in warning
    drain(sb_settings, store, clock)
    assert posts(control) == before


def test_different_front_matter_ids_are_different_articles_even_with_one_url(
        sb_settings, store, clock, articles_dir):
    url = "https://novastan.org/de/dorf/"
    (articles_dir / "a.md").write_text(article_md("Text A.", id="a", url=url), encoding="utf-8")
    poll(sb_settings, store, clock)
    (articles_dir / "a.md").unlink()
    (articles_dir / "b.md").write_text(article_md("Text B.", id="b", url=url), encoding="utf-8")
    report = poll(sb_settings, store, clock)
    assert [a.key for a in report.new] == ["b.md"] and report.removed == ["a.md"]


def test_a_feed_item_whose_link_changed_but_guid_did_not_is_the_same_article(
        make_config, tmp_path, sandbox, control, clock):
    feed = tmp_path / "feed.xml"
    original = (FEEDS / "wordpress-de.xml").read_text(encoding="utf-8")
    feed.write_text(original, encoding="utf-8")
    (tmp_path / "articles").mkdir()
    settings = load_settings(make_config(f'\n[[sources]]\nname = "wp"\nkind = "feed"\nurl = "{feed}"\n'))
    port = int(sandbox.url.rsplit(":", 1)[1])
    settings = dataclasses.replace(settings, sandbox=dataclasses.replace(settings.sandbox, port=port))
    with Store.open(settings) as store:
        first = poll(settings, store, clock, source="wp")
        drain(settings, store, clock)
        before = posts(control)
        assert before
        old_link = "https://novastan.org/de/kirgistan/warum-kirgistans-bergdoerfer-schrumpfen/"
        new_link = "https://novastan.org/de/kirgistan/bergdoerfer-im-tian-schan/"
        feed.write_text(original.replace(f"<link>{old_link}</link>", f"<link>{new_link}</link>"), encoding="utf-8")
        report = poll(settings, store, clock, source="wp")
        assert report.new == [] and [a.id for a in report.updated] == [first.new[0].id]
        assert store.get_article(first.new[0].id).article.url == new_link
        assert len(store.list_articles()) == len(first.new)
        drain(settings, store, clock)
        assert posts(control) == before


def test_ingest_prints_the_move_and_the_duplicate_and_exits_0(make_config, articles_dir):
    import json

    from click.testing import CliRunner

    from distributor.cli import cli

    cfg = make_config(articles=articles_dir)

    def run(*args):
        return CliRunner().invoke(cli, ["--config", str(cfg), "ingest", *args])

    assert run().exit_code == 0
    (articles_dir / SEED).rename(articles_dir / "umbenannt.txt")
    shutil.copy(articles_dir / "umbenannt.txt", articles_dir / "zweite-kopie.txt")
    result = run()
    assert result.exit_code == 0, result.output
    assert f"moved from {SEED} to umbenannt.txt" in result.output
    assert "1 moved" in result.output and "1 warnings" in result.output
    assert "warning: zweite-kopie.txt and umbenannt.txt are one article" in result.output
    shutil.move(articles_dir / "umbenannt.txt", articles_dir / SEED)
    (report,) = json.loads(run("--json").output)
    assert [(m["from"], m["to"]) for m in report["moved"]] == [("umbenannt.txt", SEED)]
    assert report["warnings"] == [f"zweite-kopie.txt and {SEED} are one article (#{report['moved'][0]['id']}, "
                                  f"the same text): zweite-kopie.txt is not posted again; remove one of them"]
