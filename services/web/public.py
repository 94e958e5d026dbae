"""The public transparency portal under `/public/` (no sign-in)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/public", include_in_schema=False)
