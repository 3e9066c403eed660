"""The few strings and date formats the outbound messages need, per language.

A small table rather than Babel: four editions, a dozen strings, month names.
Templates see the strings as `t.<key>` and dates through `format_date`.
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
        "digest_preheader": "{count} neue Artikel: {first}",
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
        "digest_preheader": "{count} nouveaux articles : {first}",
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
        "digest_preheader": "{count} new articles: {first}",
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
        "digest_preheader": "Новых статей: {count}. {first}",
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
