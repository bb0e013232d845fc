"""Points, tiers and coupons of an identified customer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ShopAction
from actions.conversation import customer_id, language
from actions.i18n import day, money, separator


class ActionLoyalty(ShopAction):
    """Balance, tier and points about to expire."""

    def name(self) -> str:
        """Action name."""
        return "action_loyalty"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Answers from the customer's loyalty account."""
        owner = customer_id(tracker)
        account = await self.repo.get_loyalty(owner) if owner else None
        if account is None:
            dispatcher.utter_message(response="utter_loyalty_login")
            return []
        lang = language(tracker)
        dispatcher.utter_message(
            response="utter_loyalty",
            tier=account.tier_en if lang == "en" else account.tier,
            points=account.points,
        )
        if account.expiring_points and account.expiring_on:
            dispatcher.utter_message(
                response="utter_points_expiring",
                points=account.expiring_points,
                date=day(account.expiring_on, lang),
            )
        else:
            dispatcher.utter_message(response="utter_points_no_expiry")
        return []


class ActionCoupons(ShopAction):
    """The customer's unused coupons; the coupon rules for anonymous customers."""

    def name(self) -> str:
        """Action name."""
        return "action_coupons"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Lists coupons with amount, minimum spend and expiry."""
        owner = customer_id(tracker)
        if owner is None:
            dispatcher.utter_message(response="utter_loyalty_login")
            return []
        lang = language(tracker)
        coupons = await self.repo.list_coupons(owner)
        if not coupons:
            dispatcher.utter_message(response="utter_no_coupons")
            return []
        if lang == "en":
            lines = [
                f"{c.title_en} (¥{money(c.amount_off)} off orders over "
                f"¥{money(c.min_spend)}, until {day(c.expires_on, lang)})"
                for c in coupons
            ]
        else:
            lines = [
                f"{c.title}（满{money(c.min_spend)}减{money(c.amount_off)}，"
                f"{day(c.expires_on, lang)}前有效）"
                for c in coupons
            ]
        dispatcher.utter_message(
            response="utter_coupons",
            count=len(coupons),
            coupons=separator(lang).join(lines),
        )
        return []
