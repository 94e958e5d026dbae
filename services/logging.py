"""structlog for our own logs, and the standard library's (uvicorn, temporalio, sqlalchemy,
alembic) routed through the same renderer: JSON lines in production, readable in dev."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import Processor

from services.settings import Settings


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

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
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
