"""Status, tracking, cancellation and refund answers once the order is known."""

from __future__ import annotations

from actions.confirmation import ActionConfirm, ActionDeny
from actions.shop.repository import ShopRepository
from actions.tasks import ActionResumeTask
from tests.actions.factories import make_tracker, responses, run, slot_events, user_event


def task_tracker(intent: str, order_id: str, customer_id: str | None = "C1001", **fields):
    """A tracker whose customer asked for `intent` about `order_id` via the order form."""
    asked = user_event("...", intent, metadata={"customer_id": customer_id})
    return make_tracker(
        text=order_id, intent="inform", customer_id=customer_id,
        slots={"order_id": order_id, **fields.pop("slots", {})},
        events=[asked], **fields,
    )


async def test_status_of_a_paid_order(repo: ShopRepository) -> None:
    tracker = task_tracker("order_status", "DD202611010003")
    _, dispatcher = await run(ActionResumeTask(repo), tracker)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_order_status"
    assert message["order_id"] == "DD202611010003"
    assert message["status"] == "已付款，待发货"
    assert message["items"] == "保温杯" and message["total"] == "129.00"


async def test_status_in_english(repo: ShopRepository) -> None:
    tracker = task_tracker("order_status", "DD202611010007", "C1003", slots={"language": "en"})
    _, dispatcher = await run(ActionResumeTask(repo), tracker)
    assert dispatcher.messages[0]["items"] == "Desk lamp"
    assert dispatcher.messages[0]["status"] == "shipped, in transit"


async def test_tracking_in_transit(repo: ShopRepository) -> None:
    events, dispatcher = await run(
        ActionResumeTask(repo), task_tracker("track_shipment", "DD202611010001")
    )
    message = dispatcher.messages[0]
    assert message["response"] == "utter_tracking"
    assert message["carrier"] == "顺丰速运" and message["tracking_no"] == "SF1234567890"
    assert "上海转运中心" in message["events"]
    assert responses(dispatcher) == ["utter_tracking"]  # on time: no apology


async def test_overdue_parcel_is_an_exception_with_an_offer(repo: ShopRepository) -> None:
    tracker = task_tracker("track_shipment", "DD202611010007", "C1003", slots={"language": "en"})
    events, dispatcher = await run(ActionResumeTask(repo), tracker)
    assert responses(dispatcher) == ["utter_tracking", "utter_logistics_exception"]
    assert slot_events(events)["pending_confirmation"] == "handoff:logistics_exception"


async def test_latest_task_wins_when_customer_switches(repo: ShopRepository) -> None:
    tracker = make_tracker(
        text="DD202611010001", customer_id="C1001", slots={"order_id": "DD202611010001"},
        events=[user_event("取消", "cancel_order"), user_event("物流", "track_shipment")],
    )
    _, dispatcher = await run(ActionResumeTask(repo), tracker)
    assert responses(dispatcher)[0] == "utter_tracking"


async def test_cancel_needs_an_explicit_yes(fresh_repo: ShopRepository) -> None:
    events, dispatcher = await run(
        ActionResumeTask(fresh_repo), task_tracker("cancel_order", "DD202611010003")
    )
    assert responses(dispatcher) == ["utter_cancel_confirm"]
    pending = slot_events(events)["pending_confirmation"]
    assert pending == "cancel:DD202611010003"
    assert (await fresh_repo.get_order("DD202611010003")).status == "paid"

    confirm_turn = make_tracker(
        text="确定", intent="affirm", customer_id="C1001",
        slots={"pending_confirmation": pending},
        events=[user_event("取消", "cancel_order"),
                {"event": "slot", "name": "pending_confirmation", "value": pending}],
    )
    _, dispatcher = await run(ActionConfirm(fresh_repo), confirm_turn)
    assert responses(dispatcher) == ["utter_cancelled"]
    assert (await fresh_repo.get_order("DD202611010003")).status == "cancelled"


async def test_stale_yes_cancels_nothing(fresh_repo: ShopRepository) -> None:
    pending = "cancel:DD202611010003"
    stale = make_tracker(
        text="好的", intent="affirm", customer_id="C1001",
        slots={"pending_confirmation": pending},
        events=[{"event": "slot", "name": "pending_confirmation", "value": pending},
                user_event("我有多少积分", "check_points")],
    )
    _, dispatcher = await run(ActionConfirm(fresh_repo), stale)
    assert responses(dispatcher) == ["utter_ok"]
    assert (await fresh_repo.get_order("DD202611010003")).status == "paid"


async def test_no_keeps_the_order(fresh_repo: ShopRepository) -> None:
    pending = "cancel:DD202611010003"
    tracker = make_tracker(
        text="不了", intent="deny", customer_id="C1001", slots={"pending_confirmation": pending},
        events=[{"event": "slot", "name": "pending_confirmation", "value": pending}],
    )
    _, dispatcher = await run(ActionDeny(fresh_repo), tracker)
    assert responses(dispatcher) == ["utter_cancel_aborted"]
    assert (await fresh_repo.get_order("DD202611010003")).status == "paid"


async def test_shipped_order_cannot_be_cancelled_but_can_be_returned(
    fresh_repo: ShopRepository,
) -> None:
    events, dispatcher = await run(
        ActionResumeTask(fresh_repo), task_tracker("cancel_order", "DD202611010001")
    )
    assert responses(dispatcher) == ["utter_cancel_shipped"]
    assert slot_events(events)["pending_confirmation"] == "start_return:DD202611010001"
    assert (await fresh_repo.get_order("DD202611010001")).status == "shipped"


async def test_refund_progress(repo: ShopRepository) -> None:
    _, dispatcher = await run(
        ActionResumeTask(repo), task_tracker("refund_status", "DD202610280006", "C1002")
    )
    message = dispatcher.messages[0]
    assert message["response"] == "utter_refund_status"
    assert message["return_id"] == "RT20261105001"
    assert message["amount"] == "499.00" and message["status"] == "已退款"
    assert "到账" in message["eta"]


async def test_no_refund_yet(repo: ShopRepository) -> None:
    _, dispatcher = await run(
        ActionResumeTask(repo), task_tracker("refund_status", "DD202611010003")
    )
    assert responses(dispatcher) == ["utter_no_refund"]


async def test_task_is_refused_for_another_customers_order(repo: ShopRepository) -> None:
    _, dispatcher = await run(
        ActionResumeTask(repo), task_tracker("order_status", "DD202611010005", "C1001")
    )
    assert responses(dispatcher) == ["utter_anything_else"]
    assert all("DD202611010005" not in str(m) for m in dispatcher.messages)
