"""Small parts of contacts and ratings: answers, topics, settings, ranges, routing."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot import events
from bot.events import Event, EventBus
from bot.metrics.answers import looks_like_rating, parse_answer
from bot.metrics.listeners import ContactListener, MetricsListener, SurveyListener
from bot.metrics.models import ContactEvent
from bot.metrics.reader import ReportReader
from bot.metrics.records import ContactRecord
from bot.metrics.report import RangeError, _cell, previous_range, resolve_range
from bot.metrics.settings import MetricsSettings
from bot.metrics.texts import rating_buttons
from bot.metrics.topics import is_need, topic_of
from bot.settings import SettingsError
from bot.store.db import Database
from bot.store.models import Agent
from bot.store.records import MessageRecord

OFFSET = timedelta(hours=8)


@pytest.mark.parametrize(
    ("text", "score", "comment"),
    [
        ("5", 5, None),
        ("５", 5, None),
        (" 4分 ", 4, None),
        ("四星", 4, None),
        ("五", 5, None),
        ("★★★", 3, None),
        ("2 太慢了", 2, "太慢了"),
        ("3, ok", 3, "ok"),
        ("5/5", 5, None),
        ("1 很不满意", 1, None),  # a button's title typed or sent by a channel
        ("5 Excellent", 5, None),
        ("/rate_4:12", 4, None),
    ],
)
def test_ratings_are_read_in_every_usual_form(text: str, score: int, comment: str | None) -> None:
    answer = parse_answer(text)
    assert (answer.score, answer.comment) == (score, comment)


@pytest.mark.parametrize("text", ["0", "6", "10", "4.5", "1,5", "一般", "good", "我的订单到哪了"])
def test_anything_else_is_no_rating(text: str) -> None:
    assert parse_answer(text).score is None


def test_button_payloads_carry_the_contact() -> None:
    assert parse_answer("/rate_3:42").contact_id == 42
    skip = parse_answer("/rate_skip:42")
    assert skip.skip and skip.contact_id == 42 and skip.score is None
    assert [b["payload"] for b in rating_buttons("en", 9)] == [f"/rate_{i}:9" for i in range(1, 6)]


@pytest.mark.parametrize("text", ["0", "6", "7/10", "满意", "good", "★★★★★★", "10分"])
def test_attempts_at_a_rating_are_recognised(text: str) -> None:
    assert looks_like_rating(text)


@pytest.mark.parametrize("text", ["还有个问题", "DD202611010001", "where is my parcel"])
def test_new_questions_are_not_rating_attempts(text: str) -> None:
    assert not looks_like_rating(text)


def test_the_topic_is_the_first_need() -> None:
    assert topic_of(["greet", "track_shipment", "request_return", "thanks"]) == "order_tracking"
    assert topic_of(["human_agent", "refund_status"]) == "returns_refunds"
    assert topic_of(["greet", "human_agent"]) == "human_agent"
    assert topic_of(["greet", "thanks"]) == "greeting"
    assert topic_of(["nlu_fallback", "affirm"]) == "other"
    assert topic_of([]) == "other"
    assert is_need("payment") and not is_need("human_agent") and not is_need("other")


def test_settings_are_validated() -> None:
    assert MetricsSettings.from_env(OFFSET, {}).fcr_window_days == 7
    assert MetricsSettings.from_env(OFFSET, {"FCR_WINDOW_DAYS": "14"}).fcr_window_days == 14
    for bad in ({"FCR_WINDOW_DAYS": "31"}, {"FCR_WINDOW_DAYS": "x"}, {"RATING_REASK_MINUTES": "0"}):
        with pytest.raises(SettingsError):
            MetricsSettings.from_env(OFFSET, bad)


def test_ranges() -> None:
    assert resolve_range(date(2026, 3, 1), date(2026, 3, 31), OFFSET) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    first, last = resolve_range(None, date(2026, 3, 31), OFFSET)
    assert (last - first).days == 29
    assert previous_range(date(2026, 3, 1), date(2026, 3, 7)) == (
        date(2026, 2, 22),
        date(2026, 2, 28),
    )
    with pytest.raises(RangeError):
        resolve_range(date(2026, 3, 2), date(2026, 3, 1), OFFSET)
    with pytest.raises(RangeError):
        resolve_range(date(2024, 1, 1), date(2026, 1, 1), OFFSET)


def test_csv_cells_never_start_a_formula() -> None:
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell(0.25) == "0.25" and _cell(3.0) == "3" and _cell(None) == ""


class Spy:
    def __init__(self) -> None:
        self.seen: list[object] = []
        self.event_names = (events.CONVERSATION_STARTED, events.MESSAGE_SENT)

    async def perform(self, item: object) -> None:
        self.seen.append(item)


async def test_listeners_hand_each_event_to_their_one_service() -> None:
    bus = EventBus()
    contacts, survey, recorder = Spy(), Spy(), Spy()
    ContactListener(contacts).subscribe(bus)  # type: ignore[arg-type]
    SurveyListener(survey).subscribe(bus)  # type: ignore[arg-type]
    MetricsListener(recorder).subscribe(bus)  # type: ignore[arg-type]
    bus.start()
    now = datetime.now(timezone.utc)
    contact = ContactRecord(1, "c", 1, "closed", "web", "zh", "C1", now, outcome="bot")
    started = Event(events.CONVERSATION_STARTED, "c")
    bot_message = Event(events.MESSAGE_SENT, "c", {"message": MessageRecord(1, "c", "bot", "hi")})
    agent_message = Event(
        events.MESSAGE_SENT, "c", {"message": MessageRecord(2, "c", "agent", "hi", agent_id=1)}
    )
    resolved = Event(events.CONTACT_RESOLVED, "c", {"contact": contact})
    rated = Event(events.CSAT_SUBMITTED, "c", {"contact": contact})
    for event in (started, bot_message, agent_message, resolved, rated):
        await bus.publish(event)
    await bus.stop()
    assert contacts.seen == [started, agent_message]  # bot messages are filtered out
    assert survey.seen == [contact]
    assert recorder.seen == [resolved, rated]


def test_reports_read_without_the_write_lock(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    db.create_schema()
    reader = ReportReader(db)

    def report_while_the_gateway_writes(session: Session) -> int:
        session.execute(select(func.count()).select_from(ContactEvent)).scalar_one()
        # The read transaction is open: a gateway write (BEGIN IMMEDIATE) still goes through.
        db.run_sync(lambda s: s.add(Agent(username="w", display_name="W", password_hash="x")))
        return 1

    started = time.monotonic()
    assert reader.run_sync(report_while_the_gateway_writes) == 1
    assert time.monotonic() - started < 5
    with pytest.raises(OperationalError):  # and the reader itself cannot write
        reader.run_sync(lambda s: s.execute(text("DELETE FROM agents")))
    reader.dispose()
    db.dispose()
