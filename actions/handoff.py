"""Handing a conversation to a person.

The bot records the request in the shop database and sends the handoff signal
(docs/contracts.md) that the gateway turns into a place in the agents' queue.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.base import ShopAction
from actions.constants import (
    CONFIRM_HANDOFF,
    REASON_COMPLAINT,
    REASON_CUSTOMER_REQUEST,
    SLOT_HANDOFF_REASON,
    SLOT_ORDER_ID,
    SLOT_PENDING_CONFIRMATION,
)
from actions.conversation import customer_id, language, latest_intent
from actions.i18n import label
from actions.shop.repository import ShopRepository

logger = logging.getLogger(__name__)


def handoff_signal(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    order_id: str | None,
    response: str = "utter_handoff",
) -> list[dict[str, Any]]:
    """Tells the customer and the channel that a person takes over."""
    dispatcher.utter_message(response=response)
    dispatcher.utter_message(
        json_message={
            "handoff": {
                "reason": reason,
                "intent": latest_intent(tracker),
                "order_id": order_id,
            }
        }
    )
    return [
        SlotSet(SLOT_HANDOFF_REASON, reason),
        SlotSet(SLOT_PENDING_CONFIRMATION, None),
    ]


async def hand_off(
    repo: ShopRepository,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    response: str = "utter_handoff",
) -> list[dict[str, Any]]:
    """Records a handoff request and signals it."""
    order_id = tracker.get_slot(SLOT_ORDER_ID)
    try:
        await repo.record_handoff(
            conversation_id=tracker.sender_id,
            customer_id=customer_id(tracker),
            order_id=order_id,
            reason=reason,
            intent=latest_intent(tracker),
        )
    except SQLAlchemyError:
        # The handoff must still happen when the shop database is down.
        logger.exception("could not record handoff request")
    return handoff_signal(dispatcher, tracker, reason, order_id, response)


def signal_unavailable(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[dict[str, Any]]:
    """Apology and handoff when shop data cannot be reached."""
    dispatcher.utter_message(response="utter_internal_error")
    return handoff_signal(
        dispatcher,
        tracker,
        "policy_exception",
        tracker.get_slot(SLOT_ORDER_ID),
        response="utter_handoff",
    )


def offer_handoff(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    response: str = "utter_offer_human",
    **values: Any,
) -> list[dict[str, Any]]:
    """Asks (with `response`) whether the customer wants a person; "yes" hands off."""
    lang = language(tracker)
    dispatcher.utter_message(
        response=response,
        **values,
        buttons=[
            {"title": label("button", "human", lang), "payload": "/affirm"},
            {"title": label("button", "no", lang), "payload": "/deny"},
        ],
    )
    return [SlotSet(SLOT_PENDING_CONFIRMATION, f"{CONFIRM_HANDOFF}:{reason}")]


class ActionHandoff(ShopAction):
    """The customer asked for a person, or complained."""

    def name(self) -> str:
        """Action name."""
        return "action_handoff"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Hands off with the reason the latest message implies."""
        if latest_intent(tracker) == "complain":
            return await hand_off(
                self.repo, dispatcher, tracker, REASON_COMPLAINT, "utter_complaint_apology"
            )
        return await hand_off(self.repo, dispatcher, tracker, REASON_CUSTOMER_REQUEST)
