"""Base classes: every action gets the shop repository and fails soft.

A failing database must not leave the customer in silence: the action apologises and
signals a handoff, and the gateway queues the conversation for a person.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.constants import REASON_POLICY
from actions.shop.policy import NotAllowed
from actions.shop.repository import ShopRepository

logger = logging.getLogger(__name__)


class UsesRepository:
    """Holds the repository an action reads and writes shop data through.

    Rasa SDK builds actions without arguments, so the default repository (from
    DATABASE_URL) is created on first use; tests pass their own.
    """

    def __init__(self, repository: ShopRepository | None = None) -> None:
        self._repository = repository

    @property
    def repo(self) -> ShopRepository:
        """The shop repository."""
        if self._repository is None:
            self._repository = ShopRepository()
        return self._repository


class ShopAction(UsesRepository, Action, ABC):
    """An action that answers from shop data; subclasses implement `perform`."""

    @abstractmethod
    def name(self) -> str:
        """The action's name in the domain."""

    @abstractmethod
    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Does the work of the action and returns its events."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Runs `perform`; a shop-data failure becomes an apology and a handoff signal, and
        a business rule refusing at the last moment (the order changed since the offer)
        an explanation and the offer of a person: never a silent turn."""
        try:
            return await self.perform(dispatcher, tracker, domain)
        except NotAllowed as refusal:
            logger.warning("%s refused by a rule: %s", self.name(), refusal)
            from actions.handoff import offer_handoff  # actions.handoff imports this module

            return offer_handoff(dispatcher, tracker, REASON_POLICY, "utter_request_refused")
        except SQLAlchemyError:
            logger.exception("shop data unavailable in %s", self.name())
            from actions.handoff import signal_unavailable

            return signal_unavailable(dispatcher, tracker)


class ShopFormValidation(UsesRepository, FormValidationAction, ABC):
    """A form validation action with the shop repository."""

    def __init__(self, repository: ShopRepository | None = None) -> None:
        UsesRepository.__init__(self, repository)

    @abstractmethod
    def name(self) -> str:
        """The validation action's name (validate_<form>)."""


class ChoiceQuestion(ShopAction, ABC):
    """Asks a form question with one button per allowed value of a slot.

    Subclasses name the response that asks, the slot (also the entity the button
    payload fills), its values, and the i18n label group for the button titles.
    """

    response: str
    slot: str
    choices: tuple[str, ...]
    label_group: str

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Sends the question with its buttons."""
        from actions.conversation import language
        from actions.i18n import label

        lang = language(tracker)
        buttons = [
            {
                "title": label(self.label_group, value, lang),
                "payload": f'/inform{{"{self.slot}":"{value}"}}',
            }
            for value in self.choices
        ]
        dispatcher.utter_message(response=self.response, buttons=buttons)
        return []
