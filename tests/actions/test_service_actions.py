"""Loyalty, knowledge base, handoff, fallback, language and a failing database."""

from __future__ import annotations

from pathlib import Path

from actions.fallback import ActionClarify
from actions.faq import ActionAnswerFaq
from actions.handoff import ActionHandoff
from actions.language import detect_language
from actions.loyalty import ActionCoupons, ActionLoyalty
from actions.shop.db import build_engine
from actions.shop.repository import ShopRepository
from actions.tasks import ActionResumeTask
from tests.actions.factories import make_tracker, responses, run, user_event


async def test_points_of_an_identified_customer(repo: ShopRepository) -> None:
    _, dispatcher = await run(ActionLoyalty(repo), make_tracker(customer_id="C1001"))
    assert responses(dispatcher) == ["utter_loyalty", "utter_points_expiring"]
    assert dispatcher.messages[0]["points"] == 2350 and dispatcher.messages[0]["tier"] == "金卡"
    assert dispatcher.messages[1]["points"] == 500


async def test_points_need_identity(repo: ShopRepository) -> None:
    _, dispatcher = await run(ActionLoyalty(repo), make_tracker())
    assert responses(dispatcher) == ["utter_loyalty_login"]


async def test_coupons_are_listed_in_english(repo: ShopRepository) -> None:
    tracker = make_tracker(customer_id="C1003", slots={"language": "en"})
    _, dispatcher = await run(ActionCoupons(repo), tracker)
    assert responses(dispatcher) in (["utter_coupons"], ["utter_no_coupons"])
    if responses(dispatcher) == ["utter_coupons"]:
        assert "off orders over" in dispatcher.messages[0]["coupons"]


async def test_faq_picks_the_entry_by_keyword() -> None:
    tracker = make_tracker(text="你们支持货到付款吗", intent="payment_question")
    _, dispatcher = await run(ActionAnswerFaq(), tracker)
    assert "货到付款" in dispatcher.messages[0]["answer"]
    english = make_tracker(text="can I pay cash on delivery", intent="payment_question",
                           slots={"language": "en"})
    _, dispatcher = await run(ActionAnswerFaq(), english)
    assert "Cash on delivery" in dispatcher.messages[0]["answer"]


async def test_handoff_is_recorded_and_signalled(fresh_repo: ShopRepository) -> None:
    tracker = make_tracker(text="转人工", intent="human_agent", customer_id="C1001",
                           slots={"order_id": "DD202611010001"}, sender_id="conv-42")
    events, dispatcher = await run(ActionHandoff(fresh_repo), tracker)
    signal = [m["custom"] for m in dispatcher.messages if m.get("custom")]
    assert signal == [{"handoff": {"reason": "customer_request", "intent": "human_agent",
                                   "order_id": "DD202611010001"}}]
    recorded = await fresh_repo.list_handoffs("conv-42")
    assert [h.reason for h in recorded] == ["customer_request"]


async def test_complaint_hands_off_with_apology(fresh_repo: ShopRepository) -> None:
    tracker = make_tracker(text="我要投诉", intent="complain", customer_id="C1001")
    _, dispatcher = await run(ActionHandoff(fresh_repo), tracker)
    assert responses(dispatcher) == ["utter_complaint_apology"]
    assert dispatcher.messages[1]["custom"]["handoff"]["reason"] == "complaint"


async def test_two_misunderstandings_in_a_row_hand_off(fresh_repo: ShopRepository) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "order_status",
               "confidence": 0.3}, {"name": "track_shipment", "confidence": 0.2}]
    first = make_tracker(text="嗯嗯那个", intent="nlu_fallback", ranking=ranking)
    _, dispatcher = await run(ActionClarify(fresh_repo), first)
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == ["/order_status", "/track_shipment", "/human_agent"]
    second = make_tracker(text="啊啊", intent="nlu_fallback", ranking=ranking,
                          events=[user_event("嗯嗯那个", "nlu_fallback")])
    _, dispatcher = await run(ActionClarify(fresh_repo), second)
    assert dispatcher.messages[-1]["custom"]["handoff"]["reason"] == "fallback"


def test_language_detection() -> None:
    assert detect_language("我的订单到哪了") == "zh"
    assert detect_language("我的order到哪了") == "zh"
    assert detect_language("訂單還沒到") == "zh"
    assert detect_language("where is my order") == "en"
    assert detect_language("DD202611010001") is None
    assert detect_language("8000") is None
    assert detect_language("/affirm") is None


async def test_database_down_apologises_and_hands_off(tmp_path: Path) -> None:
    broken = ShopRepository(build_engine(f"sqlite:///{tmp_path}/missing/dir/shop.db"))
    tracker = make_tracker(text="DD202611010003", customer_id="C1001",
                           slots={"order_id": "DD202611010003"},
                           events=[user_event("查订单", "order_status")])
    _, dispatcher = await run(ActionResumeTask(broken), tracker)
    assert responses(dispatcher)[0] == "utter_internal_error"
    assert any(m.get("custom", {}).get("handoff") for m in dispatcher.messages)
