"""The editors' desk under /desk/ of the web app (web/app.py mounts it):

    GET  /desk/            the articles, newest first (?page=N)
    GET  /desk/login       the login form (?next=<a desk page>)
    POST /desk/login       username, password, csrf: a session cookie, 303 to next
    POST /desk/logout      csrf: the session ends, 303 to the login
    GET  /desk/articles/<id>       one article: its variants, states, buttons, history
                                   (?done=<audit id>: what a button just did)
    POST /desk/articles/<id>/act   action, kind[, delivery, reason, confirm, text, seen_version,
                                   seen_edit[_<kind>]], csrf: an editor action (act.py: Send now,
                                   Resend, Skip, Hold, Release, Retry, Approve, Approve all, Edit,
                                   Remove edit), 303 back to the article; an edit the platform's
                                   rules refuse: 400, the page with the error next to the field
    GET  /desk/digest      every newsletter edition's next issue (as it will look, its
                           subject, intro and articles editable), the past issues
                           with their progress and figures (?done=<audit id>)
    POST /desk/digest/act  action, edition[, subject, intro, delivery, address,
                           confirm], csrf: a digest action (digest_act.py), 303 back
    GET  /desk/health      what `distributor status` says, for people (health.py)
                           (?done=<audit id>: what a Resume button just did)
    POST /desk/health/resume   channel, csrf: resume a paused channel (resume.py),
                               303 back to the health page
    GET  /desk/sent        what went out (sent.py): ?from, to, edition, channel, page

Every page but the login goes through `guarded`: with no valid session it
answers 303 to the login with `next` (GET) and does nothing else; a POST
must carry the session's CSRF token in the field `csrf`, else 403 and
nothing changes. A handler gets a DeskRequest: the request, the session
(whose editor is the actor of what the editor does), the page's language
and strings, the CSRF token for its forms, and a POST's form fields.
Every desk page accepts `?lang=de|fr|en` (strings.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from distributor.config import Settings
from distributor.errors import DistributorError
from distributor.newsletter.tokens import web_secret
from distributor.render.env import Templates
from distributor.store import Store
from distributor.store.editors import Editor, Editors, Session, token_hash
from distributor.web.desk import act, article, articles, auth, digest_act, health, resume, sent, strings

FORM = "application/x-www-form-urlencoded"
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
MAX_FORM_BYTES = 64 * 1024  # an edited variant fits; a login is far smaller


@dataclass
class DeskRequest:
    request: Request
    session: Session
    lang: str
    w: dict[str, str]
    csrf: str
    # The query to carry on in links ("?lang=de" when ?lang= chose the language, else "").
    lang_query: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def editor(self) -> Editor:
        return self.session.editor


Handler = Callable[[DeskRequest], Awaitable[Response]]


class FormError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Desk:
    def __init__(self, settings: Settings, store: Callable[[], Store], *, clock: Callable[[], dt.datetime],
                 templates: Templates):
        self.settings = settings
        self._store = store
        self.clock = clock
        self.templates = templates
        web = settings.web
        self.prefix = urlsplit(web.public_url).path.rstrip("/") + "/desk"
        self.secure = web.public_url.lower().startswith("https://")
        self.lifetime = dt.timedelta(hours=web.desk_session_hours)
        self.signer = auth.Signer(web_secret(settings))
        self.per_client = auth.FailureLimiter(web.desk_failed_logins_per_client, auth.LOGIN_WINDOW_SECONDS)
        self.per_name = auth.FailureLimiter(web.desk_failed_logins_per_name, auth.LOGIN_WINDOW_SECONDS)

    @property
    def editors(self) -> Editors:
        return Editors(self._store().engine)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.guarded(self.articles), methods=["GET"]),
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.guarded(self.logout), methods=["POST"]),
            Route("/articles/{article_id:int}", self.guarded(self.article), methods=["GET"]),
            Route("/articles/{article_id:int}/act", self.guarded(self.act), methods=["POST"]),
            Route("/digest", self.guarded(lambda d: digest_act.show(self, d)), methods=["GET"]),
            Route("/digest/act", self.guarded(lambda d: digest_act.act(self, d, headers)), methods=["POST"]),
            Route("/health", self.guarded(self.health), methods=["GET"]),
            Route("/health/resume", self.guarded(self.resume), methods=["POST"]),
            Route("/sent", self.guarded(self.sent), methods=["GET"]),
        ]

    # ------------------------------------------------------------ sessions

    def language(self, request: Request) -> tuple[str, str]:
        """(language, the query that keeps it in links)."""
        lang, explicit = strings.choose(request.query_params.get("lang"), request.headers.get("accept-language"))
        return lang, (f"?lang={lang}" if explicit else "")

    async def session_of(self, request: Request) -> tuple[Session | None, str | None]:
        """The request's live session and its token, or (None, None)."""
        token = self.signer.unsign(auth.SESSION_COOKIE, request.cookies.get(auth.SESSION_COOKIE))
        if token is None:
            return None, None
        session = await asyncio.to_thread(self.editors.session, token_hash(token), now=self.clock())
        return (session, token) if session is not None else (None, None)

    def guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint for a desk page: a session or a 303 to the login; for a
        POST, the form read and its CSRF token checked (403 otherwise)."""

        async def endpoint(request: Request) -> Response:
            lang, lang_query = self.language(request)
            session, token = await self.session_of(request)
            if session is None or token is None:
                return self.to_login(request, lang_query)
            w = strings.strings(lang)
            desk = DeskRequest(request, session, lang, w, self.signer.csrf(auth.SESSION_COOKIE, token), lang_query)
            if request.method == "POST":
                try:
                    desk.fields = await read_form(request)
                except FormError as exc:
                    return self.message(desk, exc.status, w["bad_request_title"], str(exc))
                if not self.signer.csrf_ok(auth.SESSION_COOKIE, token, desk.fields.get(auth.CSRF_FIELD)):
                    return self.message(desk, 403, w["forbidden_title"], w["csrf_failed"])
            return await handler(desk)

        return endpoint

    def to_login(self, request: Request, lang_query: str) -> Response:
        params = {}
        if request.method == "GET":
            path = quote(self.prefix + self.within(request), safe="/")
            target = path + (f"?{request.url.query}" if request.url.query else "")
            if auth.safe_next(target, self.prefix):
                params["next"] = target
        if lang_query:
            params["lang"] = lang_query.removeprefix("?lang=")
        response = RedirectResponse(f"{self.prefix}/login" + (f"?{urlencode(params)}" if params else ""), 303)
        if request.cookies.get(auth.SESSION_COOKIE):
            self.clear_cookie(response, auth.SESSION_COOKIE)
        return headers(response)

    @staticmethod
    def within(request: Request) -> str:
        """The request's path inside the desk ("/", "/digest")."""
        return str(request.scope["path"]).removeprefix(str(request.scope.get("root_path", ""))) or "/"

    def set_cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, max_age=max_age, path=self.prefix, secure=self.secure, httponly=True,
                            samesite="lax")

    def clear_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path=self.prefix, secure=self.secure, httponly=True, samesite="lax")

    # ------------------------------------------------------------ login, logout

    async def login(self, request: Request) -> Response:
        lang, lang_query = self.language(request)
        w = strings.strings(lang)
        next_page = auth.safe_next(request.query_params.get("next"), self.prefix)
        if request.method == "GET":
            session, _token = await self.session_of(request)
            if session is not None:
                return headers(RedirectResponse(next_page or f"{self.prefix}/{lang_query}", 303))
        login_token = self.signer.unsign(auth.LOGIN_COOKIE, request.cookies.get(auth.LOGIN_COOKIE))
        fresh = login_token is None
        if request.method == "GET":
            return self.login_page(lang, lang_query, next_page, login_token or auth.new_token(), fresh, 200)
        try:
            fields = await read_form(request)
        except FormError as exc:
            return self.login_page(lang, lang_query, next_page, login_token or auth.new_token(), fresh, exc.status,
                                   error=str(exc))
        if not self.signer.csrf_ok(auth.LOGIN_COOKIE, login_token, fields.get(auth.CSRF_FIELD)):
            return self.login_page(lang, lang_query, next_page, login_token or auth.new_token(), fresh, 403,
                                   error=w["login_csrf_failed"])
        assert login_token is not None  # csrf_ok needs one
        name = fields.get("username", "").strip().lower()[:64]
        client = request.client.host if request.client else "?"
        now = self.clock()
        wait = max(self.per_client.blocked(client, now.timestamp()) or 0,
                   self.per_name.blocked(name, now.timestamp()) or 0)
        if wait:
            return self.login_page(lang, lang_query, next_page, login_token, False, 429,
                                   error=w["login_limited"].format(minutes=-(-wait // 60)), username=name,
                                   extra={"Retry-After": str(wait)})
        editor = await asyncio.to_thread(self.editors.authenticate, name, fields.get("password", ""), now=now)
        if editor is None:
            self.per_client.fail(client, now.timestamp())
            self.per_name.fail(name, now.timestamp())
            return self.login_page(lang, lang_query, next_page, login_token, False, 401, error=w["login_failed"],
                                   username=name)
        token = auth.new_token()  # a new session on every login: nothing carried over from before it
        await asyncio.to_thread(self.editors.start_session, editor, token_hash(token), now=now,
                                expires_at=now + self.lifetime)
        response = RedirectResponse(next_page or f"{self.prefix}/{lang_query}", 303)
        self.set_cookie(response, auth.SESSION_COOKIE, self.signer.sign(auth.SESSION_COOKIE, token),
                        int(self.lifetime.total_seconds()))
        self.clear_cookie(response, auth.LOGIN_COOKIE)
        return headers(response)

    def login_page(self, lang: str, lang_query: str, next_page: str | None, login_token: str, fresh: bool,
                   status: int, *, error: str = "", username: str = "",
                   extra: dict[str, str] | None = None) -> Response:
        w = strings.strings(lang)
        query = {k: v for k, v in (("next", next_page), ("lang", lang_query.removeprefix("?lang="))) if v}
        response = self.render(lang, "login", status, w=w, title=w["login_title"], error=error, username=username,
                               action=f"{self.prefix}/login" + (f"?{urlencode(query)}" if query else ""),
                               csrf=self.signer.csrf(auth.LOGIN_COOKIE, login_token), extra=extra)
        if fresh:
            self.set_cookie(response, auth.LOGIN_COOKIE, self.signer.sign(auth.LOGIN_COOKIE, login_token), None)
        return response

    async def logout(self, desk: DeskRequest) -> Response:
        await asyncio.to_thread(self.editors.end_session, desk.session.token_hash)
        response = RedirectResponse(f"{self.prefix}/login{desk.lang_query}", 303)
        self.clear_cookie(response, auth.SESSION_COOKIE)
        return headers(response)

    # ------------------------------------------------------------ pages

    async def articles(self, desk: DeskRequest) -> Response:
        raw = desk.request.query_params.get("page", "1")
        page_no = int(raw) if raw.isdigit() and 0 < len(raw) < 7 else 1
        page = await asyncio.to_thread(articles.article_page, self.settings, self._store(), max(1, page_no))
        sep = "&" if desk.lang_query else "?"
        return self.page(desk, "articles", title=desk.w["articles_title"], current="articles", page=page,
                         older=f"{self.prefix}/{desk.lang_query}{sep}page={page.page + 1}",
                         newer=f"{self.prefix}/{desk.lang_query}{sep}page={page.page - 1}")

    async def article(self, desk: DeskRequest, *, status: int = 200, edit_error: tuple[str, str, str] | None = None
                      ) -> Response:
        """The article page; `edit_error`: (kind, the text sent, what is wrong) for the edit form."""
        article_id = int(desk.request.path_params["article_id"])
        store = self._store()
        try:
            detail = await asyncio.to_thread(article.article_detail, self.settings, store, article_id)
        except DistributorError:
            return self.message(desk, 404, desk.w["not_found_title"], desk.w["no_such_article"].format(id=article_id))
        done = await asyncio.to_thread(act.entry_of, store, article_id, desk.request.query_params.get("done"))
        title = detail.article.title or detail.article.label
        return self.page(desk, "article", status, title=title, current="articles", detail=detail, done=done,
                         edit_error=edit_error,
                         action=f"{self.prefix}/articles/{article_id}/act{desk.lang_query}",
                         # The article's photo and the email's images come from the magazine's site.
                         extra={"Content-Security-Policy": CSP.replace("img-src 'self' data:",
                                                                       "img-src 'self' data: https: http:")})

    async def act(self, desk: DeskRequest) -> Response:
        article_id = int(desk.request.path_params["article_id"])
        store = self._store()
        try:
            stored = await asyncio.to_thread(store.get_article, article_id)
        except DistributorError:
            return self.message(desk, 404, desk.w["not_found_title"], desk.w["no_such_article"].format(id=article_id))
        rows = await asyncio.to_thread(store.deliveries, article_id=stored.id)
        try:
            pressed = act.read(desk.fields, {d.id: d.kind for d in rows})
        except act.BadForm as exc:
            return self.message(desk, 400, desk.w["bad_request_title"], str(exc))
        back = f"{self.prefix}/articles/{article_id}{desk.lang_query}"
        if pressed.action == "resend" and not pressed.confirmed:
            return self.page(desk, "confirm", title=desk.w["resend_confirm_title"], current="articles",
                             pressed=pressed, back=back, channel=f"{stored.article.language}.{pressed.kind}",
                             action=f"{self.prefix}/articles/{article_id}/act{desk.lang_query}")
        try:
            done = await act.perform(self.settings, store, self.clock, article_id, pressed,
                                     act.actor_of(desk.editor.name))
        except act.edits.EditRefused as exc:
            return await self.article(desk, status=400, edit_error=(pressed.kind, pressed.text or "", str(exc)))
        sep = "&" if desk.lang_query else "?"
        anchor = f"#channel-{pressed.kind}" if pressed.kind in article.PREVIEWED else "#flash"
        target = back + (f"{sep}done={done}" if done is not None else "") + anchor
        return headers(RedirectResponse(target, 303))

    async def health(self, desk: DeskRequest) -> Response:
        store = self._store()
        data = await asyncio.to_thread(health.health_page, self.settings, store, self.clock())
        done = await asyncio.to_thread(resume.entry_of, store, desk.request.query_params.get("done"))
        return self.page(desk, "health", title=desk.w["health_title"], current="health", health=data, done=done,
                         action=f"{self.prefix}/health/resume{desk.lang_query}")

    async def resume(self, desk: DeskRequest) -> Response:
        try:
            channel = resume.read(desk.fields)
        except act.BadForm as exc:
            return self.message(desk, 400, desk.w["bad_request_title"], str(exc))
        done = await resume.perform(self.settings, self._store(), self.clock, channel, act.actor_of(desk.editor.name))
        sep = "&" if desk.lang_query else "?"
        target = f"{self.prefix}/health{desk.lang_query}" + (f"{sep}done={done}" if done is not None else "")
        return headers(RedirectResponse(target + "#flash", 303))

    async def sent(self, desk: DeskRequest) -> Response:
        params = {k: desk.request.query_params.get(k, "") for k in sent.FIELDS}
        ctx: dict[str, Any] = dict(title=desk.w["sent_title"], current="sent", params=params,
                                   editions=sent.editions(self.settings), channels=sent.channels(self.settings),
                                   zones=sent.zone_names(self.settings))
        try:
            filters = sent.read_filters(self.settings, params)
        except sent.FilterError as exc:
            error = desk.w[exc.key].format(**exc.values)
            return self.page(desk, "sent", 400, error=error, error_field=exc.field, listing=None, **ctx)
        listing = await asyncio.to_thread(sent.sent_page, self.settings, self._store(), filters)
        base = f"{self.prefix}/sent"

        def link(page_no: int) -> str:
            query = {**({"lang": desk.lang} if desk.lang_query else {}), **filters.query(page_no)}
            return base + (f"?{urlencode(query)}" if query else "")

        return self.page(desk, "sent", listing=listing, error=None, error_field=None,
                         older=link(listing.page + 1), newer=link(listing.page - 1), **ctx)

    def page(self, desk: DeskRequest, template: str, status: int = 200, **ctx: Any) -> Response:
        """A desk page in the base layout, with the nav and the logout form."""
        return self.render(desk.lang, template, status, w=desk.w, editor=desk.editor.name, csrf=desk.csrf,
                           lang_query=desk.lang_query, **{"current": "", **ctx})

    def message(self, desk: DeskRequest, status: int, title: str, message: str) -> Response:
        return self.page(desk, "message", status, title=title, message=message)

    def render(self, lang: str, template: str, status: int, *, extra: dict[str, str] | None = None,
               **ctx: Any) -> Response:
        html = self.templates.render(lang, f"desk/{template}.html.j2", prefix=self.prefix, **ctx)
        return headers(HTMLResponse(html, status_code=status), extra)


def headers(response: Response, extra: dict[str, str] | None = None) -> Response:
    """What every desk answer carries: never cached, never framed, nothing
    loaded from elsewhere, no address of the desk in a Referer."""
    response.headers.update({
        "Cache-Control": "no-store", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY", "Content-Security-Policy": CSP, **(extra or {})})
    return response


async def read_form(request: Request) -> dict[str, str]:
    """An url-encoded form's fields, from a capped body; FormError otherwise."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise FormError(413, f"the form is too large (at most {MAX_FORM_BYTES} bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormError(413, f"the form is too large (at most {MAX_FORM_BYTES} bytes)")
        chunks.append(chunk)
    if not size and not ctype:
        return {}  # no body at all: an empty form (it has no CSRF token either)
    if ctype != FORM:
        raise FormError(415, f"send the form as {FORM}")
    try:
        pairs = parse_qsl(b"".join(chunks).decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except UnicodeDecodeError:
        raise FormError(400, "the form is not UTF-8") from None
    except ValueError:
        raise FormError(400, "too many form fields") from None
    return dict(pairs)
