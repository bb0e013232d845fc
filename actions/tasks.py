"""What happens once the order form knows the order: the task the customer asked for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.access import check_access
from actions.base import ShopAction
from actions.cancel import ask_cancel
from actions.constants import SLOT_ORDER_ID
from actions.conversation import RESUME_ACTION, pending_task
from actions.logistics import answer_tracking
from actions.order_forms import clear_form_slots, hand_off_locked, locked_out
from actions.orders import answer_cancel_status, answer_status
from actions.returns import answer_refund_status
from actions.shop.dto import Order
from actions.shop.repository import ShopRepository

Events = list[dict[str, Any]]
Handler = Callable[[ShopRepository, Order, CollectingDispatcher, Tracker], Awaitable[Events]]


def _sync(answer: Callable[[Order, CollectingDispatcher, Tracker], Events]) -> Handler:
    async def handler(
        repo: ShopRepository, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        return answer(order, dispatcher, tracker)

    return handler


HANDLERS: dict[str, Handler] = {
    "order_status": _sync(answer_status),
    "track_shipment": _sync(answer_tracking),
    "cancel_order": _sync(ask_cancel),
    "cancel_status": _sync(answer_cancel_status),
    "refund_status": answer_refund_status,
}


class ActionResumeTask(ShopAction):
    """Serves the pending order task once the order form has the order."""

    def name(self) -> str:
        """Action name."""
        return RESUME_ACTION

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Runs the handler of the task the customer asked for."""
        reset = clear_form_slots()
        if locked_out(tracker):
            return await hand_off_locked(self.repo, dispatcher, tracker) + reset
        access = await check_access(self.repo, tracker, tracker.get_slot(SLOT_ORDER_ID))
        if not access.granted or access.order is None:
            dispatcher.utter_message(response="utter_anything_else")
            return reset
        handler = HANDLERS[pending_task(tracker)]
        return reset + await handler(self.repo, access.order, dispatcher, tracker)
