"""structlog for our own logs, and the standard library's (uvicorn, temporalio, sqlalchemy,
alembic) routed through the same renderer: JSON lines in production, readable in dev.

Our own lines are rendered by structlog and written straight to the one handler's stream
(`_Lines`), not handed to the standard library as a record to be copied and rendered by its
formatter: the same processors, so the same line, at about half the CPU — the API writes
one per request (its access line). The standard library's records still go through the
handler's formatter, with the same processors before the renderer."""

from __future__ import annotations

import contextlib
import logging
import sys

import structlog
from structlog.typing import Processor

from services.settings import Settings


class _Lines:
    """What a structlog logger of ours writes to: its rendered line, on the stream of each of
    the root logger's handlers that writes to one (the one `configure_logging` installs, or
    whichever replaced it since: the loggers are cached), under the handler's lock, as
    `StreamHandler.emit` writes a record's. `filter_by_level` asks the standard library's
    logger of the same name, so a level set at run time counts, as it did."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._stdlib = logging.getLogger(name)

    @property
    def disabled(self) -> bool:
        return self._stdlib.disabled

    # The standard library's names: `filter_by_level` asks them.
    def getEffectiveLevel(self) -> int:
        return self._stdlib.getEffectiveLevel()

    def isEnabledFor(self, level: int) -> bool:
        return self._stdlib.isEnabledFor(level)

    def _write(self, level: int, line: str) -> None:
        if level <= logging.root.manager.disable:
            return  # `logging.disable`, which `filter_by_level` does not ask (the stdlib's loggers do)
        for handler in logging.root.handlers:
            if not isinstance(handler, logging.StreamHandler) or level < handler.level:
                continue
            handler.acquire()
            try:
                handler.stream.write(line + handler.terminator)
                handler.flush()
            except Exception:
                # As StreamHandler.emit: a line that cannot be written never fails the caller.
                with contextlib.suppress(Exception):  # its report may fail too (`_Handler`)
                    handler.handleError(logging.makeLogRecord({"name": self.name, "levelno": level, "msg": line}))
            finally:
                handler.release()

    def debug(self, line: str) -> None:
        self._write(logging.DEBUG, line)

    def info(self, line: str) -> None:
        self._write(logging.INFO, line)

    def warning(self, line: str) -> None:
        self._write(logging.WARNING, line)

    def error(self, line: str) -> None:
        self._write(logging.ERROR, line)

    def critical(self, line: str) -> None:
        self._write(logging.CRITICAL, line)

    warn, exception, fatal, msg = warning, error, critical, info


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]  # of a text stream
    """The processes' one handler: a `StreamHandler` whose report of a line it could not
    write cannot fail the caller either. The standard library's report goes to sys.stderr
    and expects only OSError from it: with sys.stderr closed it raises ValueError into the
    code that logged — an API request, a delivery — for a line that is lost anyway."""

    def handleError(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            super().handleError(record)


def configure_logging(settings: Settings) -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if settings.logs_as_json:
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())

    handler = _Handler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, renderer],
        logger_factory=_Lines,
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())

    # uvicorn installs its own handlers; let its records reach ours instead. Access lines
    # come from our middleware (with request id and route), so uvicorn's are muted.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # SQL echo and alembic chatter are noise at INFO.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    # httpx logs every request at INFO: a second line per webhook beside the dispatcher's own
    # `notifications_delivered` (which says which deliveries they were), and 2% of its CPU.
    logging.getLogger("httpx").setLevel(logging.WARNING)
