"""The handoff card over a real seeded shop database (the order's live status, masked)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.inbox.card import HandoffCardBuilder
from bot.inbox.orders import ShopOrderLookup
from bot.rasa_client import RasaClient
from bot.store import Stores
from tests.bot.gateway_harness import free_port, seed_shop


@pytest.fixture(scope="module")
def shop_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return seed_shop(tmp_path_factory.mktemp("shop") / "shop.db")


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    stores = Stores.connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    stores.db.create_schema()
    yield stores
    stores.db.dispose()


@pytest.fixture
async def rasa_down() -> AsyncIterator[RasaClient]:
    client = RasaClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    await client.start()
    yield client
    await client.close()


async def card_for(
    stores: Stores, rasa: RasaClient, shop_url: str, customer: str | None, order_id: str
) -> dict:
    conversation, _ = await stores.conversations.open("web", f"s-{customer}", customer, "zh")
    await stores.handoffs.request(conversation.id, "complaint", "complain", order_id)
    card = await HandoffCardBuilder(stores, rasa, ShopOrderLookup(shop_url)).build(conversation.id)
    assert card is not None
    return card


async def test_card_shows_the_live_order_masked(
    stores: Stores, rasa_down: RasaClient, shop_url: str
) -> None:
    card = await card_for(stores, rasa_down, shop_url, "C1001", "DD202611010001")
    assert card["customer"] == {
        "id": "C1001",
        "name": "张伟",
        "identity": {"verified": True, "method": "token"},
    }
    assert card["reason"] == "complaint" and card["intent"] == "complain"
    order = card["order"]
    assert card["order_status"] == "ok"
    assert order["status"] == "shipped"
    assert order["shipment"]["tracking_no"] == "SF1234567890"
    assert order["belongs_to_customer"] is True
    assert "13800138000" not in str(card)
    assert order["recipient_phone"].endswith("8000") and "****" in order["recipient_phone"]
    assert card["tracker_available"] is False  # Rasa is down: the card still works


async def test_card_flags_an_order_of_another_customer(
    stores: Stores, rasa_down: RasaClient, shop_url: str
) -> None:
    card = await card_for(stores, rasa_down, shop_url, "C1002", "DD202611010001")
    assert card["order"]["belongs_to_customer"] is False


async def test_card_when_the_order_is_unknown_or_the_shop_is_unreachable(
    stores: Stores, rasa_down: RasaClient, shop_url: str, tmp_path: Path
) -> None:
    card = await card_for(stores, rasa_down, shop_url, None, "DD209912319999")
    assert card["order"] is None and card["order_status"] == "not_found"
    missing = f"sqlite:///{tmp_path / 'no-such-shop.db'}"
    conversation, _ = await stores.conversations.open("web", "s-missing", None, "zh")
    await stores.handoffs.request(conversation.id, "complaint", None, "DD202611010001")
    card = await HandoffCardBuilder(stores, rasa_down, ShopOrderLookup(missing)).build(
        conversation.id
    )
    assert card is not None and card["order_status"] == "unavailable"
    assert not (tmp_path / "no-such-shop.db").exists()  # a read never creates a database
