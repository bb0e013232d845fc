"""Realistic mixed conversations for the load generator, drawn from the shop database.

A simulated customer opens a chat (a new `sender`), has one short conversation from the
mix, then opens the next. Customers and their own orders are sampled from the (grown)
shop database, so the bot's actions read real rows: order status, parcel tracking, the
return form, points and coupons, a policy question, and now and then a request for a
person. One customer in five writes English.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from sqlalchemy import create_engine, text

# (weight, name): the share of conversations of each kind.
MIX: tuple[tuple[int, str], ...] = (
    (25, "order_status"),
    (25, "tracking"),
    (15, "return_form"),
    (20, "loyalty"),
    (10, "policy"),
    (5, "handoff"),
)


@dataclass(frozen=True)
class Conversation:
    """One chat: who, in which language, and the customer's messages in order."""

    kind: str
    customer_id: str
    language: str
    turns: tuple[str, ...]


def sample_customers(database_url: str, count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(customer id, one of their order ids) for `count` random customers with orders."""
    engine = create_engine(database_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT customer_id, max(id) FROM orders GROUP BY customer_id"
                    " ORDER BY customer_id"
                )
            ).all()
    finally:
        engine.dispose()
    rng = random.Random(seed)
    picked = rng.sample(rows, min(count, len(rows)))
    return [(str(customer), str(order)) for customer, order in picked]


def conversation(kind: str, customer_id: str, order_id: str, language: str) -> Conversation:
    """The messages of one conversation of `kind`."""
    zh = language == "zh"
    greeting = ("你好",) if zh else ("hello",)
    thanks = ("谢谢",) if zh else ("thanks",)
    turns: tuple[str, ...]
    if kind == "order_status":
        ask = f"订单{order_id}现在什么状态" if zh else f"what's the status of order {order_id}"
        turns = (*greeting, ask, *thanks)
    elif kind == "tracking":
        ask = f"我的订单{order_id}到哪了" if zh else f"where is my package {order_id}"
        turns = (ask, *thanks)
    elif kind == "return_form":
        ask = f"我要退货，订单{order_id}" if zh else f"I want to return my order {order_id}"
        reason = '/inform{"return_reason":"no_reason"}'
        turns = (ask, reason, "确定" if zh else "yes")
    elif kind == "loyalty":
        turns = (
            ("我还有多少积分", "我有哪些优惠券")
            if zh
            else ("how many points do I have", "do I have any coupons")
        )
    elif kind == "policy":
        turns = (
            ("退货政策是什么", "你们支持货到付款吗")
            if zh
            else ("what is your return policy", "which payment methods do you accept")
        )
    elif kind == "handoff":
        turns = ("我要投诉，转人工",) if zh else ("I want to talk to a person",)
    else:
        raise ValueError(kind)
    return Conversation(kind=kind, customer_id=customer_id, language=language, turns=turns)


def plan(customers: list[tuple[str, str]], count: int, seed: int = 11) -> list[Conversation]:
    """`count` conversations drawn from the mix (deterministic for a seed)."""
    rng = random.Random(seed)
    kinds = [name for weight, name in MIX for _ in range(weight)]
    result = []
    for _ in range(count):
        customer_id, order_id = rng.choice(customers)
        language = "en" if rng.random() < 0.2 else "zh"
        result.append(conversation(rng.choice(kinds), customer_id, order_id, language))
    return result


def dump(conversations: list[Conversation]) -> str:
    """JSON lines for the load generator."""
    return "\n".join(
        json.dumps(
            {"kind": c.kind, "customer_id": c.customer_id, "language": c.language,
             "turns": list(c.turns)},
            ensure_ascii=False,
        )
        for c in conversations
    )


def load(raw: str) -> list[Conversation]:
    """Reads `dump`'s output."""
    result = []
    for line in raw.splitlines():
        if line.strip():
            item = json.loads(line)
            result.append(
                Conversation(
                    kind=item["kind"],
                    customer_id=item["customer_id"],
                    language=item["language"],
                    turns=tuple(item["turns"]),
                )
            )
    return result
