"""The desk's own strings, in English, German and French (templates see them
as `w.<key>`), and the one rule that picks the language of a desk page:
`?lang=` when it names one of them, else the browser's Accept-Language, else
English. The links and forms of a page reached with `?lang=` carry it on.

Status words are keyed `status_<status>`; a status without a word here is
shown as it is stored. What the articles themselves say (titles, the parser's
warnings) is shown as it is.
"""

from __future__ import annotations

from distributor.web.desk import strings_article, strings_digest, strings_health

FALLBACK = "en"
PAGES = (strings_article.STRINGS, strings_digest.STRINGS, strings_health.STRINGS)

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
        "no_such_article": "There is no article #{id}.",
        "preview_telegram": "Telegram",
        "preview_twitter": "X",
        "preview_newsletter": "Newsletter",
        "not_planned": "not planned",
        "no_channels_configured": "This article's edition has no Telegram, X or newsletter channel configured.",
        "render_failed": "Cannot be rendered: {error}",
        "photo": "The article's photo",
        "html_refused": "This HTML fails the Telegram check; it is shown as text:",
        "link_preview": "Link preview",
        "length_of": "{n} of {limit} characters",
        "weighted_of": "{n} of {limit} (weighted)",
        "thread_post": "Post {i} of {n}",
        "subject": "Subject",
        "email_phone": "Phone, {px} px",
        "email_desktop": "Desktop, {px} px",
        "email_frame": "The email at {px} px",
        "action_send": "Send now",
        "action_resend": "Resend",
        "action_skip": "Skip",
        "action_hold": "Hold",
        "action_release": "Release",
        "action_retry": "Retry",
        "reason_label": "Reason",
        "resend_confirm_box": "Post it once more",
        "resend_confirm_title": "Send it again?",
        "resend_confirm_question": "This article has already gone out on {channel}. Resending posts it once more, "
                                   "as a new post.",
        "back_to_article": "Back to the article",
        "flash_done": "{action} ({channel}): {outcome}",
        "flash_refused": "{action} ({channel}) was refused: {detail}",
        "flash_error": "{action} ({channel}) failed: {detail}",
        "last_attempt": "Last attempt: {outcome}, {time}",
        "remote_id": "Remote id",
        "recorded_request": "The recorded request",
        "earlier": "Earlier deliveries",
        "other_channels": "Other channels",
        "history": "History",
        "history_empty": "No action recorded yet.",
        "col_when": "When",
        "col_who": "Who",
        "col_what": "What",
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
        "no_such_article": "Es gibt keinen Artikel #{id}.",
        "preview_telegram": "Telegram",
        "preview_twitter": "X",
        "preview_newsletter": "Newsletter",
        "not_planned": "nicht geplant",
        "no_channels_configured": "Für die Ausgabe dieses Artikels ist weder Telegram, X noch ein Newsletter "
                                  "eingerichtet.",
        "render_failed": "Kann nicht dargestellt werden: {error}",
        "photo": "Das Foto des Artikels",
        "html_refused": "Dieses HTML besteht die Telegram-Prüfung nicht; es wird als Text gezeigt:",
        "link_preview": "Linkvorschau",
        "length_of": "{n} von {limit} Zeichen",
        "weighted_of": "{n} von {limit} (gewichtet)",
        "thread_post": "Beitrag {i} von {n}",
        "subject": "Betreff",
        "email_phone": "Handy, {px} px",
        "email_desktop": "Desktop, {px} px",
        "email_frame": "Die E-Mail mit {px} px",
        "action_send": "Jetzt senden",
        "action_resend": "Erneut senden",
        "action_skip": "Auslassen",
        "action_hold": "Anhalten",
        "action_release": "Freigeben",
        "action_retry": "Wiederholen",
        "reason_label": "Grund",
        "resend_confirm_box": "Noch einmal veröffentlichen",
        "resend_confirm_title": "Noch einmal senden?",
        "resend_confirm_question": "Dieser Artikel ist auf {channel} schon erschienen. Erneut senden veröffentlicht "
                                   "ihn noch einmal, als neuen Beitrag.",
        "back_to_article": "Zurück zum Artikel",
        "flash_done": "{action} ({channel}): {outcome}",
        "flash_refused": "{action} ({channel}) wurde abgelehnt: {detail}",
        "flash_error": "{action} ({channel}) ist fehlgeschlagen: {detail}",
        "last_attempt": "Letzter Versuch: {outcome}, {time}",
        "remote_id": "Entfernte ID",
        "recorded_request": "Die aufgezeichnete Anfrage",
        "earlier": "Frühere Zustellungen",
        "other_channels": "Weitere Kanäle",
        "history": "Verlauf",
        "history_empty": "Noch nichts aufgezeichnet.",
        "col_when": "Wann",
        "col_who": "Wer",
        "col_what": "Was",
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
        "no_such_article": "Il n'y a pas d'article n° {id}.",
        "preview_telegram": "Telegram",
        "preview_twitter": "X",
        "preview_newsletter": "Newsletter",
        "not_planned": "non prévu",
        "no_channels_configured": "L'édition de cet article n'a ni Telegram, ni X, ni newsletter configuré.",
        "render_failed": "Impossible à afficher : {error}",
        "photo": "La photo de l'article",
        "html_refused": "Ce HTML ne passe pas la vérification Telegram ; il est affiché comme texte :",
        "link_preview": "Aperçu du lien",
        "length_of": "{n} sur {limit} caractères",
        "weighted_of": "{n} sur {limit} (pondéré)",
        "thread_post": "Publication {i} sur {n}",
        "subject": "Objet",
        "email_phone": "Téléphone, {px} px",
        "email_desktop": "Ordinateur, {px} px",
        "email_frame": "L'e-mail à {px} px",
        "action_send": "Envoyer maintenant",
        "action_resend": "Renvoyer",
        "action_skip": "Ignorer",
        "action_hold": "Retenir",
        "action_release": "Libérer",
        "action_retry": "Réessayer",
        "reason_label": "Motif",
        "resend_confirm_box": "Le publier une nouvelle fois",
        "resend_confirm_title": "Renvoyer ?",
        "resend_confirm_question": "Cet article est déjà paru sur {channel}. Le renvoyer le publie une nouvelle "
                                   "fois, comme nouvelle publication.",
        "back_to_article": "Retour à l'article",
        "flash_done": "{action} ({channel}) : {outcome}",
        "flash_refused": "{action} ({channel}) a été refusé : {detail}",
        "flash_error": "{action} ({channel}) a échoué : {detail}",
        "last_attempt": "Dernière tentative : {outcome}, {time}",
        "remote_id": "Identifiant distant",
        "recorded_request": "La requête enregistrée",
        "earlier": "Envois précédents",
        "other_channels": "Autres canaux",
        "history": "Historique",
        "history_empty": "Aucune action enregistrée.",
        "col_when": "Quand",
        "col_who": "Qui",
        "col_what": "Quoi",
    },
}

LANGUAGES = tuple(STRINGS)

# Each desk page may keep its own strings in a module of its own
# (strings_<page>.py, with a STRINGS of the same three languages); they are
# merged into the common table here, and a key defined twice is a bug.
for _page in PAGES:
    for _lang, _table in _page.items():
        _twice = set(_table) & set(STRINGS[_lang])
        assert not _twice, f"desk strings defined twice: {sorted(_twice)}"
        STRINGS[_lang].update(_table)


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
