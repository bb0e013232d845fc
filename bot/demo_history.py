"""Months of realistic contacts, ratings and repeat contacts for the dashboard and benchmarks.

``python -m bot.cli demo-history --days 90 --contacts 300000 [--seed 7] [--end YYYY-MM-DD]``
adds resolved conversations (with short transcripts, handoffs, agents' replies), their
contacts with outcomes and ratings, and the ``contact_events`` rows the metrics listener
would have written for them, built by the same row functions
(:mod:`bot.metrics.recorder`), so the reports read them exactly like live data.
Everything follows from the seed and the end day. Rows go in with bulk inserts, a
chunk of contacts per transaction.

The history has weekly seasonality, a slow rise, one bad logistics week about a month
before the end (more tracking questions and handoffs, worse ratings), customers who come
back about the same thing (more often after a poor contact), both languages and the web,
WeChat and WeCom channels.
"""

from __future__ import annotations

import heapq
import json
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from bot.inbox.passwords import hash_password
from bot.metrics import models as metric_models
from bot.metrics.models import Contact, ContactEvent
from bot.metrics.recorder import (
    CSAT_COMMENTED,
    CSAT_DROPPED,
    CSAT_DUPLICATE,
    CSAT_INVALID,
    CSAT_SENT,
    CSAT_SUBMITTED,
    REPEAT_LOOKBACK,
    Row,
    repeat_row,
    resolution_rows,
    survey_row,
)
from bot.metrics.records import ContactRecord
from bot.metrics.texts import rating_buttons, say
from bot.store.db import Database
from bot.store.models import Agent, Conversation, Handoff, Message

SENDER_PREFIX = "demo"


@dataclass(frozen=True)
class TopicProfile:
    """How contacts about one topic tend to go."""

    weight: float
    handoff: float
    reasons: dict[str, float]
    intents: tuple[str, ...]
    good: float  # chance a rating is 4-5
    questions: tuple[str, str]  # zh, en


TOPICS: dict[str, TopicProfile] = {
    "order_tracking": TopicProfile(
        30,
        0.10,
        {"logistics_exception": 5, "customer_request": 3, "fallback": 2},
        ("track_shipment", "order_status"),
        0.84,
        ("我的快递到哪了", "Where is my parcel?"),
    ),
    "returns_refunds": TopicProfile(
        20,
        0.22,
        {"policy_exception": 5, "customer_request": 3, "complaint": 1},
        ("request_return", "refund_status", "return_policy"),
        0.72,
        ("我想退货", "I want to return an item"),
    ),
    "order_change": TopicProfile(
        10,
        0.12,
        {"policy_exception": 3, "customer_request": 2, "identity_failed": 1},
        ("change_order",),
        0.8,
        ("我要改收货地址", "I need to change the address"),
    ),
    "order_cancel": TopicProfile(
        9,
        0.10,
        {"policy_exception": 2, "customer_request": 2},
        ("cancel_order", "cancel_status"),
        0.8,
        ("帮我取消订单", "Please cancel my order"),
    ),
    "problem_report": TopicProfile(
        9,
        0.55,
        {"complaint": 5, "customer_request": 3, "logistics_exception": 1},
        ("report_problem", "complain"),
        0.55,
        ("收到的商品坏了", "The item arrived broken"),
    ),
    "payment": TopicProfile(
        7,
        0.15,
        {"customer_request": 2, "fallback": 1},
        ("payment_question",),
        0.78,
        ("付款失败怎么办", "My payment failed"),
    ),
    "loyalty": TopicProfile(
        8,
        0.05,
        {"customer_request": 1, "fallback": 1},
        ("check_points", "loyalty_rules", "ask_coupons"),
        0.88,
        ("我有多少积分", "How many points do I have?"),
    ),
    "human_agent": TopicProfile(
        5,
        0.95,
        {"customer_request": 1},
        ("human_agent",),
        0.7,
        ("人工客服", "Talk to a person"),
    ),
    "other": TopicProfile(
        2,
        0.3,
        {"fallback": 3, "bot_unavailable": 1},
        ("nlu_fallback",),
        0.6,
        ("在吗？？？", "hello???"),
    ),
}
CHANNELS = (("web", 0.55), ("wechat", 0.35), ("wecom", 0.10))
HOURS = (  # share of contacts by shop-local hour
    1,
    0.5,
    0.3,
    0.2,
    0.2,
    0.3,
    0.8,
    2,
    4,
    6,
    7,
    7,
    5,
    5,
    6,
    6,
    5,
    5,
    4,
    5,
    7,
    8,
    6,
    3,
)
COMMENTS_LOW = {
    "zh": (
        "等了太久才有人回复",
        "问题还是没解决",
        "机器人答非所问",
        "退款太慢了",
        "物流信息一直不更新",
        "转了好几次人工",
    ),
    "en": (
        "Waited far too long for a reply",
        "My problem is still not solved",
        "The bot did not understand me",
        "The refund takes too long",
        "Tracking never updates",
    ),
}
COMMENTS_HIGH = {
    "zh": ("很快就解决了，谢谢", "机器人很方便", "客服很耐心"),
    "en": ("Solved quickly, thanks", "Very helpful", "Patient and friendly agent"),
}
DEMO_AGENT_NAMES = (
    ("demo_wang", "王芳"),
    ("demo_li", "Leo Li"),
    ("demo_zhao", "赵敏"),
    ("demo_chen", "陈晨"),
)


@dataclass(frozen=True)
class Plan:
    """What to generate.

    Attributes:
        days: Days of history, ending with ``end``.
        contacts: Number of contacts.
        seed: Random seed (same seed, end and counts: same history).
        end: Last day (shop time).
        utc_offset: The shop's time zone.
        transcripts: Also write the conversations' messages.
    """

    days: int
    contacts: int
    seed: int = 7
    end: date = field(default_factory=date.today)
    utc_offset: timedelta = timedelta(hours=8)
    transcripts: bool = True


@dataclass
class Stats:
    """What was written, and how long it took."""

    contacts: int = 0
    conversations: int = 0
    messages: int = 0
    events: int = 0
    handoffs: int = 0
    ratings: int = 0
    repeats: int = 0
    seconds: float = 0.0


@dataclass
class _Customer:
    index: int
    customer_id: str | None
    language: str
    channel: str


@dataclass
class _Thread:
    id: str
    channel: str
    sender: str
    customer_id: str | None
    language: str
    created_at: datetime
    seq: int = 0
    last_at: datetime | None = None


@dataclass(order=True)
class _Due:
    at: datetime
    order: int
    customer: int = field(compare=False)
    topic: str = field(compare=False)


class HistoryExists(RuntimeError):
    """A demo history with this seed is already in the database."""


def _weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    total = sum(w for _, w in options)
    pick = rng.random() * total
    for value, weight in options:
        pick -= weight
        if pick <= 0:
            return value
    return options[-1][0]


class HistoryGenerator:
    """Generates and bulk-inserts one demo history."""

    def __init__(self, db: Database, plan: Plan, chunk: int = 20_000) -> None:
        """Prepare a generator.

        Args:
            db: The gateway database (tables are created if missing).
            plan: What to generate.
            chunk: Contacts per transaction.
        """
        self._db = db
        self._plan = plan
        self._chunk = chunk
        self._rng = random.Random(plan.seed)
        self._tz = timezone(plan.utc_offset)
        self._first_day = plan.end - timedelta(days=plan.days - 1)
        self._stats = Stats()
        self._threads: dict[tuple[int, str], _Thread] = {}
        self._last_resolved: dict[tuple[str, str], Row] = {}
        self._repeated: set[int] = set()
        self._due: list[_Due] = []
        self._due_order = 0

    def run(self) -> Stats:
        """Generate and insert everything; returns what was written."""
        started = time.monotonic()
        self._db.create_schema()
        self._check_fresh()
        agents = self._db.run_sync(self._agents)
        next_id = (
            self._db.run_sync(
                lambda s: int(
                    s.execute(select(func.coalesce(func.max(Contact.id), 0))).scalar_one()
                )
            )
            + 1
        )
        customers = self._customers()
        starts = self._start_times()
        for offset in range(0, len(starts), self._chunk):
            batch = starts[offset : offset + self._chunk]
            rows = _Rows()
            for start in batch:
                self._contact(next_id, start, customers, agents, rows)
                next_id += 1
            self._db.run_sync(rows.insert)
            self._stats.messages += len(rows.messages)
            self._stats.events += len(rows.events)
            self._stats.handoffs += len(rows.handoffs)
        self._db.run_sync(self._finish_threads)
        self._stats.conversations = len(self._threads)
        self._stats.seconds = time.monotonic() - started
        return self._stats

    def _check_fresh(self) -> None:
        prefix = f"{SENDER_PREFIX}{self._plan.seed}-%"
        found = self._db.run_sync(
            lambda s: s.execute(
                select(Conversation.id).where(Conversation.sender.like(prefix)).limit(1)
            ).first()
        )
        if found is not None:
            raise HistoryExists(
                f"a demo history with seed {self._plan.seed} is already in this database"
            )

    @staticmethod
    def _agents(session: Session) -> list[int]:
        ids = [
            i
            for (i,) in session.execute(
                select(Agent.id).where(Agent.role == "agent", Agent.active.is_(True))
            )
        ]
        if ids:
            return ids
        for username, display in DEMO_AGENT_NAMES:
            # Unusable passwords: set one with `python -m bot.cli set-password`.
            row = Agent(
                username=username,
                display_name=display,
                role="agent",
                password_hash=hash_password(secrets.token_urlsafe(24)),
            )
            session.add(row)
            session.flush()
            ids.append(row.id)
        return ids

    def _customers(self) -> list[_Customer]:
        rng = self._rng
        count = max(30, self._plan.contacts // 3)
        out = []
        for i in range(count):
            verified = rng.random() < 0.7
            out.append(
                _Customer(
                    index=i,
                    customer_id=f"DC{self._plan.seed}{i:07d}" if verified else None,
                    language="en" if rng.random() < 0.15 else "zh",
                    channel=_weighted(rng, CHANNELS),
                )
            )
        return out

    def _incident(self, day: date) -> bool:
        start = self._plan.end - timedelta(days=35)
        return start <= day < start + timedelta(days=7)

    def _start_times(self) -> list[datetime]:
        rng = self._rng
        days = [self._first_day + timedelta(days=i) for i in range(self._plan.days)]
        weights = []
        for i, day in enumerate(days):
            w = 1.0 + 0.25 * i / max(1, len(days) - 1)  # slow rise
            if day.weekday() >= 5:
                w *= 1.3
            if self._incident(day):
                w *= 1.4
            weights.append(w)
        total = sum(weights)
        counts = [int(self._plan.contacts * w / total) for w in weights]
        for i in range(self._plan.contacts - sum(counts)):
            counts[i % len(counts)] += 1
        hours = list(enumerate(HOURS))
        starts = []
        for day, n in zip(days, counts, strict=True):
            midnight = datetime.combine(day, datetime.min.time(), self._tz)
            for _ in range(n):
                hour = _weighted(rng, hours)
                moment = midnight + timedelta(hours=hour, seconds=rng.random() * 3600)
                starts.append(moment.astimezone(timezone.utc))
        starts.sort()
        return starts

    def _thread(self, customer: _Customer, channel: str, at: datetime, rows: _Rows) -> _Thread:
        key = (customer.index, channel)
        thread = self._threads.get(key)
        if thread is None:
            thread = _Thread(
                id=f"{self._rng.getrandbits(128):032x}",
                channel=channel,
                sender=f"{SENDER_PREFIX}{self._plan.seed}-{customer.index}-{channel}",
                customer_id=customer.customer_id,
                language=customer.language,
                created_at=at,
            )
            self._threads[key] = thread
            rows.conversations.append(
                {
                    "id": thread.id,
                    "channel": channel,
                    "sender": thread.sender,
                    "customer_id": customer.customer_id,
                    "language": customer.language,
                    "state": "resolved",
                    "contact_seq": 1,
                    "awaiting_ticket": False,
                    "created_at": at,
                    "updated_at": at,
                    "last_message_at": at,
                }
            )
        thread.seq += 1
        return thread

    def _contact(
        self,
        contact_id: int,
        start: datetime,
        customers: list[_Customer],
        agents: list[int],
        rows: _Rows,
    ) -> None:
        rng = self._rng
        day = start.astimezone(self._tz).date()
        incident = self._incident(day)
        repeat = False
        if self._due and self._due[0].at <= start:
            due = heapq.heappop(self._due)
            customer, topic, repeat = customers[due.customer], due.topic, True
        else:
            customer = customers[int(len(customers) * rng.random() ** 1.6)]
            topic_weights = [
                (name, p.weight * (2.0 if incident and name == "order_tracking" else 1.0))
                for name, p in TOPICS.items()
            ]
            topic = _weighted(rng, topic_weights)
        profile = TOPICS[topic]
        channel = customer.channel if rng.random() < 0.85 else _weighted(rng, CHANNELS)
        thread = self._thread(customer, channel, start, rows)
        language = customer.language
        handoff_p = profile.handoff * (2.0 if incident and topic == "order_tracking" else 1.0)
        handed_off = rng.random() < min(0.97, handoff_p * (1.3 if repeat else 1.0))
        turns = 1 + int(rng.random() * 5)
        fallbacks = sum(1 for _ in range(turns) if rng.random() < 0.07) + (topic == "other")
        t = start + timedelta(seconds=20 + 35 * turns * rng.random())
        intents = [rng.choice(profile.intents) for _ in range(min(turns, 3))]
        fields: dict[str, Any] = {}
        if handed_off:
            reasons = dict(profile.reasons)
            if incident and topic == "order_tracking":
                reasons["logistics_exception"] = reasons.get("logistics_exception", 0) * 3
            reason = _weighted(rng, list(reasons.items()))
            handoff_at = t
            cancelled = rng.random() < 0.05
            if cancelled:
                outcome, agent_id = metric_models.OUTCOME_BOT, None
                end = t + timedelta(minutes=1 + 4 * rng.random())
                fields.update(handoff_cancelled=True)
            else:
                outcome, agent_id = metric_models.OUTCOME_AGENT, rng.choice(agents)
                wait = 20 + rng.expovariate(1 / (240 if incident else 120))
                claimed = handoff_at + timedelta(seconds=wait)
                replied = claimed + timedelta(seconds=8 + rng.expovariate(1 / 40))
                end = replied + timedelta(seconds=120 + rng.expovariate(1 / 480))
                fields.update(
                    claimed_at=claimed,
                    first_agent_reply_at=replied,
                    first_reply_agent_id=agent_id,
                )
            fields.update(handoff_reason=reason, handoff_at=handoff_at)
        else:
            agent_id = None
            served = topic not in ("other", "human_agent") and rng.random() < 0.87
            outcome = metric_models.OUTCOME_BOT if served else metric_models.OUTCOME_ABANDONED
            end = t + timedelta(minutes=(30 if outcome == "abandoned" else 0.5 + rng.random()))
        resolution = (
            "agent"
            if outcome == metric_models.OUTCOME_AGENT
            else ("inactivity" if outcome == "abandoned" or rng.random() < 0.35 else "thanks")
        )
        key = customer.customer_id or f"{channel}:{thread.sender}"
        contact = ContactRecord(
            id=contact_id,
            conversation_id=thread.id,
            seq=thread.seq,
            state=metric_models.CLOSED,
            channel=channel,
            language=language,
            customer_key=key,
            started_at=start,
            customer_id=customer.customer_id,
            intents=tuple(intents),
            topic=topic,
            bot_turns=turns,
            fallbacks=fallbacks,
            handed_off=handed_off,
            agent_id=agent_id,
            resolved_at=end,
            outcome=outcome,
            resolution=resolution,
            resolved_by=agent_id,
            **fields,
        )
        offset = self._plan.utc_offset
        events = resolution_rows(contact, offset)
        self._repeat(contact, events)
        rating_at = end + timedelta(seconds=5 + rng.expovariate(1 / 60))
        messages = self._messages(contact, profile, start, end) if self._plan.transcripts else []
        if outcome in metric_models.RESOLVED_OUTCOMES:
            contact = contact.with_(
                survey_state=metric_models.SURVEY_SENT,
                survey_sent_at=end,
                survey_agent_id=agent_id,
            )
            events.append(survey_row(CSAT_SENT, contact, offset, end))
            answer_p = 0.55 if handed_off else 0.42
            if rng.random() < 0.03:
                events.append(survey_row(CSAT_INVALID, contact, offset, rating_at))
                if rng.random() < 0.4:
                    events.append(survey_row(CSAT_DROPPED, contact, offset, rating_at))
                    contact = contact.with_(survey_state=metric_models.SURVEY_DROPPED)
                    answer_p = 0.0
            if rng.random() < answer_p:
                good = profile.good * (0.8 if repeat else 1.0) * (0.75 if incident else 1.0)
                if handed_off:
                    good *= 0.95
                score = (
                    (5 if rng.random() < 0.6 else 4)
                    if rng.random() < good
                    else _weighted(rng, [(1, 0.3), (2, 0.35), (3, 0.35)])
                )
                comment = None
                if score <= 2 and rng.random() < 0.6:
                    comment = rng.choice(COMMENTS_LOW[language])
                elif score >= 4 and rng.random() < 0.15:
                    comment = rng.choice(COMMENTS_HIGH[language])
                contact = contact.with_(
                    rating=score,
                    rated_at=rating_at,
                    comment=comment,
                    survey_state=metric_models.SURVEY_DONE
                    if comment
                    else metric_models.SURVEY_RATED,
                )
                events.append(survey_row(CSAT_SUBMITTED, contact, offset, rating_at, score))
                if comment:
                    events.append(survey_row(CSAT_COMMENTED, contact, offset, rating_at))
                if rng.random() < 0.01:
                    events.append(
                        survey_row(CSAT_DUPLICATE, contact, offset, rating_at, float(6 - score))
                    )
                self._stats.ratings += 1
                if self._plan.transcripts:
                    messages.extend(self._survey_messages(contact, rating_at))
        self._schedule_repeat(customer, topic, contact, end)
        thread.last_at = max(thread.last_at or end, messages[-1]["created_at"] if messages else end)
        rows.contacts.append(_contact_row(contact))
        rows.events.extend(events)
        rows.messages.extend(messages)
        if handed_off:
            rows.handoffs.append(_handoff_row(contact, intents[0]))
        self._stats.contacts += 1

    def _repeat(self, contact: ContactRecord, events: list[Row]) -> None:
        topic = contact.topic_or_other
        key = (contact.customer_key, topic)
        earlier = self._last_resolved.get(key)
        if (
            earlier is not None
            and topic != "other"
            and earlier["contact_id"] not in self._repeated
            and earlier["ended_at"] <= contact.started_at
            and contact.started_at - earlier["ended_at"] <= REPEAT_LOOKBACK
        ):
            events.append(repeat_row(earlier, contact.started_at))
            self._repeated.add(earlier["contact_id"])
            self._stats.repeats += 1
        if contact.outcome in metric_models.RESOLVED_OUTCOMES:
            self._last_resolved[key] = events[0]

    def _schedule_repeat(
        self, customer: _Customer, topic: str, contact: ContactRecord, end: datetime
    ) -> None:
        rng = self._rng
        p = 0.07
        if contact.outcome == metric_models.OUTCOME_ABANDONED:
            p += 0.2
        if contact.rating is not None and contact.rating <= 3:
            p += 0.25
        if contact.handed_off:
            p += 0.08
        if topic == "problem_report":
            p += 0.05
        if rng.random() >= p:
            return
        if rng.random() < 0.75:
            gap = timedelta(hours=1 + rng.expovariate(1 / 40))
        else:
            gap = timedelta(days=7 + 14 * rng.random())
        self._due_order += 1
        heapq.heappush(self._due, _Due(end + gap, self._due_order, customer.index, topic))

    def _messages(
        self,
        contact: ContactRecord,
        profile: TopicProfile,
        start: datetime,
        end: datetime,
    ) -> list[Row]:
        language = contact.language or "zh"
        question = profile.questions[0 if language == "zh" else 1]
        out = [
            _message(contact, "customer", question, start),
            _message(
                contact,
                "bot",
                "好的，我来帮您查一下。"
                if language == "zh"
                else "Sure, let me check that for you.",
                start + timedelta(seconds=2),
            ),
        ]
        if contact.handed_off and contact.first_agent_reply_at is not None:
            out.append(
                _message(
                    contact,
                    "agent",
                    "您好，我来为您处理。" if language == "zh" else "Hi, I'll take care of this.",
                    contact.first_agent_reply_at,
                    agent_id=contact.agent_id,
                )
            )
            out.append(_message(contact, "system", say_resolved(language), end))
        elif contact.outcome == metric_models.OUTCOME_BOT and contact.resolution == "thanks":
            out.append(_message(contact, "customer", "谢谢" if language == "zh" else "thanks", end))
        if contact.outcome in metric_models.RESOLVED_OUTCOMES:
            out.append(
                _message(
                    contact,
                    "system",
                    say("prompt", language),
                    end + timedelta(seconds=1),
                    buttons=list(rating_buttons(language, contact.id)),
                )
            )
        return out

    @staticmethod
    def _survey_messages(contact: ContactRecord, at: datetime) -> list[Row]:
        out = [_message(contact, "customer", f"/rate_{contact.rating}:{contact.id}", at)]
        if contact.comment:
            out.append(_message(contact, "customer", contact.comment, at + timedelta(seconds=20)))
        return out

    def _finish_threads(self, session: Session) -> None:
        table = Conversation.__table__
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                contact_seq=bindparam("b_seq"),
                last_message_at=bindparam("b_last"),
                updated_at=bindparam("b_last"),
            )
        )
        params = [
            {"b_id": t.id, "b_seq": t.seq, "b_last": t.last_at or t.created_at}
            for t in self._threads.values()
        ]
        for i in range(0, len(params), 20_000):
            session.execute(stmt, params[i : i + 20_000])


def say_resolved(language: str) -> str:
    """The gateway's "agent finished" line (demo transcripts)."""
    from bot.texts import say as gateway_say

    return gateway_say("resolved", language)


@dataclass
class _Rows:
    conversations: list[Row] = field(default_factory=list)
    contacts: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    messages: list[Row] = field(default_factory=list)
    handoffs: list[Row] = field(default_factory=list)

    def insert(self, session: Session) -> None:
        if session.get_bind().dialect.name == "sqlite":
            # A big page cache for this connection: without it SQLite spills index pages
            # to the WAL again and again during the bulk insert (3-4 times slower).
            session.connection().exec_driver_sql("PRAGMA cache_size=-262144")
        for model, rows in (
            (Conversation, self.conversations),
            (Contact, self.contacts),
            (Handoff, self.handoffs),
            (Message, self.messages),
            (ContactEvent, self.events),
        ):
            if rows:
                _bulk_insert(session, model.__table__, rows)


def _sqlite_datetime(value: Any) -> Any:
    if value is None:
        return None
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"


def _sqlite_date(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _sqlite_bool(value: Any) -> Any:
    return None if value is None else int(bool(value))


def _same(value: Any) -> Any:
    return value


def _converter(column: Any) -> Callable[[Any], Any]:
    if isinstance(column.type, DateTime):
        return _sqlite_datetime
    if isinstance(column.type, Date):
        return _sqlite_date
    if isinstance(column.type, Boolean):
        return _sqlite_bool
    return _same


def _bulk_insert(session: Session, table: Any, rows: list[Row]) -> None:
    """Insert many rows; on SQLite straight through the driver, in SQLAlchemy's storage
    formats (UTC ``YYYY-MM-DD HH:MM:SS.ffffff``, ISO dates, 0/1), several times faster
    than SQLAlchemy's per-value processing; elsewhere a Core executemany."""
    if session.get_bind().dialect.name != "sqlite":
        session.execute(insert(table), rows)
        return
    columns = [c for c in table.columns if c.name in rows[0]]
    names = [c.name for c in columns]
    converters = [_converter(c) for c in columns]
    pairs = list(zip(names, converters, strict=True))
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    cursor = session.connection().connection.cursor()
    try:
        cursor.executemany(
            sql, [tuple(convert(row.get(name)) for name, convert in pairs) for row in rows]
        )
    finally:
        cursor.close()


def _message(
    contact: ContactRecord,
    author: str,
    text: str,
    at: datetime,
    agent_id: int | None = None,
    buttons: list[dict[str, str]] | None = None,
) -> Row:
    return {
        "conversation_id": contact.conversation_id,
        "author": author,
        "agent_id": agent_id,
        "text": text,
        "buttons_json": json.dumps(buttons, ensure_ascii=False) if buttons else None,
        "custom_json": None,
        "client_message_id": None,
        "reply_to_id": None,
        "customer_id": contact.customer_id if author == "customer" else None,
        "processed": True,
        "contact_seq": contact.seq,
        "created_at": at,
    }


def _contact_row(contact: ContactRecord) -> Row:
    return {
        "id": contact.id,
        "conversation_id": contact.conversation_id,
        "seq": contact.seq,
        "state": contact.state,
        "channel": contact.channel,
        "language": contact.language,
        "customer_id": contact.customer_id,
        "customer_key": contact.customer_key,
        "intents": " ".join(contact.intents),
        "topic": contact.topic,
        "bot_turns": contact.bot_turns,
        "fallbacks": contact.fallbacks,
        "in_form": False,
        "handed_off": contact.handed_off,
        "handoff_reason": contact.handoff_reason,
        "handoff_cancelled": contact.handoff_cancelled,
        "agent_id": contact.agent_id,
        "first_reply_agent_id": contact.first_reply_agent_id,
        "started_at": contact.started_at,
        "handoff_at": contact.handoff_at,
        "claimed_at": contact.claimed_at,
        "first_agent_reply_at": contact.first_agent_reply_at,
        "resolved_at": contact.resolved_at,
        "outcome": contact.outcome,
        "resolution": contact.resolution,
        "resolved_by": contact.resolved_by,
        "survey_state": contact.survey_state,
        "survey_sent_at": contact.survey_sent_at,
        "survey_agent_id": contact.survey_agent_id,
        "rating": contact.rating,
        "rated_at": contact.rated_at,
        "comment": contact.comment,
    }


def _handoff_row(contact: ContactRecord, intent: str) -> Row:
    return {
        "conversation_id": contact.conversation_id,
        "reason": contact.handoff_reason or "customer_request",
        "intent": intent,
        "order_id": None,
        "state": "cancelled" if contact.handoff_cancelled else "resolved",
        "channel": contact.channel,
        "language": contact.language,
        "agent_id": contact.agent_id,
        "queued_at": contact.handoff_at or contact.started_at,
        "claimed_at": contact.claimed_at,
        "first_response_at": contact.first_agent_reply_at,
        "resolved_at": contact.resolved_at,
        "resolved_by": contact.resolved_by,
    }


def generate(db: Database, plan: Plan) -> Stats:
    """Generate a demo history into ``db`` (blocking).

    Raises:
        HistoryExists: this seed was generated into the database before.
    """
    return HistoryGenerator(db, plan).run()
