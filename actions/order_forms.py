"""The order number (and, for anonymous customers, the phone check) every order form needs.

Each form that is about one order validates `order_id` and `phone_last4` the same way;
the form-specific part is the `on_order` hook, which may fill further slots or block the
request once the order is known (for example an order that has already shipped).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.access import (
    MALFORMED,
    NEEDS_PHONE,
    NOT_FOUND,
    NOT_YOURS,
    check_access,
    find_last4,
    find_order_id,
    needs_phone_check,
)
from actions.base import ShopAction, ShopFormValidation
from actions.constants import (
    MAX_VERIFY_ATTEMPTS,
    REASON_IDENTITY,
    SLOT_ORDER_BLOCKED,
    SLOT_ORDER_ID,
    SLOT_PHONE_LAST4,
    SLOT_VERIFIED_ORDERS,
    SLOT_VERIFY_ATTEMPTS,
)
from actions.conversation import customer_id, language, verified_orders
from actions.handoff import hand_off
from actions.i18n import label, money
from actions.shop.dto import Order
from actions.shop.repository import ShopRepository

Slots = dict[str, Any]


def named_in_latest_message(tracker: Tracker, order_id: str | None) -> bool:
    """True when the customer's latest message (text or button) names `order_id`."""
    latest = tracker.latest_message or {}
    if order_id and order_id in (latest.get("text") or "").upper():
        return True
    return any(
        e.get("entity") == SLOT_ORDER_ID and str(e.get("value", "")).upper() == order_id
        for e in latest.get("entities") or []
    )


def verification_locked(tracker: Tracker) -> bool:
    """True after too many wrong phone digits in this conversation."""
    return (tracker.get_slot(SLOT_VERIFY_ATTEMPTS) or 0) >= MAX_VERIFY_ATTEMPTS


def locked_out(tracker: Tracker) -> bool:
    """True when an anonymous customer may no longer prove orders in this conversation."""
    return verification_locked(tracker) and customer_id(tracker) is None


async def hand_off_locked(
    repo: ShopRepository, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[dict[str, Any]]:
    """Ends the identity check after too many failures and hands over to a person."""
    return await hand_off(repo, dispatcher, tracker, REASON_IDENTITY, "utter_verify_locked")


class OrderFormValidation(ShopFormValidation):
    """Validates the order slots shared by every order form."""

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Adds the phone check for anonymous customers; stops early when blocked."""
        if locked_out(tracker):
            return []
        slots = list(domain_slots)
        order_id = tracker.get_slot(SLOT_ORDER_ID)
        if needs_phone_check(tracker, order_id):
            # Prove the order before anything else about it is asked or said.
            return slots[: slots.index(SLOT_PHONE_LAST4) + 1]
        slots.remove(SLOT_PHONE_LAST4)
        if tracker.get_slot(SLOT_ORDER_BLOCKED):
            return [SLOT_ORDER_ID]
        return slots

    async def on_order(
        self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Slots:
        """Form-specific slots to set once the customer may act on `order`."""
        return {SLOT_ORDER_BLOCKED: None}

    async def validate_order_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Slots:
        """Accepts a well-formed order number the customer may see."""
        access = await check_access(self.repo, tracker, str(slot_value or ""))
        if access.problem == MALFORMED:
            dispatcher.utter_message(response="utter_order_id_malformed")
            return {SLOT_ORDER_ID: None}
        if access.problem in (NOT_FOUND, NOT_YOURS):
            response = (
                "utter_order_not_yours"
                if access.problem == NOT_YOURS
                else "utter_order_not_found"
            )
            dispatcher.utter_message(response=response, order_id=access.order_id)
            return {SLOT_ORDER_ID: None}
        if access.problem == NEEDS_PHONE:
            return {SLOT_ORDER_ID: access.order_id, SLOT_PHONE_LAST4: None}
        assert access.order is not None
        slots = await self.on_order(access.order, dispatcher, tracker)
        if slots.get(SLOT_ORDER_BLOCKED) and not named_in_latest_message(tracker, access.order_id):
            # The order remembered from earlier does not fit this request (say, a return
            # of an order still in transit): ask which order is meant instead of refusing.
            return {SLOT_ORDER_ID: None, SLOT_ORDER_BLOCKED: None}
        return {SLOT_ORDER_ID: access.order_id, **slots}

    async def validate_phone_last4(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Slots:
        """Checks the phone digits against the order; counts failures."""
        # The order number may be validated in the same turn, so read it as typed.
        order_id = find_order_id(tracker.get_slot(SLOT_ORDER_ID))
        if not needs_phone_check(tracker, order_id):
            return {SLOT_PHONE_LAST4: slot_value}
        last4 = find_last4(str(slot_value or ""))
        if last4 is None:
            dispatcher.utter_message(response="utter_phone_malformed")
            return {SLOT_PHONE_LAST4: None}
        if await self.repo.verify_phone_last4(order_id, last4):
            order = await self.repo.get_order(order_id)
            proven = [*verified_orders(tracker), order_id]
            slots: Slots = {
                SLOT_PHONE_LAST4: last4,
                SLOT_VERIFIED_ORDERS: proven,
                SLOT_VERIFY_ATTEMPTS: 0,
            }
            if order is not None:
                slots.update(await self.on_order(order, dispatcher, tracker))
            return slots
        attempts = int(tracker.get_slot(SLOT_VERIFY_ATTEMPTS) or 0) + 1
        if attempts < MAX_VERIFY_ATTEMPTS:
            dispatcher.utter_message(
                response="utter_phone_mismatch",
                attempts_left=MAX_VERIFY_ATTEMPTS - attempts,
            )
        return {SLOT_PHONE_LAST4: None, SLOT_VERIFY_ATTEMPTS: float(attempts)}


class ValidateOrderForm(OrderFormValidation):
    """The order form that serves status, tracking, cancellation and refund questions."""

    def name(self) -> str:
        """Action name."""
        return "validate_order_form"


class ActionAskOrderId(ShopAction):
    """Asks which order: recent orders as buttons for an identified customer."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_order_id"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Lists the customer's recent orders, or asks for the number."""
        owner = customer_id(tracker)
        if owner is None:
            dispatcher.utter_message(response="utter_ask_order_id")
            return []
        orders = await self.repo.list_orders(owner, limit=5)
        if not orders:
            dispatcher.utter_message(response="utter_no_orders")
            return []
        lang = language(tracker)
        buttons = [
            {
                "title": f"{order.id} · {item_summary(order, lang)} · "
                f"{label('order_status', order.status, lang)}",
                "payload": f'/inform{{"order_id":"{order.id}"}}',
            }
            for order in orders
        ]
        dispatcher.utter_message(response="utter_choose_order", buttons=buttons)
        return []


def item_summary(order: Order, lang: str) -> str:
    """Item names with quantities, in the customer's language."""
    parts = []
    for item in order.items:
        name = item.name_en if lang == "en" else item.name
        parts.append(f"{name} x{item.qty}" if item.qty > 1 else name)
    return ", ".join(parts) if lang == "en" else "、".join(parts)


def order_values(order: Order, lang: str) -> dict[str, str]:
    """Placeholder values describing an order in replies."""
    return {
        "order_id": order.id,
        "items": item_summary(order, lang),
        "total": money(order.total),
        "status": label("order_status", order.status, lang),
    }


def clear_form_slots(*names: str) -> list[dict[str, Any]]:
    """Events that reset a finished form's own slots (the order stays remembered)."""
    return [SlotSet(name, None) for name in (*names, SLOT_ORDER_BLOCKED, SLOT_PHONE_LAST4)]
