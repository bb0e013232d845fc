"""Parcel tracking, with overdue or silent parcels recognised as exceptions."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.constants import REASON_LOGISTICS
from actions.conversation import language
from actions.handoff import offer_handoff
from actions.i18n import day, label, moment, phrase, separator
from actions.order_forms import order_values
from actions.shop.dto import Order
from actions.shop.policy import logistics_exception, utcnow

EVENTS_SHOWN = 3


def answer_tracking(
    order: Order, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[dict[str, Any]]:
    """Carrier, tracking number, latest scans, expected delivery; apologises for delays."""
    lang = language(tracker)
    values = order_values(order, lang)
    shipment = order.shipment
    if shipment is None:
        dispatcher.utter_message(response="utter_tracking_not_shipped", **values)
        return []
    events = [
        f"{moment(event.at, lang)} {event.text_en if lang == 'en' else event.text}"
        for event in shipment.events[:EVENTS_SHOWN]
    ]
    if shipment.delivered_at is not None:
        eta = phrase("delivered_on", lang, day=day(shipment.delivered_at, lang))
    elif shipment.expected_delivery is not None:
        eta = phrase("expected_on", lang, day=day(shipment.expected_delivery, lang))
    else:
        eta = ""
    dispatcher.utter_message(
        response="utter_tracking",
        carrier=shipment.carrier_en if lang == "en" else shipment.carrier,
        tracking_no=shipment.tracking_no,
        events=separator(lang).join(events) or "-",
        eta=eta,
        **values,
    )
    problem = logistics_exception(shipment, utcnow())
    if problem is None:
        return []
    return offer_handoff(
        dispatcher,
        tracker,
        REASON_LOGISTICS,
        response="utter_logistics_exception",
        problem=label("logistics_problem", problem, lang),
    )
