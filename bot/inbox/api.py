"""The inbox's JSON API (documented in docs/gateway.md) and its live socket.

Every route but login requires an agent session (cookie or bearer token); the few
supervisor routes also require that role.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from websockets.exceptions import ConnectionClosed

from bot.errors import Forbidden, InvalidRequest, NotFound
from bot.handoff import HandoffService
from bot.inbox.auth import InboxAuth, require_agent
from bot.inbox.card import HandoffCardBuilder
from bot.live import AgentPeer, LiveHub
from bot.store import Stores
from bot.store.handoffs import ConversationSummary, waiting_seconds
from bot.store.models import utcnow
from bot.store.records import AgentRecord, ConversationRecord, HandoffRecord, NoteRecord

logger = logging.getLogger(__name__)

PREFIX = "/api/v1/inbox"
MAX_REPLY_CHARS = 2000
STATE_FILTERS = {
    "open": ("queued", "agent"),
    "all": ("bot", "queued", "agent", "resolved"),
    "resolved": ("resolved",),
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _handoff_json(handoff: HandoffRecord | None) -> dict[str, Any] | None:
    if handoff is None:
        return None
    return {
        "id": handoff.id,
        "state": handoff.state,
        "reason": handoff.reason,
        "intent": handoff.intent,
        "order_id": handoff.order_id,
        "agent_id": handoff.agent_id,
        "queued_at": _iso(handoff.queued_at),
        "claimed_at": _iso(handoff.claimed_at),
        "resolved_at": _iso(handoff.resolved_at),
    }


def _conversation_json(conversation: ConversationRecord) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "state": conversation.state,
        "customer_id": conversation.customer_id,
        "language": conversation.language,
        "assigned_agent_id": conversation.assigned_agent_id,
        "created_at": _iso(conversation.created_at),
        "last_message_at": _iso(conversation.last_message_at),
    }


def _summary_json(summary: ConversationSummary) -> dict[str, Any]:
    return {
        **_conversation_json(summary.conversation),
        "handoff": _handoff_json(summary.handoff),
    }


def _note_json(note: NoteRecord) -> dict[str, Any]:
    return {
        "id": note.id,
        "agent_id": note.agent_id,
        "agent_name": note.agent_name,
        "text": note.text,
        "created_at": _iso(note.created_at),
    }


def _text_body(request: Request, field: str = "text") -> str:
    body = request.json
    if not isinstance(body, dict) or not isinstance(body.get(field), str):
        raise InvalidRequest(f"Field '{field}' must be a string.")
    text = body[field].strip()
    if not text:
        raise InvalidRequest(f"Field '{field}' must not be empty.")
    if len(text) > MAX_REPLY_CHARS:
        raise InvalidRequest(f"Field '{field}' is longer than {MAX_REPLY_CHARS} characters.")
    return text


class InboxApi:
    """Routes of the inbox API and the inbox socket."""

    def __init__(
        self,
        *,
        stores: Stores,
        handoff: HandoffService,
        cards: HandoffCardBuilder,
        hub: LiveHub,
        auth: InboxAuth,
    ) -> None:
        """Wire the API.

        Args:
            stores: Gateway stores.
            handoff: State transitions.
            cards: Handoff card builder.
            hub: Live connections.
            auth: Sessions.
        """
        self._stores = stores
        self._handoff = handoff
        self._cards = cards
        self._hub = hub
        self._auth = auth

    async def _viewable(self, agent: AgentRecord, conversation_id: str) -> ConversationRecord:
        conversation = await self._stores.conversations.get(conversation_id)
        if conversation is None:
            raise NotFound("No such conversation.")
        if not agent.is_supervisor and not await self._stores.handoffs.agent_may_view(
            conversation_id, agent.id
        ):
            raise Forbidden("This conversation is handled by someone else.")
        return conversation

    def blueprint(self) -> Blueprint:
        """Return the API routes."""
        bp = Blueprint("inbox_api", url_prefix=PREFIX)

        @bp.post("/login")
        async def login(request: Request) -> HTTPResponse:
            body = request.json
            if not isinstance(body, dict):
                raise InvalidRequest("The body must be a JSON object.")
            username, password = body.get("username"), body.get("password")
            if not isinstance(username, str) or not isinstance(password, str):
                raise InvalidRequest("Give 'username' and 'password'.")
            if len(username) > 64 or len(password) > 256:
                raise InvalidRequest("Username or password too long.")
            agent, token = await self._auth.login(
                # remote_addr: the client's address from X-Forwarded-For when the gateway
                # trusts a proxy in front (SANIC_PROXIES_COUNT=1, docs/production.md).
                username.strip(), password, request.remote_addr or request.ip or "unknown"
            )
            response = json({"agent": agent.public(), "token": token})
            self._auth.set_cookie(response, token)
            logger.info("agent %s logged in", agent.id)
            return response

        @bp.post("/logout")
        @require_agent()
        async def logout(request: Request) -> HTTPResponse:
            await self._auth.logout(request)
            response = json({"ok": True})
            self._auth.clear_cookie(response)
            return response

        @bp.get("/me")
        @require_agent()
        async def me(request: Request) -> HTTPResponse:
            return json({"agent": request.ctx.agent.public()})

        @bp.get("/queue")
        @require_agent()
        async def queue(request: Request) -> HTTPResponse:
            now = utcnow()
            entries = await self._stores.handoffs.queue()
            return json(
                {
                    "queue": [
                        {
                            "conversation_id": e.conversation.id,
                            "position": e.position,
                            "waiting_seconds": waiting_seconds(e, now),
                            "reason": e.handoff.reason,
                            "intent": e.handoff.intent,
                            "order_id": e.handoff.order_id,
                            "channel": e.conversation.channel,
                            "language": e.conversation.language,
                            "customer_id": e.conversation.customer_id,
                            "queued_at": _iso(e.handoff.queued_at),
                        }
                        for e in entries
                    ]
                }
            )

        @bp.get("/conversations")
        @require_agent()
        async def conversations(request: Request) -> HTTPResponse:
            agent: AgentRecord = request.ctx.agent
            scope = request.args.get("scope", "mine")
            states = STATE_FILTERS.get(request.args.get("state", "open"))
            if states is None or scope not in ("mine", "all"):
                raise InvalidRequest("Use scope=mine|all and state=open|resolved|all.")
            if scope == "all" and not agent.is_supervisor:
                raise Forbidden("Only supervisors see all conversations.")
            holder = agent.id if scope == "mine" else None
            rows = await self._stores.handoffs.conversations(holder, states)
            return json({"conversations": [_summary_json(r) for r in rows]})

        @bp.get("/conversations/<conversation_id:str>")
        @require_agent()
        async def conversation(request: Request, conversation_id: str) -> HTTPResponse:
            agent: AgentRecord = request.ctx.agent
            record = await self._viewable(agent, conversation_id)
            card, messages, notes = await asyncio.gather(
                self._cards.build(conversation_id),
                self._stores.conversations.transcript(conversation_id),
                self._stores.handoffs.notes(conversation_id),
            )
            return json(
                {
                    "conversation": _conversation_json(record),
                    "card": card,
                    "messages": [m.public() for m in messages],
                    "notes": [_note_json(n) for n in notes],
                }
            )

        @bp.post("/conversations/<conversation_id:str>/claim")
        @require_agent()
        async def claim(request: Request, conversation_id: str) -> HTTPResponse:
            handoff = await self._handoff.claim(conversation_id, request.ctx.agent)
            return json({"ok": True, "handoff": _handoff_json(handoff)})

        @bp.post("/conversations/<conversation_id:str>/reply")
        @require_agent()
        async def reply(request: Request, conversation_id: str) -> HTTPResponse:
            text = _text_body(request)
            message = await self._handoff.reply(conversation_id, request.ctx.agent, text)
            return json({"ok": True, "message": message.public()})

        @bp.post("/conversations/<conversation_id:str>/transfer")
        @require_agent()
        async def transfer(request: Request, conversation_id: str) -> HTTPResponse:
            body = request.json
            target_id = body.get("agent_id") if isinstance(body, dict) else None
            if not isinstance(target_id, int):
                raise InvalidRequest("Field 'agent_id' must be an integer.")
            target = await self._stores.agents.get(target_id)
            if target is None or not target.active:
                raise NotFound("No such agent.")
            handoff = await self._handoff.transfer(conversation_id, request.ctx.agent, target)
            return json({"ok": True, "handoff": _handoff_json(handoff)})

        @bp.post("/conversations/<conversation_id:str>/resolve")
        @require_agent()
        async def resolve(request: Request, conversation_id: str) -> HTTPResponse:
            handoff = await self._handoff.resolve(conversation_id, request.ctx.agent)
            return json({"ok": True, "handoff": _handoff_json(handoff)})

        @bp.post("/conversations/<conversation_id:str>/notes")
        @require_agent()
        async def add_note(request: Request, conversation_id: str) -> HTTPResponse:
            agent: AgentRecord = request.ctx.agent
            await self._viewable(agent, conversation_id)
            note = await self._stores.handoffs.add_note(
                conversation_id, agent.id, _text_body(request)
            )
            self._hub.to_agents(
                {"type": "note", "conversation_id": conversation_id, "note": _note_json(note)},
                watching=conversation_id,
            )
            return json({"ok": True, "note": _note_json(note)})

        @bp.get("/agents")
        @require_agent()
        async def agents(request: Request) -> HTTPResponse:
            if request.ctx.agent.is_supervisor:
                loads = await self._stores.handoffs.agent_loads()
                return json(
                    {
                        "agents": [
                            {
                                **load.agent.public(),
                                "active_conversations": load.active_conversations,
                            }
                            for load in loads
                        ]
                    }
                )
            return json({"agents": [a.public() for a in await self._stores.agents.all()]})

        @bp.get("/tickets")
        @require_agent()
        async def tickets(request: Request) -> HTTPResponse:
            rows = await self._stores.handoffs.tickets("open")
            return json(
                {
                    "tickets": [
                        {
                            "id": t.id,
                            "conversation_id": t.conversation_id,
                            "reason": t.reason,
                            "order_id": t.order_id,
                            "text": t.text,
                            "channel": t.channel,
                            "customer_id": t.customer_id,
                            "language": t.language,
                            "created_at": _iso(t.created_at),
                        }
                        for t in rows
                    ]
                }
            )

        @bp.post("/tickets/<ticket_id:int>/take")
        @require_agent()
        async def take_ticket(request: Request, ticket_id: int) -> HTTPResponse:
            conversation_id = await self._handoff.take_ticket(ticket_id, request.ctx.agent)
            return json({"ok": True, "conversation_id": conversation_id})

        return bp

    def socket_blueprint(self) -> Blueprint:
        """Return the inbox's live socket route (``/inbox/ws``)."""
        bp = Blueprint("inbox_socket")

        @bp.websocket("/inbox/ws")
        async def inbox_socket(request: Request, ws: Any) -> None:
            origin = request.headers.get("origin")
            if origin and urlparse(origin).netloc != request.host:
                await ws.close(4403, "cross-origin")
                return
            agent = await self._auth.agent_of(request)
            if agent is None:
                await ws.close(4401, "login required")
                return
            peer = AgentPeer(ws, agent)
            await self._hub.add_agent(peer)
            peer.send({"type": "hello", "agent": agent.public()})
            try:
                while not peer.closed:
                    raw = await ws.recv()
                    await self._on_agent_frame(peer, raw)
            except ConnectionClosed:
                pass
            finally:
                self._hub.remove_agent(peer)
                peer.stop()

        return bp

    async def _on_agent_frame(self, peer: AgentPeer, raw: Any) -> None:
        try:
            frame = jsonlib.loads(raw) if raw else {}
        except (TypeError, ValueError):
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        conversation_id = frame.get("conversation_id")
        if kind == "ping":
            peer.send({"type": "pong"})
        elif kind == "watch" and isinstance(conversation_id, str):
            try:
                await self._viewable(peer.agent, conversation_id)
            except (NotFound, Forbidden):
                peer.send({"type": "error", "code": "forbidden"})
                return
            peer.watching = {conversation_id}
        elif kind == "unwatch":
            peer.watching = set()
        elif kind == "typing" and isinstance(conversation_id, str):
            conversation = await self._stores.conversations.get(conversation_id)
            if (
                conversation is not None
                and conversation.state == "agent"
                and conversation.assigned_agent_id == peer.agent.id
            ):
                self._hub.to_customer(
                    conversation_id, {"type": "typing", "on": True, "who": "agent"}
                )
