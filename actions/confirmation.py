"""Yes and no: they answer the question the bot asked in its last turn, nothing older."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ShopAction
from actions.cancel import confirm_cancel
from actions.constants import (
    CONFIRM_CANCEL,
    CONFIRM_HANDOFF,
    CONFIRM_REPAIR,
    CONFIRM_RETURN,
    SLOT_ORDER_ID,
    SLOT_PENDING_CONFIRMATION,
)
from actions.conversation import fresh_confirmation
from actions.handoff import hand_off
from actions.returns import create_request

CLEAR = SlotSet(SLOT_PENDING_CONFIRMATION, None)


class ActionConfirm(ShopAction):
    """Carries out what the customer just said yes to."""

    def name(self) -> str:
        """Action name."""
        return "action_confirm"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Dispatches on the pending confirmation."""
        pending = fresh_confirmation(tracker)
        kind, _, rest = (pending or "").partition(":")
        if kind == CONFIRM_CANCEL:
            return [CLEAR] + await confirm_cancel(self.repo, rest, dispatcher, tracker)
        if kind == CONFIRM_HANDOFF:
            return [CLEAR] + await hand_off(self.repo, dispatcher, tracker, rest)
        if kind == CONFIRM_REPAIR:
            order_id, sku, reason = (rest.split(":") + ["", "", ""])[:3]
            events = await create_request(
                self.repo, dispatcher, tracker, order_id, sku or None, "repair", reason
            )
            return [CLEAR] + events
        if kind == CONFIRM_RETURN:
            return [CLEAR, SlotSet(SLOT_ORDER_ID, rest), FollowupAction("return_form")]
        dispatcher.utter_message(response="utter_ok")
        return [CLEAR]


class ActionDeny(ShopAction):
    """Drops what the customer just said no to."""

    def name(self) -> str:
        """Action name."""
        return "action_deny"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Acknowledges; a refused cancellation says the order stays as it is."""
        pending = fresh_confirmation(tracker) or ""
        if pending.startswith(CONFIRM_CANCEL + ":"):
            dispatcher.utter_message(response="utter_cancel_aborted")
        else:
            dispatcher.utter_message(response="utter_ok")
        return [CLEAR]
