"""The few strings and date formats the outbound messages need, per language.

A small table rather than Babel: four editions, a dozen strings, month names,
and the plural forms of the one counted noun ("1 new article", "5 новых статей").
Templates see the strings as `t.<key>`, dates through `format_date` and counts
through `plural`.
An unknown language falls back to English (the renderer warns).
"""

from __future__ import annotations

import datetime as dt

FALLBACK = "en"

STRINGS: dict[str, dict[str, str]] = {
    "de": {
        "read_more": "Weiterlesen",
        "by": "Von",
        "translated_by": "Übersetzt von",
        "digest_heading": "Diese Woche bei {name}",
        "digest_subject": "{name}: der Newsletter vom {date}",
        "digest_preheader": "{articles}: {first}",
        "view_in_browser": "Im Browser ansehen",
        "subscribe": "Newsletter abonnieren",
        "archive_reason": "Dies ist die Archivausgabe des Newsletters von {name}.",
        "digest_intro": "Hier sind unsere Artikel der Woche.",
        "digest_reason": "Ihr erhaltet diese E-Mail, weil ihr den Newsletter von {name} abonniert habt.",
        "unsubscribe": "Abmelden",
        "confirm_subject": "Bitte bestätigt euer Abonnement von {name}",
        "confirm_heading": "Fast geschafft!",
        "confirm_body": "Bitte bestätigt mit einem Klick, dass ihr den Newsletter von {name} erhalten möchtet.",
        "confirm_button": "Abonnement bestätigen",
        "confirm_ignore": "Wenn ihr euch nicht angemeldet habt, ignoriert diese E-Mail einfach.",
        "image_alt": "Bild zum Artikel: {title}",
    },
    "fr": {
        "read_more": "Lire la suite",
        "by": "Par",
        "translated_by": "Traduit par",
        "digest_heading": "Cette semaine sur {name}",
        "digest_subject": "{name} : la newsletter du {date}",
        "digest_preheader": "{articles} : {first}",
        "view_in_browser": "Voir dans le navigateur",
        "subscribe": "S'abonner à la newsletter",
        "archive_reason": "Ceci est la version en ligne de la newsletter de {name}.",
        "digest_intro": "Voici nos articles de la semaine.",
        "digest_reason": "Vous recevez cet e-mail parce que vous êtes abonné·e à la newsletter de {name}.",
        "unsubscribe": "Se désabonner",
        "confirm_subject": "Confirmez votre abonnement à {name}",
        "confirm_heading": "Presque terminé !",
        "confirm_body": "Confirmez d'un clic que vous souhaitez recevoir la newsletter de {name}.",
        "confirm_button": "Confirmer l'abonnement",
        "confirm_ignore": "Si vous ne vous êtes pas inscrit·e, ignorez simplement cet e-mail.",
        "image_alt": "Illustration de l'article : {title}",
    },
    "en": {
        "read_more": "Read more",
        "by": "By",
        "translated_by": "Translated by",
        "digest_heading": "This week at {name}",
        "digest_subject": "{name}: the newsletter of {date}",
        "digest_preheader": "{articles}: {first}",
        "view_in_browser": "View in your browser",
        "subscribe": "Subscribe to the newsletter",
        "archive_reason": "This is the archived edition of the {name} newsletter.",
        "digest_intro": "Here are this week's articles.",
        "digest_reason": "You are receiving this email because you subscribed to the {name} newsletter.",
        "unsubscribe": "Unsubscribe",
        "confirm_subject": "Please confirm your subscription to {name}",
        "confirm_heading": "Almost there!",
        "confirm_body": "Please confirm with one click that you want to receive the {name} newsletter.",
        "confirm_button": "Confirm subscription",
        "confirm_ignore": "If you did not sign up, simply ignore this email.",
        "image_alt": "Image for the article: {title}",
    },
    "ru": {
        "read_more": "Читать дальше",
        "by": "Автор:",
        "translated_by": "Перевод:",
        "digest_heading": "На этой неделе в {name}",
        "digest_subject": "{name}: рассылка от {date}",
        "digest_preheader": "{articles}. {first}",
        "view_in_browser": "Открыть в браузере",
        "subscribe": "Подписаться на рассылку",
        "archive_reason": "Это архивный выпуск рассылки {name}.",
        "digest_intro": "Вот наши статьи этой недели.",
        "digest_reason": "Вы получили это письмо, потому что подписались на рассылку {name}.",
        "unsubscribe": "Отписаться",
        "confirm_subject": "Подтвердите подписку на {name}",
        "confirm_heading": "Почти готово!",
        "confirm_body": "Подтвердите одним нажатием, что хотите получать рассылку {name}.",
        "confirm_button": "Подтвердить подписку",
        "confirm_ignore": "Если вы не подписывались, просто проигнорируйте это письмо.",
        "image_alt": "Иллюстрация к статье: {title}",
    },
}

# "{count} new article(s)" per plural category of the language (CLDR):
# one/other for de, en and fr (French counts 0 and 1 as singular), and
# one/few/many for Russian (1 статья, 2 статьи, 5 статей; 21 статья, 11 статей).
NEW_ARTICLES: dict[str, dict[str, str]] = {
    "de": {"one": "{count} neuer Artikel", "other": "{count} neue Artikel"},
    "fr": {"one": "{count} nouvel article", "other": "{count} nouveaux articles"},
    "en": {"one": "{count} new article", "other": "{count} new articles"},
    "ru": {"one": "{count} новая статья", "few": "{count} новые статьи", "many": "{count} новых статей"},
}


def plural_category(count: int, language: str) -> str:
    """The CLDR plural category of a whole number in the language."""
    n = abs(count)
    if language == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return "one"
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return "few"
        return "many"
    if language == "fr":
        return "one" if n in (0, 1) else "other"
    return "one" if n == 1 else "other"


def plural(count: int, language: str, forms: dict[str, dict[str, str]] | None = None) -> str:
    """`count` with the noun in its right form: "1 new article", "2 статьи"."""
    table = forms or NEW_ARTICLES
    lang = language if language in table else FALLBACK
    return table[lang][plural_category(count, lang)].format(count=count)


MONTHS: dict[str, tuple[str, ...]] = {
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    # Genitive, as a date needs it: «14 марта 2025».
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря"),
}

# How a day, a month name and a year make a date.
DATE_PATTERNS = {
    "de": "{day}. {month} {year}",
    "fr": "{day} {month} {year}",
    "en": "{day} {month} {year}",
    "ru": "{day} {month} {year}",
}


def supported(language: str) -> bool:
    return language in STRINGS


def strings(language: str) -> dict[str, str]:
    return STRINGS.get(language, STRINGS[FALLBACK])


def format_date(value: dt.date | dt.datetime | None, language: str) -> str:
    if value is None:
        return ""
    lang = language if language in MONTHS else FALLBACK
    day = "1er" if lang == "fr" and value.day == 1 else str(value.day)
    return DATE_PATTERNS[lang].format(day=day, month=MONTHS[lang][value.month - 1], year=value.year)
