"""Contacts and the rating survey end to end: a real gateway process over HTTP, with a
scripted Rasa (webhook and tracker API) so the bot's own resolutions can be driven."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.bot.fake_rasa import FakeRasa, FakeRasaServer
from tests.bot.gateway_harness import GatewayClient, GatewayProcess, start_gateway, stop_gateway
from tests.bot.metrics_support import (
    contact_id_of,
    contacts_of,
    event_names,
    eventually,
    prompt_of,
    query,
    sender,
    supervisor_get,
    texts,
)


@pytest.fixture(scope="module")
def fake_rasa() -> Iterator[FakeRasa]:
    server = FakeRasaServer()
    state = server.start()
    try:
        yield state
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(
    fake_rasa: FakeRasa, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    process = start_gateway(
        tmp_path_factory.mktemp("ratings"), RASA_URL=fake_rasa.url, RASA_AUTH_TOKEN="t"
    )
    try:
        yield process
    finally:
        stop_gateway(process)


@pytest.fixture
async def client(gateway: GatewayProcess) -> AsyncIterator[GatewayClient]:
    async with aiohttp.ClientSession() as session:
        yield GatewayClient(gateway, session)


async def served_then_thanks(client: GatewayClient, who: str) -> tuple[str, int, dict]:
    """Ask something the bot serves, say thanks; returns conversation, contact, prompt."""
    _, body = await client.send(who, "我的快递到哪了")
    assert "派送中" in texts(body)
    _, body = await client.send(who, "谢谢")
    assert "不客气" in texts(body)
    prompt = await prompt_of(client, who)
    return str(body["conversation_id"]), contact_id_of(prompt), prompt


async def test_thanks_after_a_served_need_resolves_and_asks_once(
    client: GatewayClient, gateway: GatewayProcess, fake_rasa: FakeRasa
) -> None:
    who = sender()
    conversation_id, contact_id, prompt = await served_then_thanks(client, who)
    assert prompt["author"] == "system"
    assert [b["title"] for b in prompt["buttons"]] == [
        "1 很不满意",
        "2 不满意",
        "3 一般",
        "4 满意",
        "5 非常满意",
    ]
    assert [b["payload"] for b in prompt["buttons"]] == [
        f"/rate_{i}:{contact_id}" for i in range(1, 6)
    ]
    history = await client.history(who)
    assert history["state"] == "resolved"
    (contact,) = contacts_of(gateway, conversation_id)
    assert contact["id"] == contact_id
    assert (contact["outcome"], contact["resolution"]) == ("bot", "thanks")
    assert contact["topic"] == "order_tracking"
    assert contact["intents"] == "track_shipment thanks"
    assert contact["survey_state"] == "sent" and contact["survey_agent_id"] is None

    status, body = await client.send(who, f"/rate_5:{contact_id}")
    assert status == 200 and body["state"] == "resolved"
    assert "感谢您的评分" in texts(body)
    assert body["replies"][0]["buttons"] == [
        {"title": "跳过", "payload": f"/rate_skip:{contact_id}"}
    ]
    _, body = await client.send(who, "送货很快，点赞")
    assert "感谢您的评价" in texts(body)
    assert all(text != f"/rate_5:{contact_id}" for _, text in fake_rasa.messages)

    (contact,) = contacts_of(gateway, conversation_id)
    assert (contact["rating"], contact["comment"]) == (5, "送货很快，点赞")
    names = await eventually(
        lambda: (n := event_names(gateway, contact_id)) and "csat.commented" in n and n
    )
    assert sorted(names) == sorted(
        ["contact.resolved", "bot.turns", "csat.sent", "csat.submitted", "csat.commented"]
    )
    prompts = [
        m
        for m in (await client.history(who))["messages"]
        if m.get("buttons") and m["buttons"][0]["payload"].startswith("/rate_1")
    ]
    assert len(prompts) == 1  # asked once

    # The next message starts a new contact with the bot.
    _, body = await client.send(who, "我有多少积分")
    assert body["state"] == "bot" and "1200" in texts(body)
    contacts = await eventually(
        lambda: (c := contacts_of(gateway, conversation_id)) and len(c) == 2 and c
    )
    assert [(c["seq"], c["state"]) for c in contacts] == [(1, "closed"), (2, "open")]


async def test_intent_sent_with_the_replies_spares_the_tracker_read(
    client: GatewayClient, gateway: GatewayProcess, fake_rasa: FakeRasa
) -> None:
    """With the turn header (deploy/turn_channel.py) contacts get their intents without
    a single read of Rasa's tracker API, even when that API is closed."""
    fake_rasa.turn_header, fake_rasa.tracker_available = True, False
    reads = fake_rasa.tracker_reads
    try:
        conversation_id, _, _ = await served_then_thanks(client, sender())
    finally:
        fake_rasa.turn_header, fake_rasa.tracker_available = False, True
    (contact,) = contacts_of(gateway, conversation_id)
    assert (contact["outcome"], contact["resolution"]) == ("bot", "thanks")
    assert contact["topic"] == "order_tracking"
    assert contact["intents"] == "track_shipment thanks"
    assert fake_rasa.tracker_reads == reads


async def test_a_second_rating_is_refused_and_logged(
    client: GatewayClient, gateway: GatewayProcess
) -> None:
    who = sender()
    conversation_id, contact_id, _ = await served_then_thanks(client, who)
    _, first = await client.send(who, f"/rate_4:{contact_id}")
    assert "感谢您的评分" in texts(first)
    _, again = await client.send(who, f"/rate_1:{contact_id}")
    assert "以第一次评分为准" in texts(again) and "4 分" in texts(again)
    _, typed = await client.send(who, "2")  # typed right after: also a second rating
    assert "以第一次评分为准" in texts(typed)
    (contact,) = contacts_of(gateway, conversation_id)
    assert contact["rating"] == 4
    rows = await eventually(
        lambda: (
            (
                r := query(
                    gateway,
                    "SELECT name, value FROM contact_events "
                    "WHERE contact_id = ? AND name LIKE 'csat.%'",
                    contact_id,
                )
            )
            and len(r) >= 4
            and r
        )
    )
    assert sorted((r["name"], r["value"]) for r in rows) == [
        ("csat.duplicate", 1.0),
        ("csat.duplicate", 2.0),
        ("csat.sent", None),
        ("csat.submitted", 4.0),
    ]


async def test_an_invalid_answer_is_asked_again_once_then_dropped(
    client: GatewayClient, gateway: GatewayProcess, fake_rasa: FakeRasa
) -> None:
    who = sender()
    conversation_id, contact_id, _ = await served_then_thanks(client, who)
    _, body = await client.send(who, "7")
    assert "1 到 5" in texts(body)
    assert len(body["replies"][0]["buttons"]) == 5
    assert body["state"] == "resolved"
    assert contacts_of(gateway, conversation_id)[0]["survey_state"] == "retry"
    _, body = await client.send(who, "满意")  # still not 1-5: dropped, and the bot answers
    assert body["state"] == "bot" and "没听懂" in texts(body)
    assert ("7" not in [t for _, t in fake_rasa.messages]) and "满意" in [
        t for _, t in fake_rasa.messages
    ]
    first, second = await eventually(
        lambda: (c := contacts_of(gateway, conversation_id)) and len(c) == 2 and c
    )
    assert first["survey_state"] == "dropped" and first["rating"] is None
    assert second["seq"] == 2
    names = await eventually(
        lambda: (n := event_names(gateway, contact_id)) and "csat.dropped" in n and n
    )
    assert "csat.invalid" in names and "csat.submitted" not in names


async def test_a_new_question_goes_to_the_bot_and_a_late_tap_still_counts(
    client: GatewayClient, gateway: GatewayProcess, fake_rasa: FakeRasa
) -> None:
    who = sender()
    conversation_id, contact_id, _ = await served_then_thanks(client, who)
    _, body = await client.send(who, "我有多少积分")  # no answer at all: a new contact
    assert body["state"] == "bot" and "1200" in texts(body)
    _, late = await client.send(who, f"/rate_3:{contact_id}")  # the old prompt's button
    assert "感谢您的评分" in texts(late) and late["state"] == "bot"
    assert f"/rate_3:{contact_id}" not in [t for _, t in fake_rasa.messages]
    first, second = await eventually(
        lambda: (c := contacts_of(gateway, conversation_id)) and len(c) == 2 and c
    )
    assert first["rating"] == 3 and second["rating"] is None and second["state"] == "open"
    _, typed = await client.send(who, "4")  # with the bot now: not a rating
    assert "没听懂" in texts(typed)
    assert contacts_of(gateway, conversation_id)[0]["rating"] == 3


async def test_a_typed_rating_with_a_comment(
    client: GatewayClient, gateway: GatewayProcess
) -> None:
    who = sender()
    conversation_id, _, _ = await served_then_thanks(client, who)
    _, body = await client.send(who, "２ 太慢了")
    assert "感谢您的评价" in texts(body)
    (contact,) = contacts_of(gateway, conversation_id)
    assert (contact["rating"], contact["comment"], contact["survey_state"]) == (2, "太慢了", "done")


async def test_english_prompt_and_buttons(client: GatewayClient) -> None:
    who = sender()
    await client.send(who, "where is my parcel", language="en")
    await client.send(who, "thanks", language="en")
    prompt = await prompt_of(client, who)
    assert "rate" in prompt["text"]
    assert prompt["buttons"][4]["title"] == "5 Excellent"


async def test_a_rating_for_another_conversations_contact_is_ignored(
    client: GatewayClient, gateway: GatewayProcess
) -> None:
    victim = sender()
    conversation_id, contact_id, _ = await served_then_thanks(client, victim)
    _, body = await client.send(sender(), f"/rate_1:{contact_id}")
    assert body["replies"] == [] and body["state"] == "bot"
    assert contacts_of(gateway, conversation_id)[0]["rating"] is None


async def test_a_goodbye_without_a_served_need_does_not_resolve(
    client: GatewayClient, gateway: GatewayProcess
) -> None:
    who = sender()
    await client.send(who, "你好")
    _, body = await client.send(who, "再见")
    assert body["state"] == "bot"
    conversation_id = str(body["conversation_id"])
    (contact,) = await eventually(
        lambda: (c := contacts_of(gateway, conversation_id)) and c[0]["bot_turns"] == 2 and c
    )
    assert contact["state"] == "open" and contact["topic"] == "greeting"


async def test_agent_resolution_credits_the_agent_holding_it_when_the_survey_goes_out(
    client: GatewayClient, gateway: GatewayProcess
) -> None:
    who = sender()
    _, body = await client.send(who, "我要找人工")
    assert body["state"] == "queued"
    conversation_id = str(body["conversation_id"])
    alice, bob, sue = [await client.login(n) for n in ("alice", "bob", "sue")]
    assert (await client.inbox("POST", f"/conversations/{conversation_id}/claim", alice))[0] == 200
    await client.inbox("POST", f"/conversations/{conversation_id}/reply", alice, {"text": "您好"})
    _, me = await client.inbox("GET", "/me", bob)
    bob_id = me["agent"]["id"]  # type: ignore[index]
    _, me = await client.inbox("GET", "/me", alice)
    alice_id = me["agent"]["id"]  # type: ignore[index]
    status, _ = await client.inbox(
        "POST", f"/conversations/{conversation_id}/transfer", alice, {"agent_id": bob_id}
    )
    assert status == 200
    assert (await client.inbox("POST", f"/conversations/{conversation_id}/resolve", bob))[0] == 200
    prompt = await prompt_of(client, who)
    contact_id = contact_id_of(prompt)
    _, body = await client.send(who, f"/rate_2:{contact_id}")
    assert "很抱歉" in texts(body)  # a low rating asks what went wrong
    await client.send(who, "等了太久")

    (contact,) = contacts_of(gateway, conversation_id)
    assert contact["handed_off"] == 1 and contact["handoff_reason"] == "customer_request"
    assert (contact["outcome"], contact["topic"]) == ("agent", "human_agent")
    assert contact["first_reply_agent_id"] == alice_id
    assert contact["agent_id"] == bob_id and contact["survey_agent_id"] == bob_id
    assert contact["handoff_at"] and contact["first_agent_reply_at"] and contact["resolved_at"]
    assert (contact["rating"], contact["comment"]) == (2, "等了太久")

    def credited() -> dict[str, int | None] | None:
        rows = query(
            gateway,
            "SELECT name, agent_id FROM contact_events WHERE contact_id = ?",
            contact_id,
        )
        found = {r["name"]: r["agent_id"] for r in rows}
        return found if "csat.submitted" in found else None

    found = await eventually(credited)
    assert found["csat.submitted"] == bob_id
    assert found["agent.first_response"] == alice_id
    assert found["agent.handling"] == bob_id

    # The supervisor's report credits the rating to bob.
    status, report = await supervisor_get(client, f"/api/v1/metrics?agent={bob_id}", sue)
    assert status == 200
    assert report["counts"]["ratings"] >= 1 and report["counts"]["ratings_low"] >= 1


async def test_the_report_matches_the_stored_contacts(
    client: GatewayClient, gateway: GatewayProcess
) -> None:
    await served_then_thanks(client, sender())  # at least one contact today
    sue = await client.login("sue")

    async def settled() -> dict | None:
        status, report = await supervisor_get(client, "/api/v1/metrics", sue)
        assert status == 200
        closed = query(
            gateway,
            "SELECT outcome, handed_off, rating, survey_sent_at FROM contacts "
            "WHERE state = 'closed'",
        )
        if report["contacts"] != len(closed):
            return None  # the listener is still writing
        return {"report": report, "closed": closed}

    found = await eventually(settled)
    report, closed = found["report"], found["closed"]
    rated = [c["rating"] for c in closed if c["rating"] is not None]
    prompted = [c for c in closed if c["survey_sent_at"] is not None]
    contained = [c for c in closed if c["outcome"] == "bot" and not c["handed_off"]]
    assert report["csat"] == round(sum(r >= 4 for r in rated) / len(rated), 4)
    assert report["csat_response_rate"] == round(len(rated) / len(prompted), 4)
    assert report["containment"] == round(len(contained) / len(closed), 4)
    assert report["handoff_rate"] == round(sum(c["handed_off"] for c in closed) / len(closed), 4)
    assert report["by_channel"][0]["key"] == "web"
