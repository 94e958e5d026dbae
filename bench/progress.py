"""What the bench shows while it runs (stderr, so stdout stays the results) and the
percentiles it reports."""

from __future__ import annotations

import math
import sys
import time


def note(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0–100); NaN when there are no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(samples: list[float]) -> dict[str, float]:
    return {f"p{q}_ms": round(percentile(samples, q) * 1e3, 1) for q in (50, 95, 99)} | {"count": len(samples)}


class Bar:
    """A one-line progress bar on stderr: redrawn in place on a terminal, a line per tenth
    of the way otherwise (CI logs, `make bench > file`)."""

    WIDTH = 30

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, max(1, total), 0
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._last_tenth = -1
        self._draw()

    def advance(self, by: int = 1) -> None:
        self.done += by
        self._draw()

    def close(self) -> None:
        self.done = min(self.done, self.total)
        if self.tty:
            sys.stderr.write("\n")
        elif self._last_tenth < 10:
            self._last_tenth = 9
            self._draw(force=True)
        sys.stderr.flush()

    def _draw(self, *, force: bool = False) -> None:
        filled = int(self.WIDTH * self.done / self.total)
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        line = (
            f"  {self.label:<28} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{self.done}/{self.total}  {rate:5.1f}/s  {elapsed:5.0f}s"
        )
        if self.tty:
            sys.stderr.write("\r" + line)
            sys.stderr.flush()
            return
        tenth = 10 * self.done // self.total
        if force or tenth > self._last_tenth:
            self._last_tenth = tenth
            print(line, file=sys.stderr, flush=True)
