"""Order status and cancellation results."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import language
from actions.i18n import day, label, moment
from actions.order_forms import order_values
from actions.shop.dto import Order


def answer_status(
    order: Order, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[dict[str, Any]]:
    """Tells the customer where the order stands."""
    lang = language(tracker)
    dispatcher.utter_message(
        response="utter_order_status",
        created=day(order.created_at, lang),
        status_detail=label("status_detail", order.status, lang),
        **order_values(order, lang),
    )
    return []


def answer_cancel_status(
    order: Order, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[dict[str, Any]]:
    """Tells whether (and when, and why) the order was cancelled."""
    lang = language(tracker)
    values = order_values(order, lang)
    if order.status != "cancelled":
        dispatcher.utter_message(response="utter_not_cancelled", **values)
        return []
    dispatcher.utter_message(
        response="utter_cancel_status",
        cancelled=moment(order.cancelled_at, lang),
        reason=order.cancel_reason or "-",
        **values,
    )
    return []
