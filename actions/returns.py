"""Returns, exchanges and refunds: the return form and refund progress."""

from __future__ import annotations

import os
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ChoiceQuestion, ShopAction
from actions.cancel import yes_no_buttons
from actions.constants import (
    CONFIRM_REPAIR,
    REASON_POLICY,
    SLOT_ORDER_BLOCKED,
    SLOT_ORDER_ID,
    SLOT_PENDING_CONFIRMATION,
    SLOT_RETURN_CONFIRM,
    SLOT_RETURN_ITEM,
    SLOT_RETURN_KIND,
    SLOT_RETURN_REASON,
)
from actions.conversation import language
from actions.handoff import offer_handoff
from actions.i18n import day, label, money, phrase
from actions.order_forms import (
    OrderFormValidation,
    Slots,
    clear_form_slots,
    hand_off_locked,
    locked_out,
    order_values,
)
from actions.shop.dto import Order, OrderItem, ReturnRequest
from actions.shop.policy import (
    NotAllowed,
    item_under_warranty,
    refund_arrival,
    refund_eta,
    return_decision,
    utcnow,
)
from actions.shop.repository import ShopRepository

REASONS = ("no_reason", "quality", "wrong_item", "damaged")
DEFAULT_RETURN_ADDRESS = (
    "浙江省杭州市余杭区文一西路1号 退货仓 / Returns desk, 1 Wenyi West Rd, Hangzhou"
)


def return_address() -> str:
    """Where customers send returns (RETURN_ADDRESS)."""
    return os.environ.get("RETURN_ADDRESS", DEFAULT_RETURN_ADDRESS)


def item_name(item: OrderItem | None, lang: str) -> str:
    """An item's name in the customer's language."""
    if item is None:
        return ""
    return item.name_en if lang == "en" else item.name


def find_item(order: Order, value: str | None) -> OrderItem | None:
    """The order line a customer named by sku or (part of) its name."""
    text = (value or "").strip().lower()
    if not text:
        return None
    for item in order.items:
        names = (item.sku.lower(), item.name.lower(), item.name_en.lower())
        if text in names or any(text in name or name in text for name in names[1:]):
            return item
    return None


class ValidateReturnForm(OrderFormValidation):
    """Order, item, reason and a yes; the rules may stop the form early."""

    def name(self) -> str:
        """Action name."""
        return "validate_return_form"

    async def on_order(
        self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Slots:
        """Blocks undelivered orders; picks the item of a one-item order."""
        slots: Slots = {SLOT_ORDER_BLOCKED: None}
        if order.status != "delivered":
            slots[SLOT_ORDER_BLOCKED] = "not_delivered"
        if len(order.items) == 1:
            slots[SLOT_RETURN_ITEM] = order.items[0].sku
        reason = tracker.get_slot(SLOT_RETURN_REASON)
        if reason and not slots[SLOT_ORDER_BLOCKED]:
            slots[SLOT_ORDER_BLOCKED] = self._blocked_by_rules(
                order, reason, slots.get(SLOT_RETURN_ITEM)
            )
        return slots

    @staticmethod
    def _blocked_by_rules(order: Order, reason: str, sku: str | None) -> str | None:
        decision = return_decision(order, reason, utcnow(), sku)
        return None if decision.allowed else decision.route

    async def validate_return_item(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Slots:
        """Accepts an item of the order by sku or name."""
        order = await self.repo.get_order(tracker.get_slot(SLOT_ORDER_ID))
        item = find_item(order, str(slot_value)) if order else None
        return {SLOT_RETURN_ITEM: item.sku if item else None}

    async def validate_return_reason(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Slots:
        """Accepts a known reason and applies the return windows to it."""
        if slot_value not in REASONS:
            return {SLOT_RETURN_REASON: None}
        order = await self.repo.get_order(tracker.get_slot(SLOT_ORDER_ID))
        if order is None:
            return {SLOT_RETURN_REASON: None}
        blocked = self._blocked_by_rules(
            order, slot_value, tracker.get_slot(SLOT_RETURN_ITEM)
        )
        return {SLOT_RETURN_REASON: slot_value, SLOT_ORDER_BLOCKED: blocked}


class ActionAskReturnItem(ShopAction):
    """Asks which item, one button per order line."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_return_item"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Sends the item choice."""
        lang = language(tracker)
        order = await self.repo.get_order(tracker.get_slot(SLOT_ORDER_ID))
        items = order.items if order else ()
        buttons = [
            {
                "title": item_name(item, lang),
                "payload": f'/inform{{"return_item":"{item.sku}"}}',
            }
            for item in items
        ]
        dispatcher.utter_message(response="utter_ask_return_item", buttons=buttons)
        return []


class ActionAskReturnReason(ChoiceQuestion):
    """Asks for the reason, one button per reason."""

    response = "utter_ask_return_reason"
    slot = SLOT_RETURN_REASON
    choices = REASONS
    label_group = "return_reason"

    def name(self) -> str:
        """Action name."""
        return "action_ask_return_reason"


class ActionAskReturnConfirm(ShopAction):
    """Summarises the request and asks for a yes."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_return_confirm"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Sends the summary with yes/no buttons."""
        lang = language(tracker)
        order = await self.repo.get_order(tracker.get_slot(SLOT_ORDER_ID))
        item = order.item(tracker.get_slot(SLOT_RETURN_ITEM)) if order else None
        dispatcher.utter_message(
            response="utter_ask_return_confirm",
            buttons=yes_no_buttons(lang),
            order_id=tracker.get_slot(SLOT_ORDER_ID),
            item=item_name(item, lang),
            kind=label("return_kind", tracker.get_slot(SLOT_RETURN_KIND) or "return", lang),
            reason=label("return_reason", tracker.get_slot(SLOT_RETURN_REASON), lang),
        )
        return []


def created_reply(
    request: ReturnRequest, dispatcher: CollectingDispatcher, lang: str
) -> None:
    """Tells the customer the new request's number, where to send it, and the refund."""
    low, high = refund_eta(request.refund_method)
    response = {
        "exchange": "utter_exchange_created",
        "repair": "utter_repair_created",
    }.get(request.kind, "utter_return_created")
    dispatcher.utter_message(
        response=response,
        return_id=request.id,
        address=return_address(),
        amount=money(request.refund_amount),
        eta=f"{low}-{high}",
        method=label("payment_method", request.refund_method, lang),
    )


async def create_request(
    repo: ShopRepository,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    order_id: str,
    sku: str | None,
    kind: str,
    reason: str,
) -> list[dict[str, Any]]:
    """Opens the request; an already open one is shown instead of a second."""
    lang = language(tracker)
    try:
        request = await repo.create_return(order_id, sku, kind, reason)
    except NotAllowed as refusal:
        if refusal.code != "already_requested":
            raise
        existing = [
            r for r in await repo.list_returns(order_id=order_id) if sku in (None, r.sku)
        ]
        if existing:
            dispatcher.utter_message(
                response="utter_return_already_open",
                return_id=existing[0].id,
                status=label("return_status", existing[0].status, lang),
            )
            return []
        raise
    created_reply(request, dispatcher, lang)
    return []


class ActionSubmitReturn(ShopAction):
    """Opens the confirmed return, or explains the rule that stops it."""

    def name(self) -> str:
        """Action name."""
        return "action_submit_return"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Applies the return form's outcome."""
        reset = clear_form_slots(
            SLOT_RETURN_ITEM, SLOT_RETURN_REASON, SLOT_RETURN_KIND, SLOT_RETURN_CONFIRM
        )
        if locked_out(tracker):
            return await hand_off_locked(self.repo, dispatcher, tracker) + reset
        lang = language(tracker)
        order_id = tracker.get_slot(SLOT_ORDER_ID)
        order = await self.repo.get_order(order_id) if order_id else None
        if order is None:
            dispatcher.utter_message(response="utter_ok")
            return reset
        values = order_values(order, lang)
        sku = tracker.get_slot(SLOT_RETURN_ITEM)
        blocked = tracker.get_slot(SLOT_ORDER_BLOCKED)
        if blocked == "not_delivered":
            dispatcher.utter_message(response="utter_return_not_delivered", **values)
            return reset
        if blocked == "warranty":
            reason = tracker.get_slot(SLOT_RETURN_REASON) or "quality"
            now = utcnow()
            # No item picked yet: offer the repair for the item whose warranty runs.
            item = order.item(sku) if sku else item_under_warranty(order, now) or order.items[0]
            decision = return_decision(order, reason, now, item.sku)
            dispatcher.utter_message(
                response="utter_return_window_warranty",
                buttons=yes_no_buttons(lang),
                item=item_name(item, lang),
                warranty_until=day(decision.deadline, lang),
                **values,
            )
            pending = f"{CONFIRM_REPAIR}:{order.id}:{item.sku}:{reason}"
            return reset + [SlotSet(SLOT_PENDING_CONFIRMATION, pending)]
        if blocked == "handoff":
            return reset + offer_handoff(
                dispatcher, tracker, REASON_POLICY, "utter_return_needs_agent", **values
            )
        if tracker.get_slot(SLOT_RETURN_CONFIRM) is not True:
            dispatcher.utter_message(response="utter_return_aborted")
            return reset
        kind = tracker.get_slot(SLOT_RETURN_KIND) or "return"
        reason = tracker.get_slot(SLOT_RETURN_REASON) or "no_reason"
        return await create_request(
            self.repo, dispatcher, tracker, order.id, sku, kind, reason
        ) + reset


async def answer_refund_status(
    repo: ShopRepository,
    order: Order,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
) -> list[dict[str, Any]]:
    """Status, amount and expected arrival of the order's returns and refunds."""
    lang = language(tracker)
    requests = await repo.list_returns(order_id=order.id)
    if not requests:
        dispatcher.utter_message(response="utter_no_refund", order_id=order.id)
        return []
    for request in requests[:3]:
        if request.refunded_at is not None:
            first, last = refund_arrival(request.refund_method, request.refunded_at)
            eta = phrase("refund_issued", lang, issued=day(request.refunded_at, lang),
                         first=day(first, lang), last=day(last, lang))
        else:
            low, high = refund_eta(request.refund_method)
            eta = phrase("refund_pending", lang, low=low, high=high)
        dispatcher.utter_message(
            response="utter_refund_status",
            return_id=request.id,
            order_id=order.id,
            status=label("return_status", request.status, lang),
            amount=money(request.refund_amount),
            method=label("payment_method", request.refund_method, lang),
            eta=eta,
        )
    return []
