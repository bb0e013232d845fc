"""Who may see which order, and the phone check of anonymous customers."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.order_forms import ValidateOrderForm
from actions.shop.repository import ShopRepository
from tests.actions.factories import make_tracker

DOMAIN_SLOTS = ["order_id", "phone_last4"]


async def validate_order(repo: ShopRepository, value: str, **tracker_fields):
    dispatcher = CollectingDispatcher()
    form = ValidateOrderForm(repo)
    result = await form.validate_order_id(value, dispatcher, make_tracker(**tracker_fields), {})
    return result, [m.get("response") for m in dispatcher.messages]


async def test_identified_customer_sees_own_order(repo: ShopRepository) -> None:
    result, said = await validate_order(repo, "DD202611010003", customer_id="C1001")
    assert result["order_id"] == "DD202611010003"
    assert said == []


async def test_other_customers_order_is_not_revealed(repo: ShopRepository) -> None:
    result, said = await validate_order(repo, "DD202611010005", customer_id="C1001")
    assert result == {"order_id": None}
    assert said == ["utter_order_not_yours"]


async def test_malformed_and_unknown_order_numbers(repo: ShopRepository) -> None:
    result, said = await validate_order(repo, "DD12345", customer_id="C1001")
    assert result == {"order_id": None} and said == ["utter_order_id_malformed"]
    result, said = await validate_order(repo, "'; DROP TABLE orders; --", customer_id="C1001")
    assert result == {"order_id": None} and said == ["utter_order_id_malformed"]
    result, said = await validate_order(repo, "DD999999999999", customer_id="C1001")
    assert result == {"order_id": None} and said == ["utter_order_not_found"]
    assert (await repo.get_order("DD202611010003")) is not None  # nothing was dropped


async def test_order_number_is_found_inside_text_and_lowercase(repo: ShopRepository) -> None:
    result, _ = await validate_order(repo, "我的订单号是dd202611010003谢谢", customer_id="C1001")
    assert result["order_id"] == "DD202611010003"


async def test_anonymous_customer_must_prove_the_order(repo: ShopRepository) -> None:
    result, said = await validate_order(repo, "DD202611010003")
    assert result == {"order_id": "DD202611010003", "phone_last4": None}
    tracker = make_tracker(slots={"order_id": "DD202611010003"})
    slots = await ValidateOrderForm(repo).required_slots(
        DOMAIN_SLOTS, CollectingDispatcher(), tracker, {}
    )
    assert slots == ["order_id", "phone_last4"]


async def test_identified_customer_is_not_asked_for_phone(repo: ShopRepository) -> None:
    tracker = make_tracker(customer_id="C1001", slots={"order_id": "DD202611010003"})
    slots = await ValidateOrderForm(repo).required_slots(
        DOMAIN_SLOTS, CollectingDispatcher(), tracker, {}
    )
    assert slots == ["order_id"]


async def test_right_phone_digits_verify_the_order(repo: ShopRepository) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text="尾号8000", slots={"order_id": "DD202611010003"})
    result = await ValidateOrderForm(repo).validate_phone_last4("尾号8000", dispatcher, tracker, {})
    assert result["phone_last4"] == "8000"
    assert result["verified_orders"] == ["DD202611010003"]
    assert dispatcher.messages == []


async def test_three_wrong_attempts_lock_the_check(repo: ShopRepository) -> None:
    form = ValidateOrderForm(repo)
    attempts = 0
    for expected_left in (2, 1, None):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(slots={"order_id": "DD202611010003", "verify_attempts": attempts})
        result = await form.validate_phone_last4("1111", dispatcher, tracker, {})
        attempts = result["verify_attempts"]
        assert result["phone_last4"] is None
        if expected_left is None:
            assert dispatcher.messages == []
        else:
            assert dispatcher.messages[0]["attempts_left"] == expected_left
    assert attempts == 3
    locked = make_tracker(slots={"order_id": "DD202611010003", "verify_attempts": 3})
    assert await form.required_slots(DOMAIN_SLOTS, CollectingDispatcher(), locked, {}) == []
