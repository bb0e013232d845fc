"""The production tracker store stores each event once, with one query less per turn.

Runs Rasa's SQL tracker store code on a real SQLite file (the same SQL, other dialect),
two store instances on one database standing for two Rasa servers.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event
from sqlalchemy.engine import Engine

from deploy.tracker_store import ResilientSQLTrackerStore

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet]
slots:
  language:
    type: text
    mappings: [{type: custom}]
"""
)


def run(coroutine):  # noqa: ANN001, ANN201
    return asyncio.run(coroutine)  # a loop of its own, closed afterwards


@pytest.fixture
def database(tmp_path: Path) -> str:
    return str(tmp_path / "tracker.db")


def make_store(database: str) -> ResilientSQLTrackerStore:
    return ResilientSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=database)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """SQL statements sent by the stores made while it is active."""
    seen: list[str] = []

    def listen(conn, cursor, sql, *args) -> None:  # noqa: ANN001
        seen.append(" ".join(sql.split()))

    event.listen(Engine, "before_cursor_execute", listen)
    yield seen
    event.remove(Engine, "before_cursor_execute", listen)


def stored_rows(store: ResilientSQLTrackerStore, sender_id: str) -> list[dict]:
    with store.session_scope() as session:
        rows = (
            session.query(store.SQLEvent)
            .filter(store.SQLEvent.sender_id == sender_id)
            .order_by(store.SQLEvent.id)
            .all()
        )
        return [json.loads(row.data) for row in rows]


def turn(tracker: DialogueStateTracker, text: str) -> None:
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    tracker.update(SlotSet("language", "zh"))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(ActionExecuted("action_listen"))


def test_each_event_is_stored_once_across_turns_and_servers(database: str) -> None:
    first, second = make_store(database), make_store(database)
    tracker = run(first.get_or_create_tracker("c1"))
    turn(tracker, "你好")
    run(first.save(tracker))
    turn(tracker, "在吗")  # a second save of the same tracker object
    run(first.save(tracker))

    on_second = run(second.retrieve("c1"))  # the next turn reaches the other server
    assert on_second is not None
    turn(on_second, "hello")
    run(second.save(on_second))

    back = run(first.retrieve("c1"))
    assert back is not None
    turn(back, "谢谢")
    run(first.save(back))

    texts = [e.get("text") for e in stored_rows(first, "c1") if e["event"] == "user"]
    assert texts == ["你好", "在吗", "hello", "谢谢"]
    assert len(stored_rows(first, "c1")) == len(back.events) == 17  # listen + 4 x 4


def test_saving_a_tracker_it_read_needs_no_count_query(
    database: str, statements: list[str]
) -> None:
    store = make_store(database)
    tracker = run(store.get_or_create_tracker("c2"))  # a new conversation: nothing stored
    turn(tracker, "你好")
    run(store.save(tracker))
    assert not [s for s in statements if "count(" in s.lower()], statements

    again = run(store.retrieve("c2"))
    assert again is not None
    turn(again, "在吗")
    statements.clear()
    run(store.save(again))
    assert not [s for s in statements if "count(" in s.lower()], statements
    assert len([s for s in statements if s.startswith("INSERT")]) == 1  # all 4 events

    # A tracker the store never handed out is counted, as Rasa does.
    stranger = DialogueStateTracker.from_dict("c2", [e.as_dict() for e in again.events])
    turn(stranger, "还有")
    statements.clear()
    run(store.save(stranger))
    assert [s for s in statements if "count(" in s.lower()]
    texts = [e.get("text") for e in stored_rows(store, "c2") if e["event"] == "user"]
    assert texts == ["你好", "在吗", "还有"]


def test_a_new_session_is_stored_after_the_old_one(database: str) -> None:
    store = make_store(database)
    tracker = run(store.get_or_create_tracker("c3"))
    turn(tracker, "你好")
    run(store.save(tracker))

    tracker = run(store.retrieve("c3"))
    assert tracker is not None
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    turn(tracker, "又来了")
    run(store.save(tracker))

    latest = run(store.retrieve("c3"))
    assert latest is not None
    assert [e.text for e in latest.events if isinstance(e, UserUttered)] == ["又来了"]
    assert len(stored_rows(store, "c3")) == 5 + 3 + 4

    # Rasa's own store reads the same trackers from what this one wrote.
    rasa_store = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=database)
    for read in ("retrieve", "retrieve_full_tracker"):
        theirs = run(getattr(rasa_store, read)("c3"))
        ours = run(getattr(store, read)("c3"))
        assert theirs is not None and ours is not None
        assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in theirs.events]
    full = run(store.retrieve_full_tracker("c3"))
    assert full is not None and len(full.events) == 12


def test_forgotten_trackers_leave_no_entry(database: str) -> None:
    store = make_store(database)
    tracker = run(store.get_or_create_tracker("c4"))
    run(store.save(tracker))
    assert "c4" in store._stored
    del tracker
    gc.collect()
    assert "c4" not in store._stored
