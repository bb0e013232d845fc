"""JSON on Rasa's hot paths: orjson, with the standard library where orjson refuses.

Rasa encodes the whole tracker for every action-server call and every event it stores, and
decodes every stored event it reads back; the standard library's encoder was ~5% of a Rasa
server's CPU under load. orjson writes compact UTF-8 JSON with the same parsed value
(`tests/deploy/test_wire_json.py`), with one difference: NaN and infinities become `null`,
as JSON has no such numbers (the standard library writes `NaN`, which strict parsers
refuse), and UUIDs and enums are written as their values where the standard library raises.
What orjson cannot encode (integers beyond 64 bits, datetimes, types it does not know) or
decode (the `NaN` of rows Rasa's own store wrote) goes to the standard library, which
gives the result or the error it always gave.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# As json.dumps: int, float, bool and None keys as text; datetimes and dataclasses refused
# (through the standard library's error) instead of written as orjson would.
_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dumps(value: Any) -> str:
    """Compact JSON text of `value` (UTF-8, no spaces)."""
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """The value of a JSON text."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
