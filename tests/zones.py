"""Time zones of Indonesian provinces, for tests that place organisations in them."""

from __future__ import annotations

import csv
from pathlib import Path

PROVINCES = Path("/work/shared/data/provinces-id.csv")


def zone_of(province: str) -> str:
    """IANA zone of a province, from the shared table (fallbacks if it is not mounted)."""
    fallback = {"Jawa Barat": "Asia/Jakarta", "Bali": "Asia/Makassar", "Papua": "Asia/Jayapura"}
    if not PROVINCES.exists():
        return fallback[province]
    with PROVINCES.open() as f:
        return next(row["iana_timezone"] for row in csv.DictReader(f) if row["province"] == province)
