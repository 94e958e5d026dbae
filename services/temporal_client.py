"""The one way to get a Temporal client, for the API, the worker and the tests.

Always the pydantic data converter: commands, events and snapshots are pydantic models.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import CompositePayloadConverter, DataConverter, EncodingPayloadConverter
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from services.settings import Settings
from workflows.agreement import ActInput, AgreementWorkflow, Receipt, workflow_id


@functools.cache
def _pydantic_encodings() -> tuple[EncodingPayloadConverter, ...]:
    return tuple(PydanticPayloadConverter().converters.values())


class SharedPydanticPayloadConverter(PydanticPayloadConverter):
    """`PydanticPayloadConverter` whose per-encoding converters are built once per process.

    The SDK builds a data converter — and so a payload converter — several times per
    workflow activation (to carry the serialization context, which these converters do not
    use): each a fresh set of converters with an empty cache of pydantic `TypeAdapter`s,
    ≈ 2.5 % of the worker's CPU under the benchmark (docs/performance-log.md). The converters
    keep no state but that cache (thread-safe, keyed by type), so every instance shares the
    first one's; the payloads are byte for byte the same."""

    def __init__(self) -> None:
        CompositePayloadConverter.__init__(self, *_pydantic_encodings())


DATA_CONVERTER = DataConverter(payload_converter_class=SharedPydanticPayloadConverter)
"""The data converter of every Pakta client, worker and replayer."""


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
        data_converter=DATA_CONVERTER,
        connect_timeout=timedelta(seconds=5),
        lazy=lazy,
    )


async def execute_act(
    client: Client, agreement_id: str, request: ActInput, *, update_id: str | None = None, attempts: int = 5
) -> Receipt:
    """Send the `act` update to the agreement's current run. An update that reaches a run
    just as it continues as new is refused as 'already completed': send it again (same
    update id, so it still applies once) to the new run while the workflow runs on."""
    handle = client.get_workflow_handle(workflow_id(agreement_id))
    for attempt in range(attempts):
        try:
            return await handle.execute_update(AgreementWorkflow.act, request, id=update_id)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND or attempt == attempts - 1:
                raise
            description = await handle.describe()
            if description.status != WorkflowExecutionStatus.RUNNING:
                raise
    raise AssertionError("unreachable")
