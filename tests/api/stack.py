"""The whole Pakta stack in-process for end-to-end tests: the real app (lifespan and all)
over httpx, a real worker on the Temporal dev server, the embedded PostgreSQL.

The `stack` fixture that builds it is in tests/api/conftest.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from services.auth import mint_token
from services.settings import Settings


def recorded(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without what is computed at the moment of reading (the health's `as_of`)."""
    health = snapshot.get("health")
    return {**snapshot, "health": {**health, "as_of": None}} if health else snapshot


@dataclass(frozen=True)
class User:
    sub: str
    org: str
    roles: tuple[str, ...]
    gates: tuple[str, ...] = ()


@dataclass
class Stack:
    http: httpx.AsyncClient
    settings: Settings
    sessionmaker: Any
    _tokens: dict[User, str] = field(default_factory=dict)

    def user(self, org: str, *roles: str, gates: list[str] | tuple[str, ...] = ()) -> User:
        return User(sub=f"{roles[0]}@{org}", org=org, roles=tuple(roles), gates=tuple(gates))

    def auth(self, user: User) -> dict[str, str]:
        if user not in self._tokens:
            self._tokens[user] = mint_token(
                self.settings, sub=user.sub, org=user.org, roles=user.roles, gates=user.gates
            )
        return {"Authorization": f"Bearer {self._tokens[user]}"}

    async def get(self, user: User, path: str) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(user))

    async def post(self, user: User, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers={**self.auth(user), **(headers or {})})

    async def create(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self.post(user, "/agreements", body)
        assert resp.status_code == 201, resp.text
        assert resp.headers["ETag"] == '"1"'
        return resp.json()

    async def snapshot(self, user: User, agreement_id: str) -> dict[str, Any]:
        resp = await self.get(user, f"/agreements/{agreement_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def act(self, user: User, agreement_id: str, command: dict[str, Any]) -> dict[str, Any]:
        before = await self.snapshot(user, agreement_id)
        assert command["type"] in before["allowed_actions"], (command, before["allowed_actions"])
        resp = await self.post(user, f"/agreements/{agreement_id}/actions", command)
        assert resp.status_code == 200, resp.text
        snap = resp.json()
        assert snap["version"] == before["version"] + 1
        # The read model already holds what the action returned (read your own write) —
        # also when the API answered with the state it foresaw rather than reading it back.
        assert recorded(await self.snapshot(user, agreement_id)) == recorded(snap)
        return snap

    async def expect_refused(
        self, user: User, agreement_id: str, command: dict[str, Any], status: int, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The command is refused with `status` in the one error shape, and nothing changed."""
        probe = self.user("audit", "auditor")
        before = await self.snapshot(probe, agreement_id)
        events_before = (await self.get(probe, f"/agreements/{agreement_id}/events")).json()["events"]
        resp = await self.post(user, f"/agreements/{agreement_id}/actions", command, headers)
        assert resp.status_code == status, resp.text
        body = resp.json()
        assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
        after = await self.snapshot(probe, agreement_id)
        events_after = (await self.get(probe, f"/agreements/{agreement_id}/events")).json()["events"]
        assert recorded(after) == recorded(before) and len(events_after) == len(events_before)
        return body

    async def upload(self, user: User, content: str, media_type: str = "text/markdown") -> str:
        resp = await self.http.post(
            "/documents", content=content.encode(), headers={**self.auth(user), "Content-Type": media_type}
        )
        assert resp.status_code == 201, resp.text
        return resp.json()["sha256"]

    async def expect_row(self, agreement_id: str, **columns: Any) -> None:
        """The read-model row of the agreement has these column values."""
        names = ", ".join(columns)
        async with self.sessionmaker() as session:
            row = (
                (await session.execute(text(f"SELECT {names} FROM agreements WHERE id = :id"), {"id": agreement_id}))
                .mappings()
                .one()
            )
        assert dict(row) == columns

    @staticmethod
    def gate(snapshot: dict[str, Any], gate: str, org: str | None) -> str:
        return next(g["status"] for g in snapshot["gates"] if g["gate"] == gate and g["org"] == org)
