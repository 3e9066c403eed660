"""Author lines in German, French, English and Russian, in both genders, with
the usual roles and a leading "Von/Par/By/Автор:" (issue 10, item 6)."""

from __future__ import annotations

import pytest

from distributor.ingest.parse import parse_raw
from distributor.model import Author, RawArticle

FOOTER = "Folgt uns auf Telegram und Twitter."

AUTHOR_LINES = [
    ("de", "Jean Monéger, Redakteur für Novastan", "Jean Monéger", "Redakteur für Novastan"),
    ("de", "Anna Keller, Redakteurin für Novastan", "Anna Keller", "Redakteurin für Novastan"),
    ("de", "Jan Berg, Korrespondent für Novastan in Almaty", "Jan Berg", "Korrespondent für Novastan in Almaty"),
    ("de", "Lea Roth, Korrespondentin für Novastan", "Lea Roth", "Korrespondentin für Novastan"),
    ("de", "Von Lea Roth, freie Journalistin für Novastan", "Lea Roth", "freie Journalistin für Novastan"),
    ("fr", "Paul Martin, rédacteur pour Novastan", "Paul Martin", "rédacteur pour Novastan"),
    ("fr", "Marie Dupont, rédactrice pour Novastan", "Marie Dupont", "rédactrice pour Novastan"),
    ("fr", "Paul Martin, correspondant pour Novastan à Bichkek", "Paul Martin", "correspondant pour Novastan à Bichkek"),
    ("fr", "Marie Dupont, correspondante pour Novastan", "Marie Dupont", "correspondante pour Novastan"),
    ("fr", "Hélène Leclerc-Dupont, journaliste pour Novastan", "Hélène Leclerc-Dupont", "journaliste pour Novastan"),
    ("fr", "Par Marc Petit, journaliste pour Novastan", "Marc Petit", "journaliste pour Novastan"),
    ("en", "John Smith, editor at Novastan", "John Smith", "editor at Novastan"),
    ("en", "Jane Smith, correspondent for Novastan", "Jane Smith", "correspondent for Novastan"),
    ("en", "Jane Smith, journalist at Novastan", "Jane Smith", "journalist at Novastan"),
    ("en", "Jane Smith, Novastan's correspondent in Almaty", "Jane Smith", "Novastan's correspondent in Almaty"),
    ("ru", "Иван Петров, корреспондент Novastan", "Иван Петров", "корреспондент Novastan"),
    ("ru", "Мария Иванова, корреспондентка Novastan в Душанбе", "Мария Иванова", "корреспондентка Novastan в Душанбе"),
    ("ru", "Иван Петров, журналист Novastan", "Иван Петров", "журналист Novastan"),
    ("ru", "Мария Иванова, журналистка", "Мария Иванова", "журналистка"),
    ("ru", "Мария Иванова — редактор Novastan", "Мария Иванова", "редактор Novastan"),
]
BODIES = {
    "de": "Kasachstan unterstützt den Plan. Eine Annäherung an China muss dies aber nicht bedeuten.",
    "fr": "Le Kazakhstan soutient le plan de la Chine. Cela ne signifie pas un rapprochement avec Pékin.",
    "en": "Kazakhstan supports China's plan. That does not have to mean a closer alignment with Beijing.",
    "ru": "Казахстан поддерживает китайский план. Но это ещё не означает сближения с Пекином.",
}


@pytest.mark.parametrize("language, line, name, role", AUTHOR_LINES, ids=[line for _, line, _, _ in AUTHOR_LINES])
def test_author_lines_in_four_languages_and_both_genders(language, line, name, role):
    a = parse_raw(RawArticle(key="k", content=f"{BODIES[language]}\n\n{line}\n\n{FOOTER}", format="text",
                             title="T", language=language))
    assert a.author == Author(name, role)
    assert line not in a.body_text
