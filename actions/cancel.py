"""Cancelling an order: only before shipment, and only after an explicit yes."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.constants import CONFIRM_CANCEL, CONFIRM_RETURN, SLOT_PENDING_CONFIRMATION
from actions.conversation import language
from actions.i18n import label
from actions.order_forms import order_values
from actions.shop.dto import Order
from actions.shop.policy import NotAllowed, cancel_refusal, refund_eta
from actions.shop.repository import ShopRepository


def yes_no_buttons(lang: str) -> list[dict[str, str]]:
    """The two buttons of a confirmation question."""
    return [
        {"title": label("button", "yes", lang), "payload": "/affirm"},
        {"title": label("button", "no", lang), "payload": "/deny"},
    ]


def ask_cancel(
    order: Order, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[dict[str, Any]]:
    """Asks to confirm the cancellation, or explains why it is not possible."""
    lang = language(tracker)
    values = order_values(order, lang)
    refusal = cancel_refusal(order)
    if refusal == "already_shipped" and order.status in ("shipped", "delivered"):
        dispatcher.utter_message(
            response="utter_cancel_shipped",
            buttons=[
                {"title": label("button", "return", lang), "payload": "/affirm"},
                {"title": label("button", "no", lang), "payload": "/deny"},
            ],
            **values,
        )
        return [SlotSet(SLOT_PENDING_CONFIRMATION, f"{CONFIRM_RETURN}:{order.id}")]
    if refusal is not None:
        dispatcher.utter_message(response="utter_cancel_not_possible", **values)
        return []
    dispatcher.utter_message(
        response="utter_cancel_confirm", buttons=yes_no_buttons(lang), **values
    )
    return [SlotSet(SLOT_PENDING_CONFIRMATION, f"{CONFIRM_CANCEL}:{order.id}")]


async def confirm_cancel(
    repo: ShopRepository,
    order_id: str,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
) -> list[dict[str, Any]]:
    """Writes the cancellation the customer confirmed."""
    lang = language(tracker)
    try:
        order = await repo.cancel_order(order_id, reason="customer_request")
    except NotAllowed:
        current = await repo.get_order(order_id)
        if current is not None:
            return ask_cancel(current, dispatcher, tracker)
        raise
    low, high = refund_eta(order.payment_method)
    dispatcher.utter_message(
        response="utter_cancelled", eta=f"{low}-{high}", **order_values(order, lang)
    )
    return []
