"""The editors' Telegram bot ([desk.telegram]): the desk's essential actions
in the chat the editors already live in.

    bot.py        the Application (long polling), its handlers and its watcher
    commands.py   /latest /preview /send /skip /hold /release /resume /status /digest
    approvals.py  the approval message of each article, its buttons, a press
    alerts.py     alerts, once per event
    texts.py      what it writes (pure)
    context.py    the settings, store and clock every part works with

It runs inside `distributor run` and alone as `distributor editor-bot`.
Every action goes through the editor actions (distributor/actions/) with the
actor "telegram:<user id>"; what it posted and alerted is in the database
(store/editorbot.py). This package's __init__ imports nothing.
"""
