"""The browser session: a signed cookie (itsdangerous, keyed from the JWT secret) holding the
person's bearer token and the CSRF token of their forms; the token is checked on every
request as the API checks a bearer token (`services.api.deps.verified_principal`: verified
once, then recognised until it expires), so an expired or revoked-by-rotation token ends
the session. `HttpOnly`, `SameSite=Lax`, `Secure` when Pakta is served over https."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import Response

from services.api.deps import verified_principal
from services.api.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, READER_ZONES, Translator
from services.auth import DEFAULT_TTL_SECONDS, Principal
from services.errors import PaktaError
from services.settings import Settings

SESSION_COOKIE = "pakta_session"
LANG_COOKIE = "pakta_lang"
ZONE_COOKIE = "pakta_zone"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
YEAR = 365 * 24 * 3600
# The longest `next` or `back` target kept, as it would stand in a `Location` header
# (percent-encoded): about what browsers and proxies keep of a URL. A longer one went whole
# into the `Location` header and into the OIDC sign-in's session cookie, past the 4 KB a
# browser keeps of a cookie, so that sign-in silently failed.
MAX_NEXT_CHARS = 2000
# The longest text a refused form shows again: twice the most any form's field takes (a
# long text's 20,000 characters; `workflows.messages.LongText`). Whatever a person meant to
# write comes back whole, to be shortened rather than typed again: a description of 3,000
# characters over a limit of 2,000, or even an objective of 30,000 over 20,000. Only what no
# field could ever take is cut: a field of a megabyte comes back as 40,000 characters, not
# as a page of a megabyte. One bound rather than each field's own: the forms' values are
# shown again by name, and a field's bound lives in the messages, not in the form.
MAX_ECHO_CHARS = 40_000
# What `RedirectResponse` leaves as it is when it writes a URL into `Location`.
_LOCATION_SAFE = ":/%#?=@[]!$&'()*+,;"


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    pass


# The forms' file fields: a wet-ink signature's scan, a report's evidence, a meeting's minutes.
FILE_FIELDS = frozenset({"scan", "evidence", "document"})


class FormUnreadable(Exception):
    """A multipart form Starlette will not read: a text field over 1 MB, or over 1,000 fields
    or files (its `HTTPException`, which the API's handler writes as the error shape's JSON)."""


class FieldNotText(Exception):
    """A form's text field sent as a file (multipart, with a file name)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    # A key of its own, derived from the JWT secret: a session cookie is never a token.
    key = hmac.new(settings.jwt_secret.encode(), b"pakta.web.session", hashlib.sha256).hexdigest()
    return URLSafeTimedSerializer(key, salt="pakta.web.session.v1")


@dataclass
class WebSession:
    """One request's view of the browser session and the reader's preferences."""

    settings: Settings
    data: dict[str, Any]
    principal: Principal | None
    lang: str
    zone: str
    dirty: bool = False
    cookies: dict[str, str] = field(default_factory=dict)
    # The register's names (Indonesian, English) of the reader's organisation, once a page
    # has read them (`services.api.web.pages.with_zone`); None: not read, or not registered.
    org_names: tuple[str | None, str | None] | None = None

    @property
    def org_name(self) -> str:
        """The reader's organisation as the pages name every other one: the register's name
        (`name_en` for an English reader where it has one), else the id."""
        if self.principal is None:
            return ""
        name_id, name_en = self.org_names or (None, None)
        return (name_en if self.lang == "en" and name_en else name_id) or self.principal.org

    @property
    def csrf(self) -> str:
        return str(self.data["c"])  # always a string: `load_session` and `sign_in` see to it

    @property
    def tr(self) -> Translator:
        return Translator(self.lang, self.zone)

    def sign_in(self, token: str, principal: Principal) -> None:
        self.data = {"t": token, "c": secrets.token_urlsafe(32)}  # a fresh CSRF token per sign-in
        self.principal = principal
        self.dirty = True

    def sign_out(self) -> None:
        self.data = {"c": secrets.token_urlsafe(32)}
        self.principal = None
        self.dirty = True

    def require(self, request: Request) -> Principal:
        if self.principal is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(path)
        return self.principal

    def check_csrf(self, submitted: object) -> None:
        # Compared as bytes: `compare_digest` raises a TypeError for a text holding anything
        # beyond ASCII, which a forged field or header may (a 500, not the refusal).
        given = str(submitted).encode("utf-8", "surrogatepass") if submitted else b""
        if not given or not hmac.compare_digest(given, self.csrf.encode()):
            raise CsrfRefused()

    def apply(self, response: Response) -> Response:
        secure = self.settings.public_url.startswith("https://")
        if self.dirty:
            value = _serializer(self.settings).dumps(self.data)
            response.set_cookie(
                SESSION_COOKIE,
                value,
                max_age=DEFAULT_TTL_SECONDS,
                httponly=True,
                samesite="lax",
                secure=secure,
                path="/",
            )
        for name, value in self.cookies.items():
            response.set_cookie(name, value, max_age=YEAR, httponly=True, samesite="lax", secure=secure, path="/")
        return response


async def load_session(request: Request) -> WebSession:
    settings: Settings = request.app.state.settings
    loaded: object = None
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        try:
            loaded = _serializer(settings).loads(raw, max_age=DEFAULT_TTL_SECONDS)
        except BadSignature:
            loaded = None
    data: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    dirty = False
    if not isinstance(data.get("c"), str):
        data, dirty = {"c": secrets.token_urlsafe(32)}, True
    principal = None
    token = data.get("t")
    if isinstance(token, str):
        try:
            principal = await verified_principal(request, token)
        except PaktaError:
            data, dirty = {"c": data["c"]}, True
    lang = request.cookies.get(LANG_COOKIE)
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    zone = request.cookies.get(ZONE_COOKIE) or ""
    if zone not in READER_ZONES:
        zone = ""
    return WebSession(settings=settings, data=data, principal=principal, lang=lang, zone=zone, dirty=dirty)


async def posted_form(request: Request, ws: WebSession) -> FormData:
    """The posted form, once its CSRF token (field or header) is checked and each field is of
    its kind: a file only in a file field. A text field sent as a file was read as the text
    of its `UploadFile`'s repr, which a feedback or a draft stored as it was. A form Starlette
    will not read (a field over 1 MB, over 1,000 fields) is `FormUnreadable`, the site's 400
    page rather than the API's JSON."""
    try:
        form = await request.form()
    except HTTPException as error:
        raise FormUnreadable(error.detail) from None
    ws.check_csrf(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER))
    for name, value in form.multi_items():
        if not isinstance(value, str) and name not in FILE_FIELDS:
            raise FieldNotText(name)
    return form


def echoed(values: dict[str, Any]) -> dict[str, Any]:
    """A refused form's values as the page shows them again: each text cut to
    `MAX_ECHO_CHARS`. A refused field of a megabyte came back whole, so the page answering
    a refusal was a megabyte."""
    return {
        name: value[:MAX_ECHO_CHARS] if isinstance(value, str) and len(value) > MAX_ECHO_CHARS else value
        for name, value in values.items()
    }


def safe_next(value: str | None, default: str = "/ui/") -> str:
    """Only a path of this site: no scheme, no host, no `//` (an open redirect), and no
    longer than `MAX_NEXT_CHARS` once percent-encoded; otherwise `default`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    # Percent-encoding at most triples the UTF-8 bytes, which are at most four per
    # character: a value this short fits without encoding it.
    if len(value) * 12 > MAX_NEXT_CHARS and len(quote(value, safe=_LOCATION_SAFE, errors="replace")) > MAX_NEXT_CHARS:
        return default
    return value


def sign_in_url(next_path: str) -> str:
    """The sign-in page, coming back to `next_path` after; to the inbox if that is too long
    to come back to (the sign-in form would drop it anyway)."""
    return f"/ui/signin?next={quote(safe_next(next_path), safe='/')}"
