"""The reader pages' strings, per language (templates see them as `w.<key>`).

`consent` is the wording a reader agrees to by signing up; it is stored with
the subscriber, word for word, in the language they saw.
"""

from __future__ import annotations

FALLBACK = "en"

STRINGS: dict[str, dict[str, str]] = {
    "de": {
        "subscribe_title": "Newsletter von {name} abonnieren",
        "subscribe_intro": "Einmal pro Woche unsere neuen Artikel per E-Mail.",
        "email_label": "E-Mail-Adresse",
        "subscribe_button": "Abonnieren",
        "consent": "Ich möchte den wöchentlichen Newsletter von {name} per E-Mail erhalten. "
                   "Ich kann ihn jederzeit mit einem Klick abbestellen.",
        "honeypot_label": "Bitte leer lassen",
        "check_inbox_title": "Bitte prüft euer Postfach",
        "check_inbox": "Wenn die Adresse noch nicht angemeldet ist, haben wir euch eine E-Mail mit einem "
                       "Bestätigungslink geschickt. Erst nach der Bestätigung erhaltet ihr den Newsletter.",
        "confirm_title": "Abonnement bestätigen",
        "confirm_question": "Möchtet ihr den Newsletter von {name} an {email} erhalten?",
        "confirm_button": "Ja, Abonnement bestätigen",
        "confirmed_title": "Danke!",
        "confirmed": "Euer Abonnement ist bestätigt. Der nächste Newsletter kommt zu euch.",
        "not_pending": "Dieser Link kann nicht mehr verwendet werden. Meldet euch bei Bedarf neu an.",
        "unsubscribe_title": "Newsletter abbestellen",
        "unsubscribe_question": "Möchtet ihr den Newsletter von {name} an {email} abbestellen?",
        "unsubscribe_button": "Abmelden",
        "unsubscribed_title": "Abgemeldet",
        "unsubscribed": "Ihr erhaltet den Newsletter von {name} nicht mehr.",
        "error_title": "Das hat nicht geklappt",
        "back": "Zurück zum Formular",
    },
    "fr": {
        "subscribe_title": "S'abonner à la newsletter de {name}",
        "subscribe_intro": "Nos nouveaux articles, une fois par semaine, par e-mail.",
        "email_label": "Adresse e-mail",
        "subscribe_button": "S'abonner",
        "consent": "Je souhaite recevoir la newsletter hebdomadaire de {name} par e-mail. "
                   "Je peux me désabonner à tout moment d'un clic.",
        "honeypot_label": "Laisser vide",
        "check_inbox_title": "Consultez votre boîte de réception",
        "check_inbox": "Si cette adresse n'est pas encore inscrite, nous vous avons envoyé un e-mail avec un "
                       "lien de confirmation. Vous recevrez la newsletter après confirmation.",
        "confirm_title": "Confirmer l'abonnement",
        "confirm_question": "Souhaitez-vous recevoir la newsletter de {name} à l'adresse {email} ?",
        "confirm_button": "Oui, confirmer l'abonnement",
        "confirmed_title": "Merci !",
        "confirmed": "Votre abonnement est confirmé. Vous recevrez la prochaine newsletter.",
        "not_pending": "Ce lien ne peut plus être utilisé. Inscrivez-vous à nouveau si besoin.",
        "unsubscribe_title": "Se désabonner de la newsletter",
        "unsubscribe_question": "Voulez-vous ne plus recevoir la newsletter de {name} à l'adresse {email} ?",
        "unsubscribe_button": "Se désabonner",
        "unsubscribed_title": "Désabonnement effectué",
        "unsubscribed": "Vous ne recevrez plus la newsletter de {name}.",
        "error_title": "Cela n'a pas fonctionné",
        "back": "Retour au formulaire",
    },
    "en": {
        "subscribe_title": "Subscribe to the {name} newsletter",
        "subscribe_intro": "Our new articles by email, once a week.",
        "email_label": "Email address",
        "subscribe_button": "Subscribe",
        "consent": "I want to receive the weekly {name} newsletter by email. "
                   "I can unsubscribe at any time with one click.",
        "honeypot_label": "Leave this empty",
        "check_inbox_title": "Please check your inbox",
        "check_inbox": "If this address is not subscribed yet, we have sent it an email with a confirmation "
                       "link. The newsletter starts once you confirm.",
        "confirm_title": "Confirm your subscription",
        "confirm_question": "Do you want to receive the {name} newsletter at {email}?",
        "confirm_button": "Yes, confirm my subscription",
        "confirmed_title": "Thank you!",
        "confirmed": "Your subscription is confirmed. The next newsletter will reach you.",
        "not_pending": "This link can no longer be used. Sign up again if you wish.",
        "unsubscribe_title": "Unsubscribe from the newsletter",
        "unsubscribe_question": "Do you want to stop receiving the {name} newsletter at {email}?",
        "unsubscribe_button": "Unsubscribe",
        "unsubscribed_title": "Unsubscribed",
        "unsubscribed": "You will no longer receive the {name} newsletter.",
        "error_title": "That did not work",
        "back": "Back to the form",
    },
    "ru": {
        "subscribe_title": "Подписка на рассылку {name}",
        "subscribe_intro": "Раз в неделю — наши новые статьи по электронной почте.",
        "email_label": "Адрес электронной почты",
        "subscribe_button": "Подписаться",
        "consent": "Я хочу получать еженедельную рассылку {name} по электронной почте. "
                   "Я могу отписаться в любой момент одним нажатием.",
        "honeypot_label": "Оставьте пустым",
        "check_inbox_title": "Проверьте почту",
        "check_inbox": "Если этот адрес ещё не подписан, мы отправили на него письмо со ссылкой для "
                       "подтверждения. Рассылка начнётся после подтверждения.",
        "confirm_title": "Подтверждение подписки",
        "confirm_question": "Вы хотите получать рассылку {name} на адрес {email}?",
        "confirm_button": "Да, подтвердить подписку",
        "confirmed_title": "Спасибо!",
        "confirmed": "Подписка подтверждена. Следующая рассылка придёт к вам.",
        "not_pending": "Эта ссылка больше недействительна. При желании подпишитесь заново.",
        "unsubscribe_title": "Отписка от рассылки",
        "unsubscribe_question": "Вы хотите больше не получать рассылку {name} на адрес {email}?",
        "unsubscribe_button": "Отписаться",
        "unsubscribed_title": "Вы отписались",
        "unsubscribed": "Вы больше не будете получать рассылку {name}.",
        "error_title": "Не получилось",
        "back": "Назад к форме",
    },
}


def strings(language: str) -> dict[str, str]:
    return STRINGS.get(language, STRINGS[FALLBACK])
