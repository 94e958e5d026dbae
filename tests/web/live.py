"""The live stack of the web tests (a real HTTP server the browser can reach) and helpers
for driving pages: signing in, screenshots at desktop and phone widths, the forms of a page."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx

from services.auth import mint_token
from services.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_installed() -> bool:
    return os.path.exists(CHROMIUM)


# Where the run writes its screenshots for review (git-ignored, like all of .pakta/).
SCREENSHOTS = Path(os.environ.get("PAKTA_SCREENSHOTS", ".pakta/screenshots"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class User:
    sub: str
    org: str
    roles: tuple[str, ...]
    gates: tuple[str, ...] = ()


@dataclass
class LiveStack:
    http: httpx.AsyncClient
    settings: Settings
    sessionmaker: Any
    base_url: str
    _tokens: dict[User, str] = field(default_factory=dict)

    def user(self, org: str, *roles: str, gates: tuple[str, ...] = ()) -> User:
        return User(sub=f"{roles[0]}@{org}", org=org, roles=tuple(roles), gates=tuple(gates))

    def token(self, user: User) -> str:
        if user not in self._tokens:
            self._tokens[user] = mint_token(
                self.settings, sub=user.sub, org=user.org, roles=user.roles, gates=user.gates
            )
        return self._tokens[user]

    def auth(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    async def api(self, user: User, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.auth(user), **kw.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kw)

    async def signed_in_client(self, user: User) -> httpx.AsyncClient:
        """An httpx client holding a web session of `user` (signed in through the form)."""
        client = httpx.AsyncClient(base_url=self.base_url, timeout=60)
        page = await client.get("/ui/signin")
        csrf = csrf_of(page.text)
        resp = await client.post("/ui/signin", data={"csrf": csrf, "token": self.token(user), "next": "/ui/"})
        assert resp.status_code == 303, resp.text
        return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(), "action": a.get("action"), "fields": {}})
        elif tag in ("input", "textarea", "select", "button") and self.forms and a.get("name"):
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value") or "x")


def post_forms(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return [f for f in parser.forms if f["method"] == "post"]


def outside_hosts(html: str, base_url: str) -> set[str]:
    """Every http(s) host the page names other than the server under test."""
    own = httpx.URL(base_url).host
    hosts = {m.group(1) for m in re.finditer(r"https?://([^/\"'\s<>:]+)", html)}
    return {h for h in hosts if h != own}


async def screenshot(page, name: str) -> None:
    """The page at desktop and at phone width, full length."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        # Usable on a phone: nothing wider than the screen (wide tables scroll in their box).
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], (name, label, width)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)


async def posted_without_csrf(web: LiveStack, user: User, pages: dict[str, str]) -> set[str]:
    """Post every form of `pages` (their HTML) as `user` without its CSRF token, asserting each
    is refused with a 403 page; the actions posted."""
    actions = {f["action"]: f["fields"] for html in pages.values() for f in post_forms(html)}
    client = await web.signed_in_client(user)
    try:
        for action, fields in actions.items():
            bare = {k: v for k, v in fields.items() if k != "csrf"}
            resp = await client.post(action, data=bare)
            assert resp.status_code == 403 and "<main" in resp.text, (action, resp.status_code)
    finally:
        await client.aclose()
    return set(actions)
