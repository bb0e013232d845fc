"""Faults in the production profile: processes killed, PostgreSQL restarted, Redis gone.

Customers talk to the gateway's HTTP API as a shop front end would (re-sending the same
client message id after a connection error or a 5xx, like the widget). What they must see:
a reply or a place in the queue for every message, never silence; what must be stored:
every message exactly once, in the gateway's tables and in Rasa's shared tracker store.
The tests run in this order; the last one kills a Rasa server and does not wait for it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
import redis
from sqlalchemy import create_engine, text

from deploy.stack import Profile, Services
from tests.production.customers import Customer, Turn, count_in, tracker_user_texts

# Facts of the demo fixture (shared/demo_fixture.yml) the replies must contain.
SCRIPTS: dict[str, tuple[str, ...]] = {
    "C1001": (
        "我的订单DD202611010001到哪了",
        "我还有多少积分",
        "DD202611010001什么时候能到",
        "我有哪些优惠券",
        "你们支持货到付款吗",
        "谢谢",
    ),
    "C1002": (
        "查一下我的订单",
        "我的积分有多少",
        "退货政策是什么",
        "你好",
        "我有优惠券吗",
        "好的谢谢",
    ),
    "C1003": (
        "where is my package DD202611010007",
        "how many points do I have",
        "what is your return policy",
        "do I have any coupons",
        "hello",
        "thanks",
    ),
}
ORDER_OF = {"C1001": "DD202611010001", "C1003": "DD202611010007"}
Fault = Callable[[], Awaitable[None]]


async def converse(
    http: aiohttp.ClientSession,
    profile: Profile,
    customer_ids: Sequence[str],
    turns: int,
    *,
    fault_after: int | None = None,
    fault: Fault | None = None,
) -> tuple[list[Customer], asyncio.Task[None] | None]:
    """Runs one conversation per id at once; when every customer has done `fault_after`
    turns, `fault` starts while they go on (so it hits requests in flight)."""
    customers = [Customer(http, profile.gateway_url, cid) for cid in customer_ids]
    reached = 0
    go_on = asyncio.Event()
    fault_task: asyncio.Task[None] | None = None

    async def one(customer: Customer) -> None:
        nonlocal reached, fault_task
        script = SCRIPTS[customer.customer_id or "C1002"]
        for index in range(turns):
            await customer.say(script[index % len(script)])
            if fault_after is not None and index + 1 == fault_after:
                reached += 1
                if reached == len(customers):
                    if fault is not None:
                        fault_task = asyncio.create_task(fault())
                    go_on.set()
                await go_on.wait()

    await asyncio.gather(*(one(c) for c in customers))
    return customers, fault_task


def all_turns(customers: Sequence[Customer]) -> list[Turn]:
    """Every turn of every customer."""
    return [turn for customer in customers for turn in customer.turns]


def gateway_engine(services: Services):  # noqa: ANN201 - SQLAlchemy Engine
    """An engine on the gateway's PostgreSQL database."""
    return create_engine(services.psql_url("gateway"), future=True)


def stored_customer_messages(services: Services, conversation_id: str) -> list[dict[str, object]]:
    """The customer's stored messages with the authors of the replies to each."""
    engine = gateway_engine(services)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT m.id, m.client_message_id, m.text,"
                    " array_remove(array_agg(r.author), NULL) AS reply_authors"
                    " FROM messages m LEFT JOIN messages r ON r.reply_to_id = m.id"
                    " WHERE m.conversation_id = :cid AND m.author = 'customer'"
                    " GROUP BY m.id ORDER BY m.id"
                ),
                {"cid": conversation_id},
            ).mappings()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()


def handoff_count(services: Services, conversation_id: str) -> int:
    """How many handoffs the gateway recorded for a conversation."""
    engine = gateway_engine(services)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT count(*) FROM handoffs WHERE conversation_id = :cid"),
                    {"cid": conversation_id},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def assert_all_answered(customers: Sequence[Customer]) -> list[Turn]:
    """Every turn got a reply or a place in the queue; returns the turns."""
    turns = all_turns(customers)
    assert all(turn.answered for turn in turns), [t for t in turns if not t.answered][:5]
    return turns


async def converse_through(
    http: aiohttp.ClientSession,
    profile: Profile,
    customer_ids: Sequence[str],
    turns: int,
    fault: Fault,
) -> list[Customer]:
    """`converse` with `fault` started after two turns each; waits for the fault to end
    and checks that every turn was still answered."""
    customers, task = await converse(
        http, profile, customer_ids, turns, fault_after=2, fault=fault
    )
    assert task is not None, "the fault never started"
    await task
    assert_all_answered(customers)
    return customers


async def assert_stored_exactly_once(
    http: aiohttp.ClientSession, profile: Profile, services: Services, customer: Customer
) -> None:
    """Every message the customer sent is stored once by the gateway, has a reply or a
    handoff, and each message the bot answered is in Rasa's tracker exactly once."""
    assert customer.conversation_id, "the customer never got a conversation id"
    stored = stored_customer_messages(services, customer.conversation_id)
    sent_ids = [turn.client_message_id for turn in customer.turns]
    assert [row["client_message_id"] for row in stored] == sent_ids  # each once, in order
    handoffs = handoff_count(services, customer.conversation_id)
    tracker_texts, _ = await tracker_user_texts(
        http, profile.rasa_url, customer.conversation_id, profile.auth_token
    )
    for row in stored:
        authors = list(row["reply_authors"])  # type: ignore[call-overload]
        assert authors or handoffs, f"message {row['client_message_id']} has no reply"
    # Texts repeat across a script's cycles, so count per text: every copy the bot answered
    # is in the tracker (none lost), and no text more often than it was sent (none twice).
    # A copy in flight when a server died was answered by the fail-open apology instead and
    # may or may not have reached the tracker.
    for text_sent in {str(row["text"]) for row in stored}:
        same = [row for row in stored if str(row["text"]) == text_sent]
        answered = sum(1 for row in same if "bot" in list(row["reply_authors"]))  # type: ignore[call-overload]
        occurrences = count_in(tracker_texts, text_sent)
        assert answered <= occurrences <= len(same), (text_sent, occurrences, answered, len(same))


async def test_action_server_killed_mid_conversation(
    profile: Profile, prod_services: Services, http: aiohttp.ClientSession
) -> None:
    await asyncio.to_thread(profile.wait_all_ready)
    customer = Customer(http, profile.gateway_url, "C1001")
    first = await customer.say("我的订单DD202611010001到哪了")
    # (The fault, not the understanding, is under test: any answer about the order will do.)
    assert "DD202611010001" in first.reply_text and first.state == "bot"

    old_pid = await asyncio.to_thread(profile.kill, "actions-0")
    during = await customer.say("我还有多少积分")
    assert during.status == 200 and during.server_errors == 0
    assert during.state == "queued", (during.state, during.replies)
    assert "抱歉" in during.reply_text  # the apology, then the queue position
    assert "2350" not in during.reply_text

    await asyncio.to_thread(profile.wait_restarted, "actions-0", old_pid, 180.0)
    after = await customer.say("我还有多少积分")
    assert "2350" in after.reply_text  # the bot answers again, in the same conversation
    assert customer.conversation_id
    texts, slots = await tracker_user_texts(
        http, profile.rasa_url, customer.conversation_id, profile.auth_token
    )
    assert texts[0] == "我的订单DD202611010001到哪了" and texts[-1] == "我还有多少积分"
    assert slots.get("order_id") == "DD202611010001"
    await assert_stored_exactly_once(http, profile, prod_services, customer)


async def test_redis_unavailable_conversations_go_on_and_recover(
    profile: Profile, prod_services: Services, http: aiohttp.ClientSession
) -> None:
    await asyncio.to_thread(profile.wait_all_ready)
    await asyncio.to_thread(prod_services.stop, "redis")
    try:
        customers, _ = await converse(http, profile, ["C1001", "C1002", "C1003", "C1001"], 3)
        for turn in all_turns(customers):
            # Answered by the bot itself (Rasa runs on per-process locks meanwhile).
            assert turn.status == 200 and turn.replies and turn.state == "bot", turn
        assert "2350" in customers[0].turns[1].reply_text
    finally:
        await asyncio.to_thread(prod_services.start, "redis")
    await asyncio.sleep(6)  # the lock store retries Redis every 5 s
    client = redis.Redis(host="127.0.0.1", port=prod_services.redis_port)
    client.config_set("notify-keyspace-events", "K$g")
    watcher = client.pubsub()
    lock_db, prefix = profile.env["REDIS_LOCK_DB"], profile.env["REDIS_LOCK_PREFIX"]
    watcher.psubscribe(f"__keyspace@{lock_db}__:{prefix}:lock:*")
    again, _ = await converse(http, profile, ["C1001", "C1003"], 2)
    assert all(turn.answered and turn.state == "bot" for turn in all_turns(again))
    # Back on Redis: the conversations' ticket locks were written to and removed from it.
    touched = set()
    while (event := watcher.get_message(timeout=0.5)) is not None:
        if event["type"] == "pmessage":
            touched.add(event["channel"].decode().rsplit(":", 1)[-1])
    watcher.close()
    assert {c.conversation_id for c in again} <= touched, touched
    for customer in customers + again:
        await assert_stored_exactly_once(http, profile, prod_services, customer)


async def test_postgres_restarted_under_load(
    profile: Profile, prod_services: Services, http: aiohttp.ClientSession
) -> None:
    await asyncio.to_thread(profile.wait_all_ready)

    async def restart_postgres() -> None:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(prod_services.restart, "postgres")

    customers = await converse_through(
        http, profile, ["C1001", "C1002", "C1003", "C1001", "C1002", "C1003"], 6,
        restart_postgres,
    )
    for customer in customers:
        await assert_stored_exactly_once(http, profile, prod_services, customer)
    # After the restart the bot answers normally again.
    tail, _ = await converse(http, profile, ["C1001"], 2)
    assert "DD202611010001" in tail[0].turns[0].reply_text
    assert "2350" in tail[0].turns[1].reply_text


async def test_bounded_load_run_reconciles(
    profile: Profile, prod_services: Services, http: aiohttp.ClientSession
) -> None:
    """N messages (PROD_RECONCILE_MESSAGES, default 300; 10,000 for the long run) from 10
    customers at once, each chat one pass through a script (a new chat after it, as real
    customers come and go), some asking for a person; then: sent == stored, each with a
    reply or a handoff, none twice, and Rasa's tracker store holds each forwarded message
    exactly once."""
    await asyncio.to_thread(profile.wait_all_ready)
    total = int(os.environ.get("PROD_RECONCILE_MESSAGES", "300"))
    ids = ["C1001", "C1002", "C1003", None] * 3
    customers: list[Customer] = []
    budget = {"left": total}
    scripts = {**SCRIPTS, "anon": ("你好", "退货政策是什么", "转人工", "你们支持货到付款吗")}

    async def one(customer_id: str | None) -> None:
        script = scripts[customer_id or "anon"]
        while budget["left"] > 0:
            customer = Customer(http, profile.gateway_url, customer_id)
            customers.append(customer)
            for text_sent in script:
                if budget["left"] <= 0:
                    break
                budget["left"] -= 1
                await customer.say(text_sent)

    await asyncio.gather(*(one(cid) for cid in ids[:10]))
    customers = [c for c in customers if c.turns]
    assert len(assert_all_answered(customers)) == total

    engine = gateway_engine(prod_services)
    rasa_engine = create_engine(prod_services.psql_url("rasa"), future=True)
    try:
        conversation_ids = [c.conversation_id for c in customers]
        with engine.connect() as connection:
            stored = connection.execute(
                text(
                    "SELECT count(*), count(DISTINCT (conversation_id, client_message_id))"
                    " FROM messages WHERE author = 'customer'"
                    " AND conversation_id = ANY(:ids)"
                ),
                {"ids": conversation_ids},
            ).one()
            unanswered = connection.execute(
                text(
                    "SELECT count(*) FROM messages m WHERE m.author = 'customer'"
                    " AND m.conversation_id = ANY(:ids)"
                    " AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.reply_to_id = m.id)"
                    " AND NOT EXISTS (SELECT 1 FROM handoffs h"
                    "                 WHERE h.conversation_id = m.conversation_id)"
                ),
                {"ids": conversation_ids},
            ).scalar_one()
        with rasa_engine.connect() as connection:
            in_tracker = dict(
                connection.execute(
                    text(
                        "SELECT sender_id, count(*) FROM events WHERE type_name = 'user'"
                        " AND sender_id = ANY(:ids) GROUP BY sender_id"
                    ),
                    {"ids": conversation_ids},
                ).all()
            )
    finally:
        engine.dispose()
        rasa_engine.dispose()
    assert stored[0] == total and stored[1] == total  # sent == stored, none twice
    assert unanswered == 0
    for customer in customers:  # every message reached the bot exactly once
        assert in_tracker.get(customer.conversation_id) == len(customer.turns)
    handed_off = [c for c in customers if any(t.state == "queued" for t in c.turns)]
    assert handed_off, "the mix asks for a person now and then"


def upstreams_between(log: Path, start: float, end: float) -> dict[str, int]:
    """Requests per Rasa server in the load balancer's log between two times (epoch s)."""
    counts: dict[str, int] = {}
    for line in log.read_text().splitlines():
        at, status, upstream, _upstream_status, _time = line.split("|")
        if start <= float(at) <= end and status == "200":
            server = upstream.split(",")[-1].strip()
            counts[server] = counts.get(server, 0) + 1
    return counts


async def test_one_of_two_rasa_servers_killed_under_load(
    profile: Profile, prod_services: Services, http: aiohttp.ClientSession
) -> None:
    import time

    await asyncio.to_thread(profile.wait_all_ready)
    assert len(profile.rasa_servers) == 2
    killed: dict[str, float] = {}

    async def kill_rasa() -> None:
        await asyncio.sleep(0.3)
        killed["at"] = time.time()
        await asyncio.to_thread(profile.kill, "rasa-0")

    started = time.time()
    customers = await converse_through(
        http, profile, ["C1001", "C1002", "C1003", "C1001", "C1002", "C1003", "C1001", "C1003"],
        16,  # enough turns after the kill to keep the survivor busy for seconds
        kill_rasa,
    )
    await asyncio.sleep(1.5)  # the load balancer flushes its log every second
    log = profile.run_dir / "nginx" / "rasa_access.log"
    dead, survivor = (url.removeprefix("http://") for url in profile.rasa_servers)
    before = upstreams_between(log, started, killed["at"])
    # Before the killed server is back (loading the model takes longer than 8 s).
    after = upstreams_between(log, killed["at"] + 0.5, killed["at"] + 8.0)
    assert before.get(dead, 0) > 0 and before.get(survivor, 0) > 0, before  # both served
    assert after.get(survivor, 0) > 0 and after.get(dead, 0) == 0, after  # the other serves
    for customer in customers:
        await assert_stored_exactly_once(http, profile, prod_services, customer)
        assert customer.conversation_id
        _, slots = await tracker_user_texts(
            http, profile.rasa_url, customer.conversation_id, profile.auth_token
        )
        expected = ORDER_OF.get(customer.customer_id or "")
        if expected:  # state set before the kill is still there
            assert slots.get("order_id") == expected, (customer.customer_id, slots)
