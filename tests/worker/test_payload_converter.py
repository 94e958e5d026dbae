"""The data converter every Pakta client and worker uses: pydantic's, with its per-encoding
converters built once per process (`services.temporal_client.SharedPydanticPayloadConverter`)."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, WorkflowSerializationContext

from services.temporal_client import DATA_CONVERTER, SharedPydanticPayloadConverter
from workflows import messages as m
from workflows.agreement import ActInput, Receipt

REQUEST = ActInput(
    command=m.Submit(),
    actor=m.Actor(sub="staff@kab-bandung", org="kab-bandung", roles=["staff"]),
    expected_version=3,
    at=datetime(2027, 1, 4, 2, tzinfo=UTC),
)


def test_data_converters_built_per_activation_share_one_set_of_converters() -> None:
    first = DataConverter(payload_converter_class=SharedPydanticPayloadConverter)
    second = DataConverter(payload_converter_class=SharedPydanticPayloadConverter)
    assert first.payload_converter is not second.payload_converter
    inner = [c.payload_converter._inner_payload_converter for c in (first, second)]  # type: ignore[attr-defined]
    assert all(isinstance(converter, SharedPydanticPayloadConverter) for converter in inner)
    assert inner[0].converters == inner[1].converters
    for a, b in zip(inner[0].converters.values(), inner[1].converters.values(), strict=True):
        assert a is b


def test_payloads_are_byte_for_byte_those_of_the_pydantic_converter() -> None:
    values = [REQUEST, Receipt(id="a-1", version=4, seq=9, follows="0" * 16), {"n": 1}, "text", None, 7]
    ours = DATA_CONVERTER.payload_converter.to_payloads(values)
    theirs = pydantic_data_converter.payload_converter.to_payloads(values)
    assert [(p.metadata, p.data) for p in ours] == [(p.metadata, p.data) for p in theirs]
    hints: list[type] = [ActInput, Receipt, dict, str, type(None), int]
    assert DATA_CONVERTER.payload_converter.from_payloads(ours, hints) == values


def test_a_serialization_context_leaves_the_shared_converter_as_it_is() -> None:
    context = WorkflowSerializationContext(namespace="default", workflow_id="agreement-a-1")
    assert DATA_CONVERTER.with_context(context) is DATA_CONVERTER
