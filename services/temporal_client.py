"""The one way to get a Temporal client, for the API, the worker and the tests.

Always the pydantic data converter: commands, events and snapshots are pydantic models.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from services.settings import Settings


def tls_config(settings: Settings) -> bool | TLSConfig:
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        return TLSConfig(
            client_cert=Path(settings.temporal_tls_cert).read_bytes(),
            client_private_key=Path(settings.temporal_tls_key).read_bytes(),
        )
    # An API key (Temporal Cloud) implies TLS.
    return settings.temporal_tls or bool(settings.temporal_api_key)


async def connect_temporal(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect to the configured Temporal frontend.

    `lazy=True` returns at once and connects on the first call (the API uses it so it can
    start while Temporal is still coming up); workers need an eager client.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls_config(settings),
        data_converter=pydantic_data_converter,
        connect_timeout=timedelta(seconds=5),
        lazy=lazy,
    )
