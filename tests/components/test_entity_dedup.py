"""One entity per span and type, the most trusted extractor's."""

from __future__ import annotations

from components.entity_dedup import EntityDeduplicator
from tests.components.conftest import message


def entity(kind: str, start: int, end: int, value: str, extractor: str) -> dict:
    return {"entity": kind, "start": start, "end": end, "value": value, "extractor": extractor}


def test_regex_copy_wins_over_diet(create_component) -> None:
    component = create_component(EntityDeduplicator, {})
    msg = message("查DD202611010001物流")
    msg.set("entities", [
        entity("order_id", 1, 15, "DD20261101000", "DIETClassifier"),
        entity("order_id", 1, 15, "DD202611010001", "RegexEntityExtractor"),
        entity("change_field", 15, 17, "address", "DIETClassifier"),
    ])
    [out] = component.process([msg])
    assert out.get("entities") == [
        entity("order_id", 1, 15, "DD202611010001", "RegexEntityExtractor"),
        entity("change_field", 15, 17, "address", "DIETClassifier"),
    ]


def test_different_types_on_one_span_are_kept(create_component) -> None:
    component = create_component(EntityDeduplicator, {})
    msg = message("8000")
    both = [entity("phone_last4", 0, 4, "8000", "RegexEntityExtractor"),
            entity("amount", 0, 4, "8000", "SpacyPatternExtractor")]
    msg.set("entities", both)
    [out] = component.process([msg])
    assert len(out.get("entities")) == 2
