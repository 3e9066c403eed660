"""The public copy of a sent digest issue (`GET /archive/<edition>/<id>`).

It is the issue's stored HTML, as every recipient got it but with nothing
personal: the "view in browser" link (to this very page) is dropped, and the
footer that names the reader's subscription and carries their unsubscribe
token becomes a link to the signup page. The HTML is rendered once per issue,
before any recipient is known, so it holds no address; the per-recipient
{token} slot is the one personal thing, and no slot survives here.
"""

from __future__ import annotations

import html as html_lib
import re

from distributor.config import Settings
from distributor.errors import DistributorError
from distributor.store.issues import Issue, Issues
from distributor.render import i18n
from distributor.render.email import ISSUE_SLOT
from distributor.render.message import TOKEN_SLOT
from distributor.store.states import IssueStatus

_VIEW = re.compile(r"<!--view-->.*?<!--/view-->", re.DOTALL)
_READER = re.compile(r"<!--reader-->.*?<!--/reader-->", re.DOTALL)


def published_issue(engine, edition: str, issue_id: str) -> Issue | None:  # noqa: ANN001
    """The issue if it is public: it exists, belongs to the edition, and has
    reached readers (sent, or at least one batch out while the rest go)."""
    if not issue_id.isdigit() or len(issue_id) > 12:
        return None
    issues = Issues(engine)
    try:
        issue = issues.get(int(issue_id))
    except DistributorError:
        return None
    if issue.edition != edition:
        return None
    if issue.status == IssueStatus.SENT or any(b.status == "sent" for b in issues.batches(issue.id).values()):
        return issue
    return None


def public_html(settings: Settings, issue: Issue) -> str:
    """The issue's HTML with nothing personal in it."""
    t = i18n.strings(issue.edition)
    from distributor.render.variants import outlet_name

    base = settings.web.public_url
    subscribe_url = f"{base}/subscribe/{issue.edition}"
    name = outlet_name(settings, issue.edition) or "Newsletter"
    footer = (f'<p style="margin: 0 0 12px 0;font-family: Helvetica, Arial, sans-serif;font-size: 12px;'
              f'line-height: 18px;color: #777777;">{html_lib.escape(t["archive_reason"].format(name=name))} '
              f'<a href="{html_lib.escape(subscribe_url)}" style="color: #777777;">'
              f'{html_lib.escape(t["subscribe"])}</a></p>')
    out = issue.html.replace(ISSUE_SLOT, str(issue.id))
    out = _VIEW.sub("", out)
    out = _READER.sub(lambda _: footer, out)
    # An issue stored before the marks existed: its unsubscribe link goes to the signup page.
    out = out.replace(f"{base}/unsubscribe/{TOKEN_SLOT}", subscribe_url)
    return out.replace(TOKEN_SLOT, "")
