"""Changing the address, phone or delivery time of an order before it ships."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ChoiceQuestion, ShopAction
from actions.cancel import yes_no_buttons
from actions.constants import (
    SLOT_CHANGE_CONFIRM,
    SLOT_CHANGE_FIELD,
    SLOT_NEW_VALUE,
    SLOT_ORDER_BLOCKED,
    SLOT_ORDER_ID,
)
from actions.conversation import language
from actions.i18n import label
from actions.order_forms import (
    OrderFormValidation,
    Slots,
    clear_form_slots,
    hand_off_locked,
    locked_out,
    order_values,
)
from actions.shop.dto import Order
from actions.shop.masking import mask_address, mask_phone
from actions.shop.policy import NotAllowed, cancel_refusal, utcnow, validate_change

FIELDS = ("address", "phone", "delivery_time")


def shown_value(field: str, value: str, lang: str) -> str:
    """A new value as the bot may repeat it: phones and addresses masked."""
    if field == "phone":
        return mask_phone(value)
    if field == "address":
        return mask_address(value)
    return label("delivery_time", value, lang)


class ValidateChangeForm(OrderFormValidation):
    """Order, which field, the new value, and a yes before anything is written."""

    def name(self) -> str:
        """Action name."""
        return "validate_change_form"

    async def on_order(
        self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Slots:
        """Blocks the change of an order that has left the warehouse."""
        return {SLOT_ORDER_BLOCKED: cancel_refusal(order)}

    async def validate_change_field(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Slots:
        """Accepts one of the changeable fields."""
        return {SLOT_CHANGE_FIELD: slot_value if slot_value in FIELDS else None}

    async def validate_new_value(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Slots:
        """Validates and normalises the new value for the chosen field."""
        field = tracker.get_slot(SLOT_CHANGE_FIELD)
        lang = language(tracker)
        try:
            value = validate_change(field, str(slot_value or ""), utcnow())
        except NotAllowed:
            dispatcher.utter_message(
                response="utter_change_invalid",
                field=label("change_field", field, lang),
                problem=label("change_problem", field, lang),
            )
            return {SLOT_NEW_VALUE: None}
        return {SLOT_NEW_VALUE: value}


class ActionAskChangeField(ChoiceQuestion):
    """Asks which detail to change, with a button per field."""

    response = "utter_ask_change_field"
    slot = SLOT_CHANGE_FIELD
    choices = FIELDS
    label_group = "change_field"

    def name(self) -> str:
        """Action name."""
        return "action_ask_change_field"


class ActionAskNewValue(ShopAction):
    """Asks for the new value of the chosen field."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_new_value"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Sends the field's own question."""
        field = tracker.get_slot(SLOT_CHANGE_FIELD) or "address"
        dispatcher.utter_message(response=f"utter_ask_new_value_{field}")
        return []


class ActionAskChangeConfirm(ShopAction):
    """Repeats the change (masked) and asks for a yes."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_change_confirm"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Sends the confirmation question."""
        lang = language(tracker)
        field = tracker.get_slot(SLOT_CHANGE_FIELD)
        dispatcher.utter_message(
            response="utter_change_confirm",
            buttons=yes_no_buttons(lang),
            order_id=tracker.get_slot(SLOT_ORDER_ID),
            field=label("change_field", field, lang),
            value=shown_value(field, tracker.get_slot(SLOT_NEW_VALUE) or "", lang),
        )
        return []


class ActionSubmitChange(ShopAction):
    """Writes the confirmed change, or explains why it cannot be made."""

    def name(self) -> str:
        """Action name."""
        return "action_submit_change"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Applies the change form's outcome."""
        reset = clear_form_slots(SLOT_CHANGE_FIELD, SLOT_NEW_VALUE, SLOT_CHANGE_CONFIRM)
        if locked_out(tracker):
            return await hand_off_locked(self.repo, dispatcher, tracker) + reset
        lang = language(tracker)
        order_id = tracker.get_slot(SLOT_ORDER_ID)
        field = tracker.get_slot(SLOT_CHANGE_FIELD) or "address"
        order = await self.repo.get_order(order_id) if order_id else None
        if order is None:
            dispatcher.utter_message(response="utter_ok")
            return reset
        field_label = label("change_field", field, lang)
        if tracker.get_slot(SLOT_ORDER_BLOCKED):
            dispatcher.utter_message(
                response="utter_change_not_allowed",
                field=field_label,
                **order_values(order, lang),
            )
            return reset
        if tracker.get_slot(SLOT_CHANGE_CONFIRM) is not True:
            dispatcher.utter_message(response="utter_change_aborted")
            return reset
        value = tracker.get_slot(SLOT_NEW_VALUE) or ""
        try:
            order = await self.repo.change_order(order_id, field, value)
        except NotAllowed:
            dispatcher.utter_message(
                response="utter_change_not_allowed",
                field=field_label,
                **order_values(order, lang),
            )
            return reset
        dispatcher.utter_message(
            response="utter_changed",
            order_id=order_id,
            field=field_label,
            value=shown_value(field, value, lang),
        )
        return reset
