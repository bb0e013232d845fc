"""What the Official Account and WeCom channels share: texts, options, ordered pushes.

WeChat has no quick-reply buttons, so a message's buttons become numbered lines
(``1. 查物流``) and a customer's answer that is just that number selects the button's
payload. The numbers of one delivery run across it: the replies to one customer message
are numbered together, a message pushed on its own (an agent's, a system notice) from 1.
``resolve_choice`` reads the same grouping back from the transcript, so it works after
a restart too.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from bot.channels.wechat_api import MAX_TEXT_BYTES, WeChatApiError
from bot.live import keep
from bot.store.records import ConversationRecord, MessageRecord

logger = logging.getLogger(__name__)

_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.。、]?\s*$")

_TEXTS: dict[str, dict[str, str]] = {
    "welcome": {
        "zh": "您好，欢迎关注！我是智能客服，可以帮您查订单、查物流、办理退换货、查积分和优惠券。"
        "直接发文字问我就行，例如“我的订单到哪了”；需要人工客服请回复“转人工”。",
        "en": "Hello and welcome! I'm the shop's assistant: ask me about orders, delivery, "
        "returns, points and coupons. Just type your question; reply “agent” for a person.",
    },
    "text_only": {
        "zh": "抱歉，我目前只能读懂文字消息，图片、语音、视频和位置暂时看不懂。"
        "请用文字描述您的问题，例如“我的订单DD202611010001到哪了”。",
        "en": "Sorry, I can only read text messages for now, not pictures, voice, video or "
        "locations. Please type your question, e.g. “where is my order DD202611010001”.",
    },
    "choose": {
        "zh": "（回复数字即可选择）",
        "en": "(Reply with the number to choose.)",
    },
}


def say(key: str, language: str | None) -> str:
    """Return a WeChat channel text in ``language`` (Chinese by default)."""
    variants = _TEXTS[key]
    return variants.get(language or "zh", variants["zh"])


class Renderable(Protocol):
    """The parts of a message that WeChat text shows."""

    @property
    def text(self) -> str:
        """The message text."""

    @property
    def buttons(self) -> list[dict[str, str]]:
        """Quick replies (title, payload)."""

    @property
    def custom(self) -> dict[str, Any] | None:
        """Custom payload (an image URL sits under ``image``)."""


def render(messages: Sequence[Renderable], language: str | None) -> str:
    """Turn one delivery's messages into a single WeChat text.

    Args:
        messages: The messages, in order.
        language: The conversation's language (for the hint line).

    Returns:
        The texts separated by blank lines, buttons as numbered lines numbered across
        the delivery, and a hint when there are options; "" when there is nothing.
    """
    parts: list[str] = []
    number = 0
    for message in messages:
        lines = [message.text.strip()] if message.text.strip() else []
        image = (message.custom or {}).get("image")
        if isinstance(image, str) and image:
            lines.append(image)
        for button in message.buttons:
            number += 1
            lines.append(f"{number}. {button.get('title', '')}")
        if lines:
            parts.append("\n".join(lines))
    if number:
        parts.append(say("choose", language))
    return "\n\n".join(parts)


def chunks(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` UTF-8 bytes, at line ends if possible.

    WeChat truncates longer text messages, so a long answer goes out as several.
    """
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode("utf-8")) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(line.encode("utf-8")) > limit:
            head = line.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
            pieces.append(head)
            line = line[len(head) :]
        current = line
    if current:
        pieces.append(current)
    return pieces


def choice_number(text: str) -> int | None:
    """Return the number if ``text`` is just a (possibly full-width) number, else None."""
    match = _NUMBER.match(unicodedata.normalize("NFKC", text))
    return int(match.group(1)) if match else None


def resolve_choice(text: str, transcript: Sequence[MessageRecord]) -> str | None:
    """Map a numeric answer to the payload of the option it selects.

    Args:
        text: The customer's message.
        transcript: The conversation's messages, oldest first (without ``text``).

    Returns:
        The payload, or None when ``text`` is not a number of an offered option.
    """
    number = choice_number(text)
    if number is None or number < 1:
        return None
    tail: list[MessageRecord] = []
    for message in reversed(transcript):
        if message.author == "customer":
            break
        tail.append(message)
    tail.reverse()
    offering = [m for m in tail if m.buttons]
    if not offering:
        return None
    latest = offering[-1]
    if latest.reply_to_id is not None:
        group = [m for m in tail if m.reply_to_id == latest.reply_to_id]
    else:
        group = [latest]
    options = [button for message in group for button in message.buttons]
    if number > len(options):
        return None
    payload = options[number - 1].get("payload") or options[number - 1].get("title")
    return str(payload) if payload else None


class Outbound(Protocol):
    """A channel's sending half, as the push listener uses it."""

    @property
    def agent_replies(self) -> bool:
        """Whether agents' replies from the inbox are sent through this channel."""

    def deliver(self, conversation: ConversationRecord, messages: Sequence[MessageRecord]) -> None:
        """Schedule one delivery of ``messages`` to the conversation's customer."""


class OrderedSender:
    """Runs pushes in the background, in order per conversation."""

    def __init__(self) -> None:
        """Start with nothing pending."""
        self._tails: dict[str, asyncio.Task[None]] = {}

    def submit(self, key: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run ``work`` after every earlier push of ``key`` finished.

        Args:
            key: The conversation id.
            work: The push; its failure is logged (by type) and does not stop later ones.

        Returns:
            The task.
        """
        previous = self._tails.get(key)
        task = keep(asyncio.create_task(self._run(previous, work)))
        self._tails[key] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tails.get(key) is done:
                del self._tails[key]

        task.add_done_callback(forget)
        return task

    @staticmethod
    async def _run(
        previous: asyncio.Task[None] | None, work: Callable[[], Awaitable[None]]
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await work()
        except Exception as exc:  # noqa: BLE001 - one failed push must not stop the next
            # WeChatApiError texts carry the API path and errcode only, never content.
            detail = str(exc) if isinstance(exc, WeChatApiError) else type(exc).__name__
            logger.error("WeChat push failed: %s", detail)

    async def drain(self, timeout: float = 15.0) -> None:
        """Wait (at most ``timeout`` seconds) for pending pushes."""
        pending = list(self._tails.values())
        if pending:
            await asyncio.wait(pending, timeout=timeout)
