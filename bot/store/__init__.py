"""The gateway's own database: conversations, transcripts, handoffs, agents."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.agents import AgentStore
from bot.store.conversations import ConversationStore
from bot.store.db import Database
from bot.store.handoffs import HandoffStore


@dataclass(frozen=True)
class Stores:
    """The three stores over one database."""

    db: Database
    conversations: ConversationStore
    handoffs: HandoffStore
    agents: AgentStore

    @classmethod
    def connect(cls, database_url: str) -> Stores:
        """Create the engine and the stores (no connection is opened yet)."""
        db = Database(database_url)
        return cls(
            db=db,
            conversations=ConversationStore(db),
            handoffs=HandoffStore(db),
            agents=AgentStore(db),
        )


__all__ = ["AgentStore", "ConversationStore", "Database", "HandoffStore", "Stores"]
