"""`distributor preview` and `distributor digest --preview`, end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bs4 import BeautifulSoup
from click.testing import CliRunner
from twitter_text import parse_tweet

from distributor.cli import cli
from distributor.render import telegram_html

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "examples" / "articles" / "de-kasachstan-china-ukraine.txt"

HOSTILE = """---
title: "<script>alert('x')</script> & \\"Zitate\\" 👩‍👩‍👧‍👦 שלום 日本語 </b>"
language: de
url: https://novastan.org/de/hostile-article/
image: https://novastan.org/img/hostile.jpg
tags: [Kasachstan, "Zentral Asien", "2023"]
---

{lede}

Jean Monéger, Redakteur für Novastan

Noch mehr Zentralasien findet ihr auf unseren Social Media Kanälen, schaut mal vorbei bei Twitter, Facebook, Telegram, Linkedin oder Instagram. Für Zentralasien direkt in eurer Mailbox könnt ihr euch auch zu unserem wöchentlichen Newsletter anmelden.
"""


def write_config(tmp_path: Path, articles_dir: Path) -> Path:
    text = (REPO / "config" / "distributor.toml").read_text(encoding="utf-8")
    text = text.replace('url = "sqlite:///../var/distributor.db"', f'url = "sqlite:///{tmp_path}/d.db"')
    text = text.replace('path = "../examples/articles"', f'path = "{articles_dir}"')
    cfg = tmp_path / "distributor.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def preview(cfg: Path, ref: str, channel: str) -> dict:
    result = CliRunner().invoke(cli, ["--config", str(cfg), "preview", ref, "--channel", channel, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def hostile_file(tmp_path: Path) -> Path:
    lede = "Ein Absatz mit <b>Markup</b> & Sonderzeichen, " * 300 + "Ende."
    path = tmp_path / "articles" / "hostile.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(HOSTILE.replace("{lede}", lede), encoding="utf-8")
    return path


def check_telegram(data: dict) -> None:
    assert set(data) >= {"channel", "text", "length", "limit", "truncated", "warnings"}
    assert telegram_html.problems(data["text"]) == []
    assert data["length"] <= data["limit"] == (1024 if data["photo"] else 4096)


def check_tweet(data: dict) -> None:
    for part in data["parts"]:
        assert parse_tweet(part).weightedLength <= 280
    assert data["length"] <= data["limit"] == 280


def check_email(data: dict) -> None:
    assert data["subject"] and data["text"].strip()
    soup = BeautifulSoup(data["html"], "html.parser")
    assert soup.find("style") is None and soup.find(class_="preheader")
    assert data["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https?://[^>]+\{token\}>, <mailto:[^>]+\{token\}>", data["headers"]["List-Unsubscribe"])


def test_preview_seed_on_every_channel(tmp_path):
    cfg = write_config(tmp_path, REPO / "examples" / "articles")
    check_telegram(preview(cfg, str(SEED), "telegram"))
    check_tweet(preview(cfg, str(SEED), "twitter"))
    check_email(preview(cfg, str(SEED), "email"))


def test_preview_names_the_newsletter_newsletter(tmp_path):
    """One name per service: `--channel newsletter`, and "newsletter" in --json
    and the summary line; `email`, its former name, still renders the same."""
    cfg = write_config(tmp_path, REPO / "examples" / "articles")
    data = preview(cfg, str(SEED), "newsletter")
    check_email(data)
    assert data["channel"] == "newsletter"
    assert preview(cfg, str(SEED), "email") == data
    result = CliRunner().invoke(cli, ["--config", str(cfg), "preview", str(SEED), "-c", "newsletter"])
    assert result.exit_code == 0 and "[newsletter: " in result.output


def test_preview_hostile_article(tmp_path):
    path = hostile_file(tmp_path)
    cfg = write_config(tmp_path, path.parent)
    tg = preview(cfg, str(path), "telegram")
    check_telegram(tg)
    assert tg["photo"] and tg["truncated"] and "&lt;script&gt;" in tg["text"]
    assert "utm_source=telegram" in tg["text"]
    x = preview(cfg, str(path), "twitter")
    check_tweet(x)
    assert x["truncated"]
    assert re.search(r"\shttps://novastan\.org/de/hostile-article/\?utm_source=twitter\S*\s", x["text"])
    check_email(preview(cfg, str(path), "email"))


def test_preview_text_output_and_errors(tmp_path):
    cfg = write_config(tmp_path, REPO / "examples" / "articles")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(cfg), "preview", str(SEED), "-c", "twitter"])
    assert result.exit_code == 0 and "[twitter: " in result.output
    result = runner.invoke(cli, ["--config", str(cfg), "preview", "not-a-file", "-c", "twitter"])
    assert result.exit_code == 2 and "neither an article file nor a stored article id" in result.output


def test_preview_by_id_and_digest_preview(tmp_path):
    path = hostile_file(tmp_path)
    cfg = write_config(tmp_path, path.parent)
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(cfg), "ingest"])
    assert result.exit_code == 0, result.output
    check_telegram(preview(cfg, "1", "telegram"))
    out = tmp_path / "digest.html"
    result = runner.invoke(cli, ["--config", str(cfg), "digest", "--preview", str(out), "--edition", "de",
                                 "--since", "2000-01-01"])
    assert result.exit_code == 0, result.output
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in result.output
    html = out.read_text(encoding="utf-8")
    assert "Diese Woche bei Novastan" in html and "&lt;script&gt;" in html
    assert out.with_suffix(".txt").read_text(encoding="utf-8").startswith("Diese Woche bei Novastan")
    result = runner.invoke(cli, ["--config", str(cfg), "digest", "--preview", str(out), "--edition", "fr"])
    assert result.exit_code == 2 and "no newsletter articles" in result.output
