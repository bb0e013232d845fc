"""Problem reports: wrong, missing or damaged items, and parcels marked delivered but lost."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ChoiceQuestion, ShopAction
from actions.constants import (
    MAX_MESSAGE_CHARS,
    REASON_POLICY,
    SLOT_ORDER_ID,
    SLOT_PROBLEM_DESCRIPTION,
    SLOT_PROBLEM_KIND,
)
from actions.conversation import customer_id
from actions.handoff import offer_handoff
from actions.order_forms import (
    OrderFormValidation,
    Slots,
    clear_form_slots,
    hand_off_locked,
    locked_out,
)

KINDS = ("wrong_item", "missing_item", "damaged", "not_received")


class ValidateProblemForm(OrderFormValidation):
    """Order, what went wrong, and the customer's description."""

    def name(self) -> str:
        """Action name."""
        return "validate_problem_form"

    async def validate_problem_kind(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Slots:
        """Accepts one of the known problem kinds."""
        return {SLOT_PROBLEM_KIND: slot_value if slot_value in KINDS else None}

    async def validate_problem_description(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Slots:
        """Keeps the description (trimmed to the longest message the gateway accepts)."""
        text = " ".join(str(slot_value or "").split())[:MAX_MESSAGE_CHARS]
        return {SLOT_PROBLEM_DESCRIPTION: text or None}


class ActionAskProblemKind(ChoiceQuestion):
    """Asks what went wrong, one button per kind of problem."""

    response = "utter_ask_problem_kind"
    slot = SLOT_PROBLEM_KIND
    choices = KINDS
    label_group = "problem_kind"

    def name(self) -> str:
        """Action name."""
        return "action_ask_problem_kind"


class ActionSubmitProblem(ShopAction):
    """Opens an after-sales case and offers a person."""

    def name(self) -> str:
        """Action name."""
        return "action_submit_problem"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Writes the case and tells the customer its number."""
        reset = clear_form_slots(SLOT_PROBLEM_KIND, SLOT_PROBLEM_DESCRIPTION)
        if locked_out(tracker):
            return await hand_off_locked(self.repo, dispatcher, tracker) + reset
        order_id = tracker.get_slot(SLOT_ORDER_ID)
        order = await self.repo.get_order(order_id) if order_id else None
        case = await self.repo.create_case(
            order_id=order_id,
            customer_id=customer_id(tracker) or (order.customer_id if order else None),
            kind=tracker.get_slot(SLOT_PROBLEM_KIND) or "other",
            description=tracker.get_slot(SLOT_PROBLEM_DESCRIPTION) or "",
        )
        return reset + offer_handoff(
            dispatcher, tracker, REASON_POLICY, "utter_case_created", case_id=case.id
        )
