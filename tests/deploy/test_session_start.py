"""`action_session_start` run inside the Rasa server gives the events the real action
server gives, and makes no request."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from deploy.rasa_patches import session_start
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

DOMAIN = Domain.load(str(ROOT / "domain"))
METADATA = "session_started_metadata"
CASES = {
    "new, verified web customer": [
        SlotSet(METADATA, {"customer_id": "C1001", "channel": "web", "language": "en"}),
    ],
    "new, anonymous WeChat customer": [
        SlotSet(METADATA, {"customer_id": None, "channel": "wechat", "language": "fr"}),
    ],
    "expired session carries slots over": [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("我的订单 DD202611010001", {"name": "order_status", "confidence": 1.0}),
        SlotSet("order_id", "DD202611010001"),
        SlotSet("language", "zh"),
        SlotSet("verified_orders", ["DD202611010001"]),
        SlotSet(METADATA, {"channel": "web"}),
    ],
    "metadata that is not an object": [SlotSet(METADATA, "garbage")],
}


@pytest.mark.parametrize("case", list(CASES))
def test_in_process_session_start_equals_the_action_server(rasa_stack, case: str) -> None:
    events = CASES[case]
    assert all(e.key in {s.name for s in DOMAIN.slots} for e in events if isinstance(e, SlotSet))
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)

    async def both() -> tuple[list, list]:
        served = RemoteAction(
            "action_session_start", EndpointConfig(f"{rasa_stack.actions_url}/webhook")
        )
        unreachable = RemoteAction("action_session_start", EndpointConfig("http://127.0.0.1:9/"))
        theirs = await session_start._original_run(
            served, CollectingOutputChannel(), nlg,
            DialogueStateTracker.from_events("s", events, DOMAIN.slots), DOMAIN,
        )
        ours = await session_start.run(
            unreachable, CollectingOutputChannel(), nlg,
            DialogueStateTracker.from_events("s", events, DOMAIN.slots), DOMAIN,
        )
        return theirs, ours

    theirs, ours = asyncio.run(both())
    assert ours == theirs
    assert isinstance(ours[0], SessionStarted) and ours[-1] == ActionExecuted("action_listen")
