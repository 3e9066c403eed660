"""The desk's strings of the article page (/desk/articles/<id>): approval and editing, in English, German and French;
strings.py merges them into the desk's one table (templates see `w.<key>`)."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "action_approve": "Approve",
        "action_approve_all": "Approve all",
        "action_edit": "Edit",
        "action_unedit": "Remove edit",
        "status_approved": "approved",
        "status_correction_approved": "correction approved",
        "status_already_approved": "already approved",
        "status_edited": "edited",
        "status_removed": "removed",
        "approve_all_note": "Approves every channel of this article that awaits approval, as shown on this page.",
        "edit_summary": "Edit",
        "edit_label_telegram": "The Telegram post's text (HTML: b, i, u, s, a href, code, pre, blockquote, "
                               "tg-spoiler)",
        "edit_label_twitter": "The tweet; for a thread, a line of --- between the posts",
        "edit_label_newsletter": "The newsletter entry's text (plain text; the title and link stay)",
        "edit_help_telegram": "At most {limit} characters, as Telegram counts them.",
        "edit_help_twitter": "At most {limit} weighted characters per post (a link counts 23).",
        "edit_help_newsletter": "At most {limit} characters.",
        "edit_save": "Save edit",
        "edit_remove": "Remove edit",
        "edit_invalid": "Not saved: {error}",
        "edited_by": "Edited by {actor}, {time}: this text is what goes out.",
        "edit_stale": "Out of date: edited by {actor} for article version {version}; the article is at version "
                      "{current} now, so the template's text is shown and sent. Save the edit again to send it, "
                      "or remove it.",
        "edit_needs_approval": "In this channel an edit needs a fresh approval.",
    },
    "de": {
        "action_approve": "Genehmigen",
        "action_approve_all": "Alle genehmigen",
        "action_edit": "Bearbeiten",
        "action_unedit": "Bearbeitung entfernen",
        "status_approved": "genehmigt",
        "status_correction_approved": "Korrektur genehmigt",
        "status_already_approved": "bereits genehmigt",
        "status_edited": "bearbeitet",
        "status_removed": "entfernt",
        "approve_all_note": "Genehmigt jeden Kanal dieses Artikels, der auf Freigabe wartet, so wie auf dieser "
                            "Seite gezeigt.",
        "edit_summary": "Bearbeiten",
        "edit_label_telegram": "Text des Telegram-Beitrags (HTML: b, i, u, s, a href, code, pre, blockquote, "
                               "tg-spoiler)",
        "edit_label_twitter": "Der Tweet; für einen Thread eine Zeile --- zwischen den Beiträgen",
        "edit_label_newsletter": "Text des Newsletter-Eintrags (reiner Text; Titel und Link bleiben)",
        "edit_help_telegram": "Höchstens {limit} Zeichen, wie Telegram sie zählt.",
        "edit_help_twitter": "Höchstens {limit} gewichtete Zeichen pro Beitrag (ein Link zählt 23).",
        "edit_help_newsletter": "Höchstens {limit} Zeichen.",
        "edit_save": "Bearbeitung speichern",
        "edit_remove": "Bearbeitung entfernen",
        "edit_invalid": "Nicht gespeichert: {error}",
        "edited_by": "Bearbeitet von {actor}, {time}: dieser Text wird verschickt.",
        "edit_stale": "Veraltet: von {actor} für Artikelversion {version} bearbeitet; der Artikel ist jetzt in "
                      "Version {current}, daher wird der Text der Vorlage gezeigt und verschickt. Speichere die "
                      "Bearbeitung erneut, um sie zu verschicken, oder entferne sie.",
        "edit_needs_approval": "In diesem Kanal braucht eine Bearbeitung eine neue Genehmigung.",
    },
    "fr": {
        "action_approve": "Approuver",
        "action_approve_all": "Tout approuver",
        "action_edit": "Modifier",
        "action_unedit": "Retirer la modification",
        "status_approved": "approuvé",
        "status_correction_approved": "correction approuvée",
        "status_already_approved": "déjà approuvé",
        "status_edited": "modifié",
        "status_removed": "retiré",
        "approve_all_note": "Approuve chaque canal de cet article en attente d'approbation, tel que montré sur "
                            "cette page.",
        "edit_summary": "Modifier",
        "edit_label_telegram": "Le texte du message Telegram (HTML : b, i, u, s, a href, code, pre, blockquote, "
                               "tg-spoiler)",
        "edit_label_twitter": "Le tweet ; pour un fil, une ligne --- entre les messages",
        "edit_label_newsletter": "Le texte de l'entrée de la newsletter (texte brut ; le titre et le lien restent)",
        "edit_help_telegram": "Au plus {limit} caractères, comptés comme Telegram les compte.",
        "edit_help_twitter": "Au plus {limit} caractères pondérés par message (un lien compte 23).",
        "edit_help_newsletter": "Au plus {limit} caractères.",
        "edit_save": "Enregistrer la modification",
        "edit_remove": "Retirer la modification",
        "edit_invalid": "Non enregistré : {error}",
        "edited_by": "Modifié par {actor}, {time} : c'est ce texte qui part.",
        "edit_stale": "Périmé : modifié par {actor} pour la version {version} de l'article ; l'article en est à "
                      "la version {current}, le texte du modèle est donc montré et envoyé. Enregistrez la "
                      "modification à nouveau pour l'envoyer, ou retirez-la.",
        "edit_needs_approval": "Dans ce canal, une modification demande une nouvelle approbation.",
    },
}
