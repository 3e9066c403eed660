"""A folder source's url_template, and what `articles` and `check` tell editors
about articles that would go out without a link or a title."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from distributor.cli import cli
from distributor.config import load_settings
from distributor.errors import ConfigurationError

SEED_KEY = "de-kasachstan-china-ukraine.txt"


def invoke(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def with_template(path, template: str):
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('kind = "folder"\n', f'kind = "folder"\nurl_template = "{template}"\n', 1),
                    encoding="utf-8")
    return path


def test_url_template_gives_every_folder_article_a_link(make_config, articles_dir):
    cfg = with_template(make_config(articles=articles_dir), "https://novastan.org/de/{slug}/")
    assert invoke(cfg, "ingest").exit_code == 0
    rows = {r["key"]: r for r in json.loads(invoke(cfg, "articles", "--json").output)}
    seed = rows[SEED_KEY]
    assert seed["url"] == "https://novastan.org/de/de-kasachstan-china-ukraine/"
    assert not seed["without_link"] and seed["untitled"]
    assert rows["en-kyrgyzstan-glaciers.md"]["url"].startswith("https://novastan.org/en/")  # its own url wins
    preview = invoke(cfg, "preview", str(seed["id"]), "--channel", "telegram")
    assert 'href="https://novastan.org/de/de-kasachstan-china-ukraine/?utm_source=telegram' in preview.output
    assert "KasachstanChinaUkraine" not in preview.output and "Kasachstan china ukraine" not in preview.output
    by_path = invoke(cfg, "preview", str(articles_dir / SEED_KEY), "--channel", "telegram")  # as ingest reads it
    assert 'href="https://novastan.org/de/de-kasachstan-china-ukraine/?utm_source=telegram' in by_path.output


def test_articles_and_check_show_what_goes_out_without_a_link_or_a_title(make_config, articles_dir):
    cfg = make_config(articles=articles_dir)
    assert invoke(cfg, "ingest").exit_code == 0
    rows = {r["key"]: r for r in json.loads(invoke(cfg, "articles", "--json").output)}
    seed = rows[SEED_KEY]
    assert seed["without_link"] and seed["url"] is None and seed["title"] == ""
    assert any(w.startswith("no URL: the posts go out without a link") for w in seed["warnings"])
    assert any(w.startswith("no title: the posts and the digest lead with the lede") for w in seed["warnings"])
    text = invoke(cfg, "articles").output
    assert f"(untitled) Kasachstan unterstützt den chinesischen 12-Punkte-Plan" in text
    assert "link:    NONE: its posts go out without a link" in text

    result = invoke(cfg, "check")
    assert result.exit_code == 0, result.output  # a warning, not a configuration problem
    warn = [line for line in result.output.splitlines() if line.startswith("WARN") and SEED_KEY in line]
    assert any("will go out without a link" in line for line in warn), result.output
    assert any("has no title; its posts lead with the lede" in line for line in warn)
    assert not any("en-kyrgyzstan-glaciers.md" in line and "link" in line for line in result.output.splitlines())


@pytest.mark.parametrize("template, message", [
    ("https://novastan.org/de/artikel/", r"has no \{slug\} slot"),
    ("https://novastan.org/{lang}/{slug}/", r"the only slot is \{slug\}"),
    ("javascript:alert('{slug}')", r"is not a link: it is not an http\(s\) URL"),
    ("https://user:pw@novastan.org/{slug}/", r"is not a link: it carries credentials"),
])
def test_a_bad_url_template_is_a_config_error(make_config, template, message):
    cfg = with_template(make_config(), template)
    with pytest.raises(ConfigurationError, match=message):
        load_settings(cfg)


def test_a_feed_source_has_no_url_template(make_config):
    cfg = make_config('\n[[sources]]\nname = "feed"\nkind = "feed"\nurl = "https://novastan.org/de/feed/"\n'
                      'url_template = "https://novastan.org/de/{slug}/"\n')
    with pytest.raises(ConfigurationError, match="only a folder source has one"):
        load_settings(cfg)


def test_changing_url_template_relinks_the_stored_articles(make_config, articles_dir):
    # The folder skips files whose bytes did not change: the template is part
    # of what a folder item is, so a new one re-links what is stored.
    cfg = make_config(articles=articles_dir)
    assert invoke(cfg, "ingest").exit_code == 0
    rows = {r["key"]: r for r in json.loads(invoke(cfg, "articles", "--json").output)}
    assert rows[SEED_KEY]["url"] is None and rows[SEED_KEY]["without_link"]
    with_template(cfg, "https://novastan.org/de/{slug}/")
    result = invoke(cfg, "ingest")
    assert result.exit_code == 0 and "updated" in result.output, result.output
    rows = {r["key"]: r for r in json.loads(invoke(cfg, "articles", "--json").output)}
    assert rows[SEED_KEY]["url"] == "https://novastan.org/de/de-kasachstan-china-ukraine/"
    assert not rows[SEED_KEY]["without_link"]
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("/de/{slug}/", "/de/artikel/{slug}/"), encoding="utf-8")
    assert invoke(cfg, "ingest").exit_code == 0
    rows = {r["key"]: r for r in json.loads(invoke(cfg, "articles", "--json").output)}
    assert rows[SEED_KEY]["url"] == "https://novastan.org/de/artikel/de-kasachstan-china-ukraine/"
    again = invoke(cfg, "ingest").output
    assert "0 updated" in again and " new " not in again, again  # unchanged template: nothing re-parsed


def test_parse_says_it_applies_no_url_template_unless_given_one():
    help_text = CliRunner().invoke(cli, ["parse", "--help"]).output
    assert "url_template" in help_text and "reads no config" in help_text
    seed = str(Path(__file__).resolve().parents[2] / "examples" / "articles" / SEED_KEY)
    plain = CliRunner().invoke(cli, ["parse", seed, "--json"])
    assert json.loads(plain.output)["url"] is None
    linked = CliRunner().invoke(cli, ["parse", seed, "--json", "--url-template", "https://novastan.org/de/{slug}/"])
    assert json.loads(linked.output)["url"] == "https://novastan.org/de/de-kasachstan-china-ukraine/"
