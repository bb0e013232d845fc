"""Change, return and problem forms: validators accept and reject, submissions write."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.changes import ActionSubmitChange, ValidateChangeForm
from actions.problems import ActionSubmitProblem
from actions.returns import ActionSubmitReturn, ValidateReturnForm
from actions.shop.repository import ShopRepository
from tests.actions.factories import make_tracker, responses, run, slot_events, user_event

CHANGE_SLOTS = ["order_id", "phone_last4", "change_field", "new_value", "change_confirm"]
RETURN_SLOTS = ["order_id", "phone_last4", "return_item", "return_reason", "return_confirm"]


async def test_change_is_blocked_after_shipment(repo: ShopRepository) -> None:
    form = ValidateChangeForm(repo)
    named = make_tracker(text="改DD202611010001的地址", customer_id="C1001")
    result = await form.validate_order_id("DD202611010001", CollectingDispatcher(), named, {})
    assert result["order_blocked"] == "already_shipped"
    blocked = make_tracker(customer_id="C1001", slots=result)
    assert await form.required_slots(CHANGE_SLOTS, CollectingDispatcher(), blocked, {}) == [
        "order_id"
    ]


async def test_remembered_order_that_does_not_fit_is_asked_again(repo: ShopRepository) -> None:
    """"I want a return" right after tracking a parcel in transit asks which order."""
    form = ValidateReturnForm(repo)
    tracker = make_tracker(text="我要退货", intent="request_return", customer_id="C1001")
    result = await form.validate_order_id("DD202611010001", CollectingDispatcher(), tracker, {})
    assert result == {"order_id": None, "order_blocked": None}


async def test_new_phone_is_validated(repo: ShopRepository) -> None:
    form = ValidateChangeForm(repo)
    tracker = make_tracker(customer_id="C1001", slots={"change_field": "phone"})
    dispatcher = CollectingDispatcher()
    assert (await form.validate_new_value("12345", dispatcher, tracker, {})) == {"new_value": None}
    assert responses(dispatcher) == ["utter_change_invalid"]
    accepted = await form.validate_new_value("13712345678", CollectingDispatcher(), tracker, {})
    assert accepted == {"new_value": "13712345678"}


async def test_confirmed_address_change_is_written_and_masked(fresh_repo: ShopRepository) -> None:
    address = "上海市浦东新区世纪大道100号5楼"
    tracker = make_tracker(
        customer_id="C1001",
        slots={"order_id": "DD202611010003", "change_field": "address", "new_value": address,
               "change_confirm": True},
    )
    _, dispatcher = await run(ActionSubmitChange(fresh_repo), tracker)
    assert responses(dispatcher) == ["utter_changed"]
    assert dispatcher.messages[0]["value"] != address  # the reply masks the address
    assert (await fresh_repo.get_order("DD202611010003")).address == address


async def test_declined_change_writes_nothing(fresh_repo: ShopRepository) -> None:
    before = (await fresh_repo.get_order("DD202611010003")).address
    tracker = make_tracker(
        customer_id="C1001",
        slots={"order_id": "DD202611010003", "change_field": "address",
               "new_value": "北京市朝阳区建国路88号", "change_confirm": False},
    )
    _, dispatcher = await run(ActionSubmitChange(fresh_repo), tracker)
    assert responses(dispatcher) == ["utter_change_aborted"]
    assert (await fresh_repo.get_order("DD202611010003")).address == before


async def test_return_form_fills_the_only_item_and_applies_windows(repo: ShopRepository) -> None:
    form = ValidateReturnForm(repo)
    inside = await form.validate_order_id(
        "DD202611010002", CollectingDispatcher(), make_tracker(customer_id="C1001"), {}
    )
    assert inside["return_item"] == "TSH-002" and inside["order_blocked"] is None
    late = make_tracker(customer_id="C1001", slots={"order_id": "DD202610150004",
                                                    "return_item": "KET-004"})
    result = await form.validate_return_reason("no_reason", CollectingDispatcher(), late, {})
    assert result == {"return_reason": "no_reason", "order_blocked": "warranty"}
    undelivered = await form.validate_order_id(
        "DD202611010003", CollectingDispatcher(),
        make_tracker(text="DD202611010003", customer_id="C1001"), {},
    )
    assert undelivered["order_blocked"] == "not_delivered"


async def test_confirmed_return_is_created_once(fresh_repo: ShopRepository) -> None:
    slots = {"order_id": "DD202611010002", "return_item": "TSH-002",
             "return_reason": "no_reason", "return_confirm": True}
    tracker = make_tracker(customer_id="C1001", slots=slots)
    _, dispatcher = await run(ActionSubmitReturn(fresh_repo), tracker)
    assert responses(dispatcher) == ["utter_return_created"]
    created = dispatcher.messages[0]
    assert created["return_id"].startswith("RT") and created["amount"] == "158.00"
    assert created["eta"] in ("1-3", "3-7")
    _, again = await run(ActionSubmitReturn(fresh_repo), tracker)
    assert responses(again) == ["utter_return_already_open"]
    assert len(await fresh_repo.list_returns(order_id="DD202611010002")) == 1


async def test_late_return_offers_warranty_repair(fresh_repo: ShopRepository) -> None:
    slots = {"order_id": "DD202610150004", "return_item": "KET-004",
             "return_reason": "quality", "order_blocked": "warranty"}
    events, dispatcher = await run(
        ActionSubmitReturn(fresh_repo), make_tracker(customer_id="C1001", slots=slots)
    )
    assert responses(dispatcher) == ["utter_return_window_warranty"]
    pending = [e["value"] for e in events if e.get("name") == "pending_confirmation"]
    assert pending == ["repair:DD202610150004:KET-004:quality"]
    assert await fresh_repo.list_returns(order_id="DD202610150004") == []


async def test_problem_report_opens_a_case(fresh_repo: ShopRepository) -> None:
    slots = {"order_id": "DD202611010002", "problem_kind": "missing_item",
             "problem_description": "少了一件T恤"}
    events, dispatcher = await run(
        ActionSubmitProblem(fresh_repo), make_tracker(customer_id="C1001", slots=slots)
    )
    assert responses(dispatcher) == ["utter_case_created"]
    assert dispatcher.messages[0]["case_id"].startswith("AS")
    assert any(e.get("value") == "handoff:policy_exception" for e in events)


async def test_choice_questions_offer_one_button_per_value(repo: ShopRepository) -> None:
    from actions.changes import ActionAskChangeField
    from actions.problems import ActionAskProblemKind
    from actions.returns import ActionAskReturnReason

    english = make_tracker(slots={"language": "en"})
    _, dispatcher = await run(ActionAskReturnReason(repo), english)
    buttons = dispatcher.messages[0]["buttons"]
    assert buttons[0] == {"title": "changed my mind",
                          "payload": '/inform{"return_reason":"no_reason"}'}
    assert len(buttons) == 4
    _, dispatcher = await run(ActionAskChangeField(repo), make_tracker())
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == [
        "收货地址", "收货人手机号", "配送时间"]
    _, dispatcher = await run(ActionAskProblemKind(repo), make_tracker())
    assert responses(dispatcher) == ["utter_ask_problem_kind"]


def asked(pending: str) -> list[dict]:
    """The bot's last turn asked the question `pending` stands for."""
    return [user_event("我要退货", "request_return"),
            {"event": "slot", "name": "pending_confirmation", "value": pending}]


async def _late_order_whose_first_item_has_no_warranty(
    repo: ShopRepository, customers: list[str], now
) -> tuple[str, str, str]:
    """(customer, order, the item under warranty) from the seeded shop: a delivered order
    past every return window whose first line has no warranty but another line's runs."""
    from actions.shop.policy import item_under_warranty, return_decision

    for customer in customers:
        for order in await repo.list_orders(customer):
            if order.status != "delivered" or len(order.items) < 2:
                continue
            if order.items[0].warranty_months or return_decision(order, "no_reason", now).allowed:
                continue
            item = item_under_warranty(order, now)
            if item is not None:
                return customer, order.id, item.sku
    raise AssertionError("the seed has no such order")


async def test_warranty_repair_is_offered_for_the_item_under_warranty(
    fresh_repo: ShopRepository, fresh_engine, now
) -> None:
    """No item picked yet (a choice question still open): the repair offer names the item
    whose warranty runs, and saying yes opens it (found by the load benchmark: the offer
    named the first line, the confirmation was refused, and the turn went silent)."""
    from sqlalchemy import text as sql

    from actions.confirmation import ActionConfirm

    with fresh_engine.connect() as connection:
        customers = [row[0] for row in connection.execute(sql("SELECT id FROM customers"))]
    customer, order_id, sku = await _late_order_whose_first_item_has_no_warranty(
        fresh_repo, customers, now
    )
    slots = {"order_id": order_id, "return_reason": "no_reason", "order_blocked": "warranty"}
    events, dispatcher = await run(
        ActionSubmitReturn(fresh_repo), make_tracker(customer_id=customer, slots=slots)
    )
    assert responses(dispatcher) == ["utter_return_window_warranty"]
    pending = slot_events(events)["pending_confirmation"]
    assert pending == f"repair:{order_id}:{sku}:no_reason"

    confirm = make_tracker(
        text="确定", intent="affirm", customer_id=customer,
        slots={"pending_confirmation": pending}, events=asked(pending),
    )
    await run(ActionConfirm(fresh_repo), confirm)
    (request,) = await fresh_repo.list_returns(order_id=order_id)
    assert (request.kind, request.sku) == ("repair", sku)


async def test_a_rule_refusing_at_the_last_moment_offers_a_person(
    fresh_repo: ShopRepository,
) -> None:
    """A confirmation the rules refuse by now (no warranty on that item) is explained and a
    person offered: never an exception, which Rasa turns into a silent turn."""
    from actions.confirmation import ActionConfirm

    order = await fresh_repo.get_order("DD202610150004")
    no_warranty = next((i.sku for i in order.items if not i.warranty_months), None)
    pending = f"repair:DD202610150004:{no_warranty or 'NO-SUCH-SKU'}:no_reason"
    events, dispatcher = await run(
        ActionConfirm(fresh_repo),
        make_tracker(text="确定", intent="affirm", customer_id="C1001",
                     slots={"pending_confirmation": pending}, events=asked(pending)),
    )
    assert responses(dispatcher) == ["utter_request_refused"]
    assert slot_events(events)["pending_confirmation"] == "handoff:policy_exception"
    assert await fresh_repo.list_returns(order_id="DD202610150004") == []
