"""The metric definitions on a small hand-built history, with the answers worked out here.

Contacts go through the same recorder the metrics listener uses (in the order they end,
as live), then the report is read back. Shop time is UTC+8; day D is 2026-03-02.

    c0   A order_tracking   D-1        bot, rated -      (before the range)
    c1   A order_tracking   D 10:00    bot, rated 5      repeats c0 (1 day)
    c2   A order_tracking   D+2 09:00  bot, unrated      repeats c1 (2 days)
    c3   A returns_refunds  D+3 11:00  agent 1, rated 2  (other topic: no repeat)
    c4   B order_tracking   D 12:00    bot, unrated      (other customer than c1)
    c5   B order_tracking   D+10 12:00 bot, rated 4      repeats c4 after 10 days
    c6   C problem_report   D+1 15:00  agent 2, unrated
    c7   C problem_report   D+2 10:00  abandoned         repeats c6 (<1 day)
    c8   D greeting (en, wechat) D+3   abandoned
    c9   E order_change (en, wechat) D+4  bot, unrated
    c10  F loyalty (wechat) D+5        bot, rated 3
    c11  G payment          D+6        handed off, cancelled, then bot
    c12  A order_tracking   D+5 10:00  bot, unrated      repeats c2 (3 days)
    c13  H other            D+7        agent 1 (bot_unavailable)
    c14  H other            D+8        agent 1           unknown topic: never a repeat
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import events
from bot.events import Event
from bot.metrics import models
from bot.metrics.models import ContactEvent
from bot.metrics.queries import Filters
from bot.metrics.recorder import REPEAT, ContactEventRecorder
from bot.metrics.records import ContactRecord
from bot.metrics.report import Report, build_report
from bot.store.db import Database

SHOP = timezone(timedelta(hours=8))
OFFSET = timedelta(hours=8)
D = date(2026, 3, 2)
LAST = D + timedelta(days=13)
AGENT1, AGENT2 = 1, 2


def at(day_offset: int, hh: int, mm: int = 0) -> datetime:
    """A shop-local moment, as UTC."""
    local = datetime.combine(D + timedelta(days=day_offset), datetime.min.time(), SHOP)
    return (local + timedelta(hours=hh, minutes=mm)).astimezone(timezone.utc)


def contact(
    cid: int,
    customer: str,
    topic: str,
    start: datetime,
    minutes: float,
    outcome: str,
    *,
    channel: str = "web",
    language: str = "zh",
    turns: int = 2,
    fallbacks: int = 0,
    **extra: object,
) -> ContactRecord:
    return ContactRecord(
        id=cid,
        conversation_id=f"conv-{customer}",
        seq=cid,
        state=models.CLOSED,
        channel=channel,
        language=language,
        customer_key=customer,
        started_at=start,
        topic=topic,
        bot_turns=turns,
        fallbacks=fallbacks,
        resolved_at=start + timedelta(minutes=minutes),
        outcome=outcome,
        **extra,  # type: ignore[arg-type]
    )


def handed(
    start: datetime, handoff: float, claim: float, reply: float, agent: int, reason: str
) -> dict[str, object]:
    return {
        "handed_off": True,
        "handoff_reason": reason,
        "handoff_at": start + timedelta(minutes=handoff),
        "claimed_at": start + timedelta(minutes=claim),
        "first_agent_reply_at": start + timedelta(minutes=reply),
        "first_reply_agent_id": agent,
        "agent_id": agent,
    }


BOT, AGENT, ABANDONED = models.OUTCOME_BOT, models.OUTCOME_AGENT, models.OUTCOME_ABANDONED

HISTORY = [
    contact(100, "A", "order_tracking", at(-1, 10), 5, BOT),
    contact(1, "A", "order_tracking", at(0, 10), 5, BOT, turns=2),
    contact(2, "A", "order_tracking", at(2, 9), 10, BOT, turns=3, fallbacks=1),
    contact(
        3,
        "A",
        "returns_refunds",
        at(3, 11),
        20,
        AGENT,
        **handed(at(3, 11), 2, 4, 5, AGENT1, "policy_exception"),
    ),
    contact(4, "B", "order_tracking", at(0, 12), 2, BOT, turns=1),
    contact(5, "B", "order_tracking", at(10, 12), 3, BOT),
    contact(
        6,
        "C",
        "problem_report",
        at(1, 15),
        30,
        AGENT,
        turns=1,
        **handed(at(1, 15), 1, 3, 5, AGENT2, "complaint"),
    ),
    contact(7, "C", "problem_report", at(2, 10), 30, ABANDONED, turns=4, fallbacks=2),
    contact(
        8,
        "D",
        "greeting",
        at(3, 20),
        30,
        ABANDONED,
        channel="wechat",
        language="en",
        turns=1,
        fallbacks=1,
    ),
    contact(9, "E", "order_change", at(4, 9), 4, BOT, channel="wechat", language="en"),
    contact(10, "F", "loyalty", at(5, 16), 3, BOT, channel="wechat"),
    contact(
        11,
        "G",
        "payment",
        at(6, 14),
        8,
        BOT,
        turns=3,
        fallbacks=1,
        handed_off=True,
        handoff_reason="customer_request",
        handoff_at=at(6, 14, 2),
        handoff_cancelled=True,
    ),
    contact(12, "A", "order_tracking", at(5, 10), 6, BOT),
    contact(
        13,
        "H",
        "other",
        at(7, 13),
        10,
        AGENT,
        turns=0,
        **handed(at(7, 13), 0, 0.5, 1, AGENT1, "bot_unavailable"),
    ),
    contact(
        14,
        "H",
        "other",
        at(8, 13),
        15,
        AGENT,
        turns=0,
        **handed(at(8, 13), 0, 1, 2, AGENT1, "bot_unavailable"),
    ),
]
RATINGS = {1: 5, 3: 2, 5: 4, 10: 3}


async def record_history(db: Database) -> None:
    recorder = ContactEventRecorder(db, OFFSET)
    for c in sorted(HISTORY, key=lambda c: c.resolved_at or c.started_at):
        await recorder.perform(Event(events.CONTACT_RESOLVED, c.conversation_id, {"contact": c}))
        if c.outcome in models.RESOLVED_OUTCOMES and c.id != 100:
            asked = c.with_(
                survey_state=models.SURVEY_SENT,
                survey_sent_at=c.resolved_at,
                survey_agent_id=c.agent_id if c.outcome == AGENT else None,
            )
            sent_at = c.resolved_at or c.started_at
            await recorder.perform(
                Event(events.CSAT_SENT, c.conversation_id, {"contact": asked}, at=sent_at)
            )
            if c.id in RATINGS:
                rated = asked.with_(rating=RATINGS[c.id], survey_state=models.SURVEY_RATED)
                await recorder.perform(
                    Event(events.CSAT_SUBMITTED, c.conversation_id, {"contact": rated}, at=sent_at)
                )
    # A second rating for c1 is logged but changes nothing.
    c1 = next(c for c in HISTORY if c.id == 1).with_(rating=5, survey_agent_id=None)
    await recorder.perform(
        Event(events.CSAT_DUPLICATE, c1.conversation_id, {"contact": c1, "score": 1})
    )


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'metrics.db'}")
    database.create_schema()
    await record_history(database)
    return database


def report(db: Database, window: float = 7, **kwargs: object) -> Report:
    return db.run_sync(
        lambda s: build_report(s, D, LAST, window_days=window, **kwargs)  # type: ignore[arg-type]
    )


def test_repeat_rows_are_written_for_the_latest_earlier_contact_only(db: Database) -> None:
    rows = db.run_sync(
        lambda s: {
            e.contact_id: e.value
            for e in s.execute(select(ContactEvent).where(ContactEvent.name == REPEAT)).scalars()
        }
    )
    day = 86400
    # c0 by c1; c1 by c2 (not by B's c4, another customer); c2 by c12 (c1 had one);
    # c4 by c5 after ten days; c6 by the abandoned c7; nothing for "other" (c13/c14) or c3.
    assert set(rows) == {100, 1, 2, 4, 6}
    assert rows[1] == pytest.approx(2 * day - 65 * 60)  # D 10:05 -> D+2 09:00
    assert rows[2] == pytest.approx(3 * day + 50 * 60)  # D+2 09:10 -> D+5 10:00
    assert rows[4] == pytest.approx(10 * day - 2 * 60)  # D 12:02 -> D+10 12:00
    assert rows[6] == pytest.approx(day - 5.5 * 3600)  # D+1 15:30 -> D+2 10:00


def test_headline_metrics_by_hand(db: Database) -> None:
    m = report(db).public()
    assert m["contacts"] == 14  # c1..c14; c0 started before the range
    # resolved: 8 by the bot (c1 c2 c4 c5 c9 c10 c11 c12) + 4 by agents (c3 c6 c13 c14)
    assert m["counts"]["resolved"] == 12
    # handed off: c3 c6 c11 c13 c14 (c11 although cancelled)
    assert m["handoff_rate"] == pytest.approx(round(5 / 14, 4))
    # contained: bot without handoff: c1 c2 c4 c5 c9 c10 c12
    assert m["containment"] == pytest.approx(0.5)
    # repeats within 7 days of resolved contacts in range: c1, c2, c6 (c4's came after 10)
    assert m["fcr"] == pytest.approx(1 - 3 / 12)
    assert m["fcr_bot"] == pytest.approx(round(1 - 2 / 7, 4))  # c1 c2 of 7 bot-only
    assert m["fcr_agent"] == pytest.approx(1 - 1 / 5)  # c6 of c3 c6 c11 c13 c14
    # ratings 5, 2, 4, 3 (the duplicate 1 for c1 does not count); 12 prompts
    assert m["csat"] == pytest.approx(0.5)
    assert m["csat_average"] == pytest.approx(3.5)
    assert m["csat_response_rate"] == pytest.approx(round(4 / 12, 4))
    assert m["low_rating_rate"] == pytest.approx(0.25)
    # satisfied containment: c1 (5), c4 (unrated, repeat only after 10 days), c5 (4),
    # c9 and c12 (unrated, no repeat); not c2 (repeated by c12) nor c10 (rated 3)
    assert m["satisfied_containment"] == pytest.approx(round(5 / 14, 4))
    assert m["abandon_rate"] == pytest.approx(round(2 / 14, 4))
    # 5 of 25 bot turns not understood
    assert m["fallback_rate"] == pytest.approx(0.2)
    # first response: handoff -> first agent reply: 180, 240, 60, 120 s
    assert m["agent_first_response_seconds"] == pytest.approx(150.0)
    # handling: claim -> resolution: 960, 1620, 570, 840 s
    assert m["agent_handling_seconds"] == pytest.approx(997.5)
    assert m["handoff_reasons"] == {
        "bot_unavailable": 2,
        "policy_exception": 1,
        "complaint": 1,
        "customer_request": 1,
    }


def test_a_longer_window_counts_the_late_repeat(db: Database) -> None:
    m = report(db, window=14).public()
    assert m["fcr"] == pytest.approx(round(1 - 4 / 12, 4))  # c4 now repeated too
    assert m["fcr_bot"] == pytest.approx(round(1 - 3 / 7, 4))
    assert m["satisfied_containment"] == pytest.approx(round(4 / 14, 4))  # c4 no longer


def test_breakdowns_by_topic_channel_language_agent_and_day(db: Database) -> None:
    m = report(db).public()
    topics = {r["key"]: r for r in m["by_topic"]}
    tracking = topics["order_tracking"]  # c1 c2 c4 c5 c12
    assert tracking["contacts"] == 5
    assert tracking["containment"] == 1.0 and tracking["handoff_rate"] == 0.0
    assert tracking["fcr"] == pytest.approx(1 - 2 / 5)  # c1, c2 repeated
    assert tracking["csat"] == 1.0  # 5 and 4
    assert topics["returns_refunds"]["handoff_rate"] == 1.0
    assert topics["returns_refunds"]["low_rating_rate"] == 1.0
    problems = topics["problem_report"]  # c6 (agent) and c7 (abandoned)
    assert problems["contacts"] == 2 and problems["handoff_rate"] == 0.5
    assert problems["fcr"] == 0.0  # its one resolved contact came back
    assert topics["other"]["fcr"] == 1.0  # unknown topics are never repeats

    channels = {r["key"]: r["contacts"] for r in m["by_channel"]}
    assert channels == {"web": 11, "wechat": 3}
    languages = {r["key"]: r["contacts"] for r in m["by_language"]}
    assert languages == {"zh": 12, "en": 2}

    agents = {r["key"]: r for r in m["by_agent"]}
    assert set(agents) == {AGENT1, AGENT2}
    assert agents[AGENT1]["contacts"] == 3  # c3 c13 c14
    assert agents[AGENT1]["csat"] == 0.0  # c3's 2, credited to agent 1
    assert agents[AGENT1]["agent_first_response_seconds"] == pytest.approx(120.0)
    assert agents[AGENT2]["csat"] is None  # c6 unrated
    assert agents[AGENT2]["fcr"] == 0.0
    assert agents[AGENT2]["agent_handling_seconds"] == pytest.approx(1620.0)

    days = {r["key"]: r for r in m["by_day"]}
    assert len(days) == 14  # every day of the range, empty ones too
    assert days[D.isoformat()]["contacts"] == 2  # c1, c4
    assert days[D.isoformat()]["csat"] == 1.0
    assert days[(D + timedelta(days=9)).isoformat()]["contacts"] == 0
    assert days[(D + timedelta(days=9)).isoformat()]["csat"] is None


def test_filters_and_the_previous_period(db: Database) -> None:
    wechat = report(db, filters=Filters(channel="wechat")).public()
    assert wechat["contacts"] == 3 and wechat["containment"] == pytest.approx(round(2 / 3, 4))
    compared = report(db, compare=True).public()
    previous = compared["previous"]
    assert (previous["from"], previous["to"]) == ("2026-02-16", "2026-03-01")
    assert previous["contacts"] == 1  # c0
    assert previous["fcr"] == 0.0  # c0 came back the next day (c1)


def test_only_asked_metrics_run_their_queries(db: Database) -> None:
    m = report(db, metric_names=["csat"]).public()
    assert m["metrics"] == {"csat": 0.5}
    assert set(m["counts"]) == {
        "ratings",
        "ratings_good",
        "ratings_low",
        "rating_sum",
        "contained_rated",
        "contained_rated_good",
    }
    with pytest.raises(KeyError):
        report(db, metric_names=["scope_for_csat"])
