"""The one inbound and one outbound type every channel adapter translates to/from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InboundMessage:
    """A customer message, whatever channel it came from.

    Attributes:
        channel: ``web``, ``rest``, ``wechat`` or ``wecom``.
        sender: The channel's stable id of the customer's thread.
        text: The message text (button payloads arrive as text).
        customer_id: Verified customer id (signed token, bound openid) or None.
        client_message_id: The client's id for de-duplication, if any.
        language: The language of the client's UI, if it said.
    """

    channel: str
    sender: str
    text: str
    customer_id: str | None = None
    client_message_id: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """A message (or a state change) to deliver to a customer's open connections.

    Attributes:
        conversation_id: The conversation.
        kind: ``message``, ``state`` or ``typing``.
        payload: The JSON-ready body for the channel to frame.
    """

    conversation_id: str
    kind: str
    payload: dict[str, Any]
