"""Generated test data at real sizes, shared by bench_ingest_scale.py.

`wordpress_feed(n)` is an RSS2 feed as WordPress writes it: per item a title,
link, dc:creator, pubDate, categories, a permalink-less guid, an excerpt in
<description> and the full text in content:encoded (paragraphs, a subheading,
a "read also" link, the author line, the translator and a footer naming the
outlet's channels, with its links, in the item's language), ~4 KB per item.
`article_files(folder, n)` writes n distinct article files (.txt, .md, .html).
"""

from __future__ import annotations

import random
from pathlib import Path

WORDS = {
    "de": ("Zentralasien Kirgistan Kasachstan Bergdörfer Regierung Straßen Familien Gästehäuser Wanderer "
           "Sommer Statistikbehörde Einwohner Schulen Busverbindungen Bischkek Russland Mittel knapp "
           "Rückkehrer Dörfer Menschen Grenze Handel Wasser Landwirtschaft Energie Markt Jugend").split(),
    "fr": ("Asie centrale Kirghizstan Kazakhstan villages gouvernement routes familles voyageurs été "
           "habitants écoles Bichkek Russie moyens frontière commerce eau agriculture énergie marché "
           "jeunesse montagnes steppe").split(),
    "en": ("Central Asia Kyrgyzstan Kazakhstan villages government roads families travellers summer "
           "residents schools Bishkek Russia means border trade water farming energy market youth "
           "mountains steppe").split(),
}
GLUE = {"de": "und die der in mit für auf".split(), "fr": "et les des dans avec pour sur".split(),
        "en": "and the of in with for on".split()}
FOOTERS = {
    "de": ('<p><em>Noch mehr Zentralasien findet ihr auf unseren Social Media Kanälen, schaut mal vorbei bei '
           '<a href="https://twitter.com/EXAMPLE_DE">Twitter</a>, <a href="https://www.facebook.com/EXAMPLE">'
           'Facebook</a>, <a href="https://t.me/EXAMPLE_DE">Telegram</a>, <a href="https://www.linkedin.com/'
           'company/EXAMPLE/">Linkedin</a> oder <a href="https://www.instagram.com/EXAMPLE/">Instagram</a>. '
           'Für Zentralasien direkt in eurer Mailbox könnt ihr euch auch zu unserem wöchentlichen '
           '<a href="https://novastan.org/de/newsletter-anmeldung/">Newsletter</a> anmelden.</em></p>'),
    "fr": ('<p><em>Retrouvez-nous sur <a href="https://t.me/EXAMPLE_FR">Telegram</a>, '
           '<a href="https://twitter.com/EXAMPLE_FR">Twitter</a> et <a href="https://www.facebook.com/EXAMPLE">'
           'Facebook</a>, et abonnez-vous à notre <a href="https://novastan.org/fr/newsletter/">newsletter '
           'hebdomadaire</a>.</em></p>'),
    "en": ('<p>Follow us on <a href="https://x.com/novastan_en_example">X</a> and '
           '<a href="https://t.me/novastan_en_example">Telegram</a>, and subscribe to our weekly newsletter '
           'to get Central Asia straight to your inbox.</p>'),
}
READ_ALSO = {"de": "Lest auch auf Novastan", "fr": "Lire aussi sur Novastan", "en": "Read also on Novastan"}
ROLE = {"de": "Redakteur für Novastan", "fr": "Rédacteur pour Novastan", "en": "Editor for Novastan"}
TRANSLATOR = {"de": "Aus dem Französischen von Robin Roth", "fr": "Traduit de l'allemand par Léa Martin",
              "en": "Translated from the French by Jane Doe"}


def _sentence(rng: random.Random, lang: str, n: int) -> str:
    words = [rng.choice(WORDS[lang]) if k % 3 else rng.choice(GLUE[lang]) for k in range(n)]
    return " ".join(words).capitalize() + "."


def _para(rng: random.Random, lang: str) -> str:
    return " ".join(_sentence(rng, lang, rng.randint(8, 16)) for _ in range(rng.randint(2, 4)))


def item_html(i: int, lang: str, rng: random.Random) -> str:
    paras = [f"<p>{_para(rng, lang)} ({i})</p>" for _ in range(3)]
    paras.append(f"<h2>{_sentence(rng, lang, 4)[:-1]}</h2>")
    paras += [f"<p>{_para(rng, lang)}</p>" for _ in range(2)]
    paras.append(f'<p><strong>{READ_ALSO[lang]}: <a href="https://novastan.org/{lang}/a/{i + 7}/">'
                 f"{_sentence(rng, lang, 5)[:-1]}</a></strong></p>")
    paras += [f"<p>{_para(rng, lang)} <a href=\"https://example.org/{i}\">{rng.choice(WORDS[lang])}</a></p>"
              for _ in range(2)]
    paras.append(f"<p><strong>Jean Monéger</strong><br />{ROLE[lang]}</p>")
    paras.append(f"<p><em>{TRANSLATOR[lang]}</em></p>")
    paras.append(FOOTERS[lang])
    return "\n".join(paras)


def wordpress_feed(n: int, *, lang: str = "de", seed: int = 1) -> bytes:
    rng = random.Random(seed)
    items = []
    for i in range(n):
        title = _sentence(rng, lang, 6)[:-1] + f" {i}"
        slug = f"artikel-{i}"
        link = f"https://novastan.org/{lang}/kirgistan/{slug}/"
        day = 1 + i % 28
        items.append(f"""	<item>
		<title>{title}</title>
		<link>{link}</link>
		<comments>{link}#respond</comments>
		<dc:creator><![CDATA[rroth]]></dc:creator>
		<pubDate>Mon, {day:02d} Mar 2025 06:{i % 60:02d}:00 +0000</pubDate>
		<category><![CDATA[Kirgistan]]></category>
		<category><![CDATA[Gesellschaft]]></category>
		<guid isPermaLink="false">https://novastan.org/{lang}/?p={70000 + i}</guid>
		<description><![CDATA[<p><a href="{link}">{title}</a></p>
<p>{_sentence(rng, lang, 12)[:-1]}&#8230; [&#8230;]</p>]]></description>
		<content:encoded><![CDATA[{item_html(i, lang, rng)}]]></content:encoded>
		<wfw:commentRss>{link}feed/</wfw:commentRss>
		<slash:comments>0</slash:comments>
	</item>""")
    head = f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>
<channel>
	<title>Novastan</title>
	<atom:link href="https://novastan.org/{lang}/feed/" rel="self" type="application/rss+xml" />
	<link>https://novastan.org/{lang}/</link>
	<description>Das Magazin über Zentralasien</description>
	<lastBuildDate>Mon, 03 Mar 2025 09:12:40 +0000</lastBuildDate>
	<language>{lang}</language>
	<generator>https://wordpress.org/?v=6.7</generator>
"""
    return (head + "\n".join(items) + "\n</channel>\n</rss>\n").encode("utf-8")
