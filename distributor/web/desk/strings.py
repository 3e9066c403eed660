"""The desk's own strings, in English, German and French (templates see them
as `w.<key>`), and the one rule that picks the language of a desk page:
`?lang=` when it names one of them, else the browser's Accept-Language, else
English. The links and forms of a page reached with `?lang=` carry it on.

Status words are keyed `status_<status>`; a status without a word here is
shown as it is stored. What the articles themselves say (titles, the parser's
warnings) is shown as it is.
"""

from __future__ import annotations

FALLBACK = "en"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "desk": "Desk",
        "skip_to_content": "Skip to content",
        "nav_label": "Desk sections",
        "nav_articles": "Articles",
        "nav_digest": "Digest",
        "nav_health": "Health",
        "nav_sent": "Sent",
        "logout": "Log out",
        "signed_in_as": "Signed in as {name}",
        "login_title": "Log in to the desk",
        "username": "Name",
        "password": "Password",
        "login_button": "Log in",
        "login_failed": "Wrong name or password.",
        "login_limited": "Too many failed logins. Try again in {minutes} minute(s).",
        "logged_out": "You are logged out.",
        "forbidden_title": "Not allowed",
        "csrf_failed": "This form has expired or did not come from the desk. Nothing was changed. "
                       "Go back, reload the page and try again.",
        "login_csrf_failed": "The login form has expired or your browser refuses cookies. "
                             "Reload the page and try again.",
        "bad_request_title": "That did not work",
        "not_found_title": "Not found",
        "articles_title": "Articles",
        "articles_intro": "Newest first: each article's channels, where its posts stand, and links to what went out.",
        "no_articles": "No articles yet. They appear here once a source is polled (`distributor ingest`).",
        "col_article": "Article",
        "col_language": "Language",
        "col_source": "Source",
        "col_channels": "Channels",
        "untitled": "(no title)",
        "warnings": "Warnings",
        "no_deliveries": "No channel planned.",
        "resend_n": "resend {n}",
        "view_post": "View post",
        "view_issue": "View issue",
        "due": "due {time}",
        "older": "Older articles",
        "newer": "Newer articles",
        "page_n": "Page {n}",
        "status_pending": "pending",
        "status_sending": "sending",
        "status_sent": "sent",
        "status_failed": "failed",
        "status_held": "held",
        "status_skipped": "skipped",
        "status_cancelled": "cancelled",
        "status_awaiting_approval": "awaiting approval",
        "coming_title_digest": "Digest",
        "coming_title_health": "Health",
        "coming_title_sent": "Sent",
        "coming": "This page is not built yet. Until it is, the command line has it: {command}.",
    },
    "de": {
        "desk": "Redaktion",
        "skip_to_content": "Zum Inhalt springen",
        "nav_label": "Bereiche",
        "nav_articles": "Artikel",
        "nav_digest": "Newsletter",
        "nav_health": "Zustand",
        "nav_sent": "Verschickt",
        "logout": "Abmelden",
        "signed_in_as": "Angemeldet als {name}",
        "login_title": "Anmelden",
        "username": "Name",
        "password": "Passwort",
        "login_button": "Anmelden",
        "login_failed": "Name oder Passwort falsch.",
        "login_limited": "Zu viele fehlgeschlagene Anmeldungen. Bitte in {minutes} Minute(n) erneut versuchen.",
        "logged_out": "Du bist abgemeldet.",
        "forbidden_title": "Nicht erlaubt",
        "csrf_failed": "Dieses Formular ist abgelaufen oder stammt nicht aus der Redaktionsansicht. Es wurde "
                       "nichts geändert. Geh zurück, lade die Seite neu und versuche es noch einmal.",
        "login_csrf_failed": "Das Anmeldeformular ist abgelaufen oder dein Browser lehnt Cookies ab. "
                             "Lade die Seite neu und versuche es noch einmal.",
        "bad_request_title": "Das hat nicht geklappt",
        "not_found_title": "Nicht gefunden",
        "articles_title": "Artikel",
        "articles_intro": "Die neuesten zuerst: die Kanäle jedes Artikels, der Stand seiner Beiträge und Links "
                          "zu dem, was verschickt wurde.",
        "no_articles": "Noch keine Artikel. Sie erscheinen hier, sobald eine Quelle abgefragt wurde "
                       "(`distributor ingest`).",
        "col_article": "Artikel",
        "col_language": "Sprache",
        "col_source": "Quelle",
        "col_channels": "Kanäle",
        "untitled": "(ohne Titel)",
        "warnings": "Warnungen",
        "no_deliveries": "Kein Kanal geplant.",
        "resend_n": "erneut {n}",
        "view_post": "Beitrag ansehen",
        "view_issue": "Ausgabe ansehen",
        "due": "fällig {time}",
        "older": "Ältere Artikel",
        "newer": "Neuere Artikel",
        "page_n": "Seite {n}",
        "status_pending": "geplant",
        "status_sending": "wird gesendet",
        "status_sent": "verschickt",
        "status_failed": "fehlgeschlagen",
        "status_held": "angehalten",
        "status_skipped": "übersprungen",
        "status_cancelled": "abgebrochen",
        "status_awaiting_approval": "wartet auf Freigabe",
        "coming_title_digest": "Newsletter",
        "coming_title_health": "Zustand",
        "coming_title_sent": "Verschickt",
        "coming": "Diese Seite gibt es noch nicht. Bis dahin zeigt es die Kommandozeile: {command}.",
    },
    "fr": {
        "desk": "Rédaction",
        "skip_to_content": "Aller au contenu",
        "nav_label": "Rubriques",
        "nav_articles": "Articles",
        "nav_digest": "Newsletter",
        "nav_health": "État",
        "nav_sent": "Envoyés",
        "logout": "Se déconnecter",
        "signed_in_as": "Connecté·e : {name}",
        "login_title": "Connexion",
        "username": "Nom",
        "password": "Mot de passe",
        "login_button": "Se connecter",
        "login_failed": "Nom ou mot de passe incorrect.",
        "login_limited": "Trop de connexions échouées. Réessayez dans {minutes} minute(s).",
        "logged_out": "Vous êtes déconnecté·e.",
        "forbidden_title": "Non autorisé",
        "csrf_failed": "Ce formulaire a expiré ou ne vient pas de la rédaction. Rien n'a été modifié. "
                       "Revenez en arrière, rechargez la page et réessayez.",
        "login_csrf_failed": "Le formulaire de connexion a expiré ou votre navigateur refuse les cookies. "
                             "Rechargez la page et réessayez.",
        "bad_request_title": "Cela n'a pas fonctionné",
        "not_found_title": "Introuvable",
        "articles_title": "Articles",
        "articles_intro": "Les plus récents d'abord : les canaux de chaque article, l'état de ses publications "
                          "et les liens vers ce qui est parti.",
        "no_articles": "Pas encore d'articles. Ils apparaissent ici dès qu'une source a été lue "
                       "(`distributor ingest`).",
        "col_article": "Article",
        "col_language": "Langue",
        "col_source": "Source",
        "col_channels": "Canaux",
        "untitled": "(sans titre)",
        "warnings": "Avertissements",
        "no_deliveries": "Aucun canal prévu.",
        "resend_n": "renvoi {n}",
        "view_post": "Voir la publication",
        "view_issue": "Voir le numéro",
        "due": "prévu {time}",
        "older": "Articles plus anciens",
        "newer": "Articles plus récents",
        "page_n": "Page {n}",
        "status_pending": "prévu",
        "status_sending": "en cours d'envoi",
        "status_sent": "envoyé",
        "status_failed": "échoué",
        "status_held": "retenu",
        "status_skipped": "ignoré",
        "status_cancelled": "annulé",
        "status_awaiting_approval": "en attente de validation",
        "coming_title_digest": "Newsletter",
        "coming_title_health": "État",
        "coming_title_sent": "Envoyés",
        "coming": "Cette page n'existe pas encore. En attendant, la ligne de commande l'affiche : {command}.",
    },
}

LANGUAGES = tuple(STRINGS)


def strings(language: str) -> dict[str, str]:
    return STRINGS.get(language, STRINGS[FALLBACK])


def choose(query_lang: str | None, accept_language: str | None) -> tuple[str, bool]:
    """(the page's language, whether `?lang=` chose it)."""
    if query_lang and query_lang.strip().lower() in STRINGS:
        return query_lang.strip().lower(), True
    return from_accept_language(accept_language or ""), False


def from_accept_language(header: str) -> str:
    """The supported language the browser prefers most (RFC 9110 weights;
    "de-CH" counts as "de"); English when it names none of them."""
    best, best_q = FALLBACK, 0.0
    for part in header.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary in STRINGS and best_q < q <= 1.0:
            best, best_q = primary, q
    return best
