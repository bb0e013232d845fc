"""The gateway's own words to customers (the bot's replies live in the domain)."""

from __future__ import annotations

from typing import Any

CANCEL_HANDOFF_PAYLOAD = "/handoff_cancel"

_TEXTS: dict[str, dict[str, str]] = {
    "bot_unavailable": {
        "zh": "抱歉，智能助手暂时出了点问题，正在为您转接人工客服。",
        "en": "Sorry, our assistant is having trouble right now. I'm passing you to a person.",
    },
    "bot_unavailable_queued": {
        "zh": "抱歉，我暂时无法回答这个问题，人工客服会尽快为您处理。",
        "en": "Sorry, I can't answer that right now; a person will be with you soon.",
    },
    "queued": {
        "zh": "已为您转接人工客服，您现在排在第 {position} 位，预计等待约 {minutes} 分钟。"
        "等待期间您仍可以继续问我简单的问题。",
        "en": "You're in the queue for a person: number {position}, expected wait "
        "about {minutes} min. You can keep asking me simple questions meanwhile.",
    },
    "cancel_button": {"zh": "取消人工服务", "en": "Cancel the request"},
    "cancelled": {
        "zh": "已取消人工客服排队，有问题随时问我。",
        "en": "Your request for a person is cancelled. Ask me anything meanwhile.",
    },
    "nothing_to_cancel": {
        "zh": "您当前没有在排队等待人工客服。",
        "en": "You are not waiting for a person at the moment.",
    },
    "offline": {
        "zh": "现在不在人工客服服务时间（每天 {hours}，北京时间）。请直接留言描述您的问题，"
        "我们上班后会第一时间联系您。",
        "en": "Our agents are offline now (they work {hours}, UTC+8). Please leave a "
        "message describing your problem and we will contact you first thing.",
    },
    "ticket_received": {
        "zh": "已收到您的留言（工单号 {ticket}），我们上班后会尽快联系您。",
        "en": "Thanks, we have your message (ticket {ticket}) and will get back to you "
        "when we open.",
    },
    "agent_joined": {
        "zh": "人工客服 {name} 已接入，正在为您服务。",
        "en": "{name} from customer service has joined the conversation.",
    },
    "transferred": {
        "zh": "已为您转接给人工客服 {name}。",
        "en": "You have been transferred to {name}.",
    },
    "resolved": {
        "zh": "本次人工服务已结束，感谢您的耐心。如还有问题，可以继续问我。",
        "en": "This conversation with our agent has ended. Thanks for your patience. "
        "I'm here if you have more questions.",
    },
}


def say(key: str, language: str | None, **values: Any) -> str:
    """Return a gateway text in the customer's language (Chinese by default).

    Args:
        key: Text name.
        language: ``"zh"`` or ``"en"``.
        **values: Placeholders.

    Returns:
        The formatted text.
    """
    variants = _TEXTS[key]
    return variants.get(language or "zh", variants["zh"]).format(**values)
