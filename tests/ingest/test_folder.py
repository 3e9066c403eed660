"""The folder source end to end through `distributor ingest` and `articles`."""

import json

from click.testing import CliRunner

from distributor.cli import cli


def invoke(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def articles_json(cfg):
    result = invoke(cfg, "articles", "--json")
    assert result.exit_code == 0, result.output
    return {a["key"]: a for a in json.loads(result.output)}


def test_examples_are_ingested_with_their_routing(make_config, articles_dir):
    cfg = make_config(articles=articles_dir)
    result = invoke(cfg, "ingest")
    assert result.exit_code == 0, result.output
    n = len(list(articles_dir.iterdir()))
    assert f"articles: {n} new, 0 updated, 0 unchanged" in result.output

    seed = articles_json(cfg)["de-kasachstan-china-ukraine.txt"]
    assert seed["language"] == "de"
    assert seed["channels_named"] == ["twitter", "facebook", "telegram", "linkedin", "instagram", "newsletter"]
    assert [p["channel"] for p in seed["planned"]] == ["de.twitter", "de.telegram", "de.newsletter"]
    assert seed["skipped"] == [
        {"channel": "de.facebook", "reason": "no facebook channel configured for de"},
        {"channel": "de.linkedin", "reason": "no linkedin channel configured for de"},
        {"channel": "de.instagram", "reason": "no instagram channel configured for de"},
    ]
    text = invoke(cfg, "articles").output
    assert "skipped: de.facebook: no facebook channel configured for de" in text


def test_a_second_ingest_finds_nothing_new(make_config, articles_dir):
    cfg = make_config(articles=articles_dir)
    invoke(cfg, "ingest")
    result = invoke(cfg, "ingest", "--json")
    report = json.loads(result.output)[0]
    assert (report["new"], report["updated"], report["unchanged"]) == ([], [], len(list(articles_dir.iterdir())))


def test_an_edited_file_is_an_update_of_the_same_article(make_config, articles_dir):
    cfg = make_config(articles=articles_dir)
    invoke(cfg, "ingest")
    before = articles_json(cfg)["de-kasachstan-china-ukraine.txt"]
    seed = articles_dir / "de-kasachstan-china-ukraine.txt"
    text = seed.read_text(encoding="utf-8")
    # The editor drops every channel but Telegram from the footer.
    footer_start = text.index("Noch mehr Zentralasien")
    seed.write_text(text[:footer_start] + "Folgt uns auf Telegram: https://t.me/novastan_de_example\n",
                    encoding="utf-8")
    result = invoke(cfg, "ingest", "--json")
    report = json.loads(result.output)[0]
    assert report["updated"] == [before["id"]] and report["new"] == []
    after = articles_json(cfg)["de-kasachstan-china-ukraine.txt"]
    assert (after["id"], after["version"]) == (before["id"], 2)
    assert after["channels_named"] == ["telegram"]
    assert [(p["channel"], p["status"]) for p in after["planned"]] == [("de.telegram", "pending")]
    assert after["skipped"] == []
    assert {c["channel"] for c in after["cancelled"]} == {
        "de.twitter", "de.newsletter", "de.facebook", "de.linkedin", "de.instagram"}
    assert {c["reason"] for c in after["cancelled"]} == {"no longer named by the article (version 2)"}


def test_a_bad_file_is_reported_and_the_others_are_ingested(make_config, articles_dir):
    (articles_dir / "broken.txt").write_bytes(b"")
    cfg = make_config(articles=articles_dir)
    result = invoke(cfg, "ingest")
    assert result.exit_code == 1
    assert "broken.txt" in result.output
    assert len(articles_json(cfg)) == len(list(articles_dir.iterdir())) - 1


def test_unknown_source_name_is_a_clear_error(make_config, articles_dir):
    result = invoke(make_config(articles=articles_dir), "ingest", "--source", "nope")
    assert result.exit_code == 2
    assert "no source named 'nope'" in result.output and "known: articles" in result.output


def test_unchanged_files_are_not_parsed_again(make_config, articles_dir, monkeypatch):
    from distributor.ingest import parse

    cfg = make_config(articles=articles_dir)
    invoke(cfg, "ingest")
    calls = []
    real = parse.parse_raw
    monkeypatch.setattr(parse, "parse_raw", lambda raw, **kw: calls.append(raw.key) or real(raw, **kw))
    (articles_dir / "de-kasachstan-china-ukraine.txt").write_text(
        (articles_dir / "de-kasachstan-china-ukraine.txt").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    report = json.loads(invoke(cfg, "ingest", "--json").output)[0]
    assert calls == ["de-kasachstan-china-ukraine.txt"]  # only the edited file
    assert len(report["updated"]) == 1 and report["unchanged"] == len(list(articles_dir.iterdir())) - 1


def test_a_removed_file_cancels_what_has_not_gone_out_and_comes_back_if_restored(make_config, articles_dir):
    cfg = make_config(articles=articles_dir)
    invoke(cfg, "ingest")
    seed = articles_dir / "de-kasachstan-china-ukraine.txt"
    text = seed.read_bytes()
    seed.unlink()
    result = invoke(cfg, "ingest", "--json")
    report = json.loads(result.output)[0]
    assert report["removed"] == ["de-kasachstan-china-ukraine.txt"]
    gone = articles_json(cfg)["de-kasachstan-china-ukraine.txt"]
    assert gone["planned"] == []
    assert {c["reason"] for c in gone["cancelled"] if c["channel"] in ("de.telegram", "de.twitter")} == {
        "its file was removed from the folder before it went out"}
    # Reported once, not at every poll.
    assert json.loads(invoke(cfg, "ingest", "--json").output)[0]["removed"] == []
    # The editor puts it back: it is planned again.
    seed.write_bytes(text)
    back = json.loads(invoke(cfg, "ingest", "--json").output)[0]
    assert back["updated"] == [gone["id"]]
    again = articles_json(cfg)["de-kasachstan-china-ukraine.txt"]
    assert {p["channel"] for p in again["planned"]} == {"de.telegram", "de.twitter", "de.newsletter"}
