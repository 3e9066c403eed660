"""Editor actions: one function per thing an editor does, called alike by the
CLI, the desk (web) and the editors' bot, each taking the opened App
(distributor/app.py), plain arguments and the `actor` who did it, and
returning a result the edge shows. No edge decides a state change or a wait:
that is done here and in the store's transition table (store/outbox.py).

    deliveries.py   approve, approve_article, send_now, resend, skip, hold, release, retry, resume
    digest.py       send_digest, test_copy, resend_issue_copy, release_issue
    edits.py        edit_variant, remove_edit (an editor's own text for one variant)
    common.py       the results (ApprovalResult, ArticleApproval among them), the audit bracket,
                    cli_actor()

Every action is recorded in the audit history (store/audit.py) with its
actor: a state change in the same transaction as its audit row; a send or a
digest issue "started" before it acts and concluded after; a refused action
(an impossible transition, a paused channel, an unknown id, a configuration
error) with the refusal as its detail, then raised to the caller unchanged.

This package's __init__ imports nothing: import the module you need
(`from distributor.actions.deliveries import hold`).
"""
